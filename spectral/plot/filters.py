"""Figures of first-layer 3x3 filters: metric bars and filter grids."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from spectral.analysis.filters import kernel_frequencies, kernel_spectra
from spectral.plot.base import new_figure, set_title

__all__ = ["filter_figure", "plot_filter_grid", "plot_filter_metric", "plot_kernel_spectrum"]


def plot_filter_metric(
    ax: Axes,
    models: Mapping[str, Sequence[Mapping[str, Any]]],
    metric: str,
    *,
    title: str | None = None,
) -> list[Any]:
    """One line per model: ``metric`` of each 3x3 conv layer, in depth order.

    Args:
        ax: the axes to draw into.
        models: label -> rows of :func:`spectral.filter_metrics`.
        metric: a row key such as ``"variance_entropy_normalized"`` or ``"orthogonality"``.
        title: axes title (default: the metric).

    Returns:
        The drawn lines.

    Examples:
        >>> from spectral.analysis import filter_metrics
        >>> from spectral.plot import new_figure
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Conv2d(4, 4, 3))
        >>> fig, axes = new_figure()
        >>> lines = plot_filter_metric(axes[0, 0], {"net": filter_metrics(net)}, "orthogonality")
        >>> len(lines), lines[0].get_xdata().tolist(), axes[0, 0].get_title()
        (1, [1, 2], 'orthogonality')
    """
    lines = []
    for label, rows in models.items():
        y = [float(r[metric]) for r in rows]
        (line,) = ax.plot(range(1, len(y) + 1), y, marker="o", label=label)
        lines.append(line)
    ax.set_xlabel("3x3 conv layer (depth)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if metric.startswith("sparsity"):  # a fraction, mostly 0: a [0, 1] axis keeps it honest
        ax.set_ylim(-0.03, 1.03)
    set_title(ax, title or metric.replace("_", " "))
    ax.grid(True, alpha=0.3)
    if lines:
        ax.legend(fontsize="small")
    return lines


def plot_filter_grid(
    ax: Axes, weight: torch.Tensor, *, max_filters: int = 64, title: str | None = None
) -> Any:
    """First-layer filters as a mosaic: one ``k x k`` tile per output channel.

    RGB (3 input channels) tiles are shown in colour, each tile min-max scaled on its
    own; other inputs show the mean over input channels in grey.

    Args:
        ax: the axes to draw into.
        weight: ``(c_out, c_in, k, k)`` conv weight.
        max_filters: at most this many tiles.
        title: axes title.

    Returns:
        The :class:`matplotlib.image.AxesImage`.

    Shape:
        - weight: :math:`(C_{out}, C_{in}, k_h, k_w)`, any kernel size (7x7 stems,
          16x16 patch embeddings)
        - Output: the mosaic, :math:`(r (k_h + 1) - 1, c (k_w + 1) - 1, 3)` in colour or
          :math:`(r (k_h + 1) - 1, c (k_w + 1) - 1)` in grey, for ``c = ceil(sqrt(n))``
          columns and ``r = ceil(n / c)`` rows of the ``n`` tiles drawn

    Examples:
        >>> from spectral.plot import new_figure
        >>> fig, axes = new_figure()
        >>> im = plot_filter_grid(axes[0, 0], torch.randn(4, 3, 3, 3))  # 2 x 2 RGB tiles
        >>> im.get_array().shape
        (7, 7, 3)
        >>> plot_filter_grid(axes[0, 0], torch.randn(8, 2, 3, 3), max_filters=3).get_array().shape
        (7, 7)
        >>> plot_filter_grid(axes[0, 0], torch.randn(2, 3, 16, 8)).get_array().shape
        (16, 17, 3)
    """
    w = weight.detach().cpu().double()[:max_filters]
    n, c_in, kh, kw = w.shape
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    colour = c_in == 3
    tiles = w if colour else w.mean(1, keepdim=True)
    lo = tiles.amin(dim=(1, 2, 3), keepdim=True)
    span = (tiles.amax(dim=(1, 2, 3), keepdim=True) - lo).clamp_min(1e-12)
    tiles = (tiles - lo) / span
    # mid-grey gaps: white would merge with each tile's brightest weight
    mosaic = np.full((rows * (kh + 1) - 1, cols * (kw + 1) - 1, 3 if colour else 1), 0.5)
    for i in range(n):
        r, c = divmod(i, cols)
        mosaic[r * (kh + 1) : r * (kh + 1) + kh, c * (kw + 1) : c * (kw + 1) + kw] = (
            tiles[i].permute(1, 2, 0).numpy()
        )
    im = ax.imshow(
        mosaic if colour else mosaic[..., 0],
        cmap=None if colour else "gray",
        interpolation="nearest",
    )
    ax.set_axis_off()
    if title:
        set_title(ax, title)
    return im


def plot_kernel_spectrum(
    ax: Axes, weight: torch.Tensor, *, size: int = 32, title: str | None = None
) -> Any:
    """Mean magnitude response of conv kernels of any size, axes in cycles/pixel.

    The mean over filters of :func:`spectral.analysis.kernel_spectra` (each kernel
    zero-padded to ``size x size``), drawn centred with DC in the middle.

    Args:
        ax: the axes to draw into.
        weight: ``(c_out, c_in, k_h, k_w)`` conv weight.
        size: FFT size (at least the kernel side).
        title: axes title.

    Returns:
        The :class:`matplotlib.image.AxesImage` (its array is ``(size, size)``).

    Raises:
        SpectralValueError: as :func:`spectral.analysis.kernel_spectra`.

    Shape:
        - weight: :math:`(C_{out}, C_{in}, k_h, k_w)`

    Examples:
        >>> from spectral.plot import new_figure
        >>> fig, axes = new_figure()
        >>> im = plot_kernel_spectrum(axes[0, 0], torch.randn(4, 3, 7, 7), size=16)
        >>> im.get_array().shape, axes[0, 0].get_xlabel()
        ((16, 16), 'cycles/pixel')
    """
    mean = kernel_spectra(weight, size=size).mean(dim=(0, 1)).cpu().numpy()
    freqs = kernel_frequencies(size)
    step = 1.0 / size
    lo, hi = float(freqs[0]) - step / 2, float(freqs[-1]) + step / 2
    im = ax.imshow(mean, cmap="magma", origin="lower", extent=(lo, hi, lo, hi))
    ax.set_xlabel("cycles/pixel")
    ax.set_ylabel("cycles/pixel")
    if title:
        set_title(ax, title)
    return im


def filter_figure(
    models: Mapping[str, Sequence[Mapping[str, Any]]],
    first_weights: Mapping[str, torch.Tensor],
) -> Figure:
    """Per-layer filter metrics, and each model's first-layer filters and their response.

    First layers of any kernel size are drawn (7x7 stems, ViT patch embeddings).

    Args:
        models: label -> rows of :func:`spectral.filter_metrics` (one line per label in
            each of the sparsity, variance-entropy and orthogonality panels).
        first_weights: label -> first-layer conv weight, drawn with
            :func:`plot_filter_grid` in the second row and :func:`plot_kernel_spectrum`
            (zero-padded to at least 32, and twice the kernel side) in the third.

    Returns:
        The figure: 3 rows of ``max(4, len(first_weights))`` panels.

    Shape:
        - ``first_weights[label]``: :math:`(C_{out}, C_{in}, k, k)`

    Examples:
        >>> from spectral.analysis import filter_analysis
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Conv2d(4, 4, 3))
        >>> a = filter_analysis({"net": net})
        >>> fig = filter_figure(a.layers, a.first_layer)
        >>> len(fig.axes), fig.axes[0].get_title(), fig.axes[4].get_title()
        (12, 'sparsity', 'net: first-layer filters')
        >>> fig.axes[8].get_title(), fig.axes[8].get_xlabel()
        ('net: first-layer response', 'cycles/pixel')
    """
    metrics = (
        "sparsity",
        "variance_entropy_normalized",
        "variance_entropy_normalized_nonsparse",
        "orthogonality",
    )
    n = len(first_weights)
    fig, axes = new_figure(3, max(4, n), size=(3.4, 3.0))
    for i, m in enumerate(metrics):
        plot_filter_metric(axes[0, i], models, m)
    for j in range(max(4, n)):
        axes[1, j].set_axis_off()
        axes[2, j].set_axis_off()
    for j, (label, w) in enumerate(first_weights.items()):
        plot_filter_grid(axes[1, j], w, title=f"{label}: first-layer filters")
        side = max(int(w.shape[-1]), int(w.shape[-2]))
        size = max(32, 1 << (2 * side - 1).bit_length())
        axes[2, j].set_axis_on()
        plot_kernel_spectrum(axes[2, j], w, size=size, title=f"{label}: first-layer response")
    return fig
