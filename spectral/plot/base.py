"""Figure plumbing shared by the plot modules: new figures, saving, array conversion."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib import rcParams
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextToPath
from matplotlib.transforms import offset_copy

__all__ = [
    "FIGURE_FORMATS",
    "as_2d_array",
    "legend_below",
    "new_figure",
    "save_figure",
    "set_suptitle",
    "set_title",
    "wrap_text",
]

#: Formats :func:`save_figure` writes: PNG (raster, ``dpi``), PDF and SVG (vector).
FIGURE_FORMATS = ("png", "pdf", "svg")


def legend_below(ax: Axes, ncols: int, handles: Sequence[Any] | None = None) -> Any:
    """A frameless one-row legend centred below ``ax`` (under its x label), off the data.

    Args:
        ax: the axes whose artists (or ``handles``) the legend lists.
        ncols: legend columns (the number of entries, for one row).
        handles: legend handles; ``None`` takes the labelled artists of ``ax``.

    Returns:
        The :class:`~matplotlib.legend.Legend`.

    Examples:
        >>> fig, axes = new_figure()
        >>> _ = axes[0, 0].plot([0, 1], label="a")
        >>> leg = legend_below(axes[0, 0], 1)
        >>> [t.get_text() for t in leg.get_texts()], leg.get_frame_on()
        (['a'], False)
    """
    below = offset_copy(ax.transAxes, fig=ax.get_figure(root=True), y=-36, units="points")
    kwargs: dict[str, Any] = {} if handles is None else {"handles": list(handles)}
    return ax.legend(
        **kwargs,
        fontsize="small",
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        bbox_transform=below,
        ncols=ncols,
        frameon=False,
    )


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


def save_figure(
    fig: Figure,
    path: str | Path,
    *,
    dpi: int = 200,
    formats: Sequence[str] | None = None,
) -> Path:
    """Save ``fig`` (Agg, no display needed) as PNG, or once per format, and return a path.

    Args:
        fig: the figure, e.g. from :func:`new_figure`.
        path: where to write. Without ``formats`` the file is written there as PNG
            (whatever its suffix); with ``formats`` the suffix is replaced by each
            format's: ``figs/x.png`` with ``("png", "pdf")`` writes ``figs/x.png`` and
            ``figs/x.pdf``.
        dpi: resolution in dots per inch of the PNG (PDF and SVG are vector; images
            drawn with ``imshow`` keep their pixels).
        formats: any of :data:`FIGURE_FORMATS`, in the order to write them.

    Returns:
        The path written first (``path`` itself without ``formats``).

    Raises:
        ValueError: an unknown or no format (a plain ``ValueError``, not a spectral
            error).

    Examples:
        >>> import os, tempfile
        >>> fig, axes = new_figure()
        >>> save_figure(fig, os.devnull) == Path(os.devnull)  # rendered, nothing kept
        True
        >>> with tempfile.TemporaryDirectory() as d:
        ...     first = save_figure(fig, Path(d) / "f.png", formats=("pdf", "svg"))
        ...     first.name, sorted(p.name for p in Path(d).iterdir())
        ('f.pdf', ['f.pdf', 'f.svg'])
        >>> save_figure(fig, os.devnull, formats=("jpg",))
        Traceback (most recent call last):
            ...
        ValueError: formats: expected some of png, pdf, svg, got ('jpg',)
    """
    p = Path(path)
    if formats is None:
        fig.savefig(p, dpi=dpi, format="png")
        return p
    fmts = tuple(formats)
    if not fmts or any(f not in FIGURE_FORMATS for f in fmts):
        raise ValueError(f"formats: expected some of {', '.join(FIGURE_FORMATS)}, got {fmts}")
    written = []
    for f in dict.fromkeys(fmts):  # each format once, in the order given
        target = p.with_suffix(f".{f}")
        fig.savefig(target, dpi=dpi, format=f)
        written.append(target)
    return written[0]


def wrap_text(text: str, width: float, *, fontsize: Any = None) -> str:
    """Break ``text`` at spaces so that no line is wider than ``width`` inches.

    Widths are measured with the font (not counted in characters); a word wider than
    ``width`` stays whole on its own line, and existing line breaks are kept.

    Args:
        text: the text.
        width: the widest a line may be, in inches.
        fontsize: a size in points or a name such as ``"large"`` (default: the
            ``font.size`` setting).

    Returns:
        The text with line breaks.

    Examples:
        >>> print(wrap_text("Radial power, builtin:standard (mean over images)", 2.5))
        Radial power, builtin:standard
        (mean over images)
        >>> wrap_text("short", 2.5)
        'short'
    """
    props = FontProperties(size=fontsize if fontsize is not None else rcParams["font.size"])
    measure = TextToPath()

    def fits(line: str) -> bool:
        w, _, _ = measure.get_text_width_height_descent(line, props, ismath=False)
        return bool(w <= width * 72.0)

    out = []
    for para in text.split("\n"):
        lines: list[str] = []
        for word in para.split(" "):
            if lines and fits(f"{lines[-1]} {word}"):
                lines[-1] = f"{lines[-1]} {word}"
            else:
                lines.append(word)
        out.append("\n".join(lines))
    return "\n".join(out)


def set_title(ax: Axes, title: str, **kwargs: Any) -> Any:
    """``ax.set_title``, wrapped to the width of the axes so it is never clipped.

    Args:
        ax: the axes.
        title: the title.
        **kwargs: passed to :meth:`matplotlib.axes.Axes.set_title` (e.g. ``fontsize``).

    Returns:
        The title's :class:`matplotlib.text.Text`.

    Examples:
        >>> fig, axes = new_figure(size=(2.0, 2.0))
        >>> print(set_title(axes[0, 0], "a title too long for a small panel").get_text())
        a title too long for
        a small panel
    """
    size = kwargs.get("fontsize", rcParams["axes.titlesize"])
    width = ax.get_position().width * _width_inches(ax.get_figure())
    return ax.set_title(wrap_text(title, max(width, 1.0), fontsize=size), **kwargs)


def set_suptitle(fig: Figure | SubFigure, title: str, **kwargs: Any) -> Any:
    """``fig.suptitle``, wrapped to the figure's width so it is never clipped.

    Args:
        fig: the figure (or subfigure).
        title: the title.
        **kwargs: passed to :meth:`matplotlib.figure.Figure.suptitle`.

    Returns:
        The title's :class:`matplotlib.text.Text`.

    Examples:
        >>> fig, _ = new_figure(size=(3.0, 2.0))
        >>> print(set_suptitle(fig, "a figure title much too long for three inches").get_text())
        a figure title much too long for
        three inches
    """
    size = kwargs.get("fontsize", rcParams["figure.titlesize"])
    width = 0.95 * _width_inches(fig)
    return fig.suptitle(wrap_text(title, width, fontsize=size), **kwargs)


def _width_inches(fig: Any) -> float:
    """Width of a figure or subfigure in inches."""
    return float(fig.bbox.width / fig.figure.dpi)


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
