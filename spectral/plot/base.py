"""Figure plumbing shared by the plot modules: new figures, saving, array conversion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

__all__ = ["as_2d_array", "new_figure", "save_figure"]


def as_2d_array(a: torch.Tensor | np.ndarray) -> np.ndarray:
    """A tensor or array as a float64 numpy array on the CPU (for imshow and plot).

    Args:
        a: a 2-D map: a tensor (detached and moved to the CPU) or anything
            :func:`numpy.asarray` accepts.

    Returns:
        The map as a float64 :class:`numpy.ndarray`.

    Raises:
        ValueError: the map is not 2-D (a plain ``ValueError``, not a spectral error).

    Shape:
        - a: :math:`(H, W)`
        - Output: :math:`(H, W)`

    Examples:
        >>> arr = as_2d_array(torch.ones(2, 3, dtype=torch.float16))
        >>> arr.dtype, arr.shape
        (dtype('float64'), (2, 3))
        >>> as_2d_array(torch.ones(1, 2, 3))
        Traceback (most recent call last):
            ...
        ValueError: spectrum: expected a 2-D (H, W) map, got shape (1, 2, 3)
    """
    arr = a.detach().to("cpu", torch.float64).numpy() if isinstance(a, torch.Tensor) else a
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"spectrum: expected a 2-D (H, W) map, got shape {arr.shape}")
    return arr


def save_figure(fig: Figure, path: str | Path, *, dpi: int = 110) -> Path:
    """Save ``fig`` as PNG (Agg, no display needed) and return the path.

    Args:
        fig: the figure, e.g. from :func:`new_figure`.
        path: where to write the PNG (any suffix; the format is always PNG).
        dpi: resolution in dots per inch.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Examples:
        >>> import os
        >>> fig, axes = new_figure()
        >>> save_figure(fig, os.devnull) == Path(os.devnull)  # rendered, nothing kept
        True
    """
    p = Path(path)
    fig.savefig(p, dpi=dpi, format="png")
    return p


def new_figure(
    nrows: int = 1, ncols: int = 1, *, size: tuple[float, float] = (4.5, 3.5)
) -> tuple[Figure, np.ndarray]:
    """A constrained-layout :class:`Figure` and its ``(nrows, ncols)`` array of axes.

    ``size`` is the size of one panel in inches.

    Args:
        nrows: rows of panels.
        ncols: columns of panels.
        size: ``(width, height)`` of one panel in inches.

    Returns:
        ``(figure, axes)`` with ``axes`` always a 2-D object array, also for one panel.

    Examples:
        >>> fig, axes = new_figure(2, 3, size=(2.0, 1.5))
        >>> axes.shape, len(fig.axes), fig.get_size_inches().tolist()
        ((2, 3), 6, [6.0, 3.0])
    """
    fig = Figure(figsize=(size[0] * ncols, size[1] * nrows), layout="constrained")
    return fig, np.atleast_2d(fig.subplots(nrows, ncols, squeeze=False))
