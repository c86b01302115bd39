"""Figure plumbing shared by the plot modules: new figures, saving, array conversion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

__all__ = ["as_2d_array", "new_figure", "save_figure"]


def as_2d_array(a: torch.Tensor | np.ndarray) -> np.ndarray:
    """A tensor or array as a float64 numpy array on the CPU (for imshow and plot)."""
    arr = a.detach().to("cpu", torch.float64).numpy() if isinstance(a, torch.Tensor) else a
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"spectrum: expected a 2-D (H, W) map, got shape {arr.shape}")
    return arr


def save_figure(fig: Figure, path: str | Path, *, dpi: int = 110) -> Path:
    """Save ``fig`` as PNG (Agg, no display needed) and return the path."""
    p = Path(path)
    fig.savefig(p, dpi=dpi, format="png")
    return p


def new_figure(
    nrows: int = 1, ncols: int = 1, *, size: tuple[float, float] = (4.5, 3.5)
) -> tuple[Figure, np.ndarray]:
    """A constrained-layout :class:`Figure` and its ``(nrows, ncols)`` array of axes.

    ``size`` is the size of one panel in inches.
    """
    fig = Figure(figsize=(size[0] * ncols, size[1] * nrows), layout="constrained")
    return fig, np.atleast_2d(fig.subplots(nrows, ncols, squeeze=False))
