"""Calibration figures: reliability diagrams and confidence histograms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from spectral.plot.base import legend_below, new_figure, set_title

__all__ = ["calibration_figure", "plot_confidence_histogram", "plot_reliability"]


def plot_reliability(
    ax: Axes,
    bins: Mapping[str, Sequence[Mapping[str, float]]],
    *,
    title: str | None = None,
    min_count: int = 5,
) -> list[Any]:
    """Reliability diagram: accuracy against mean confidence per bin, with the diagonal.

    Each non-empty bin is annotated with its image count. Bins with fewer than
    ``min_count`` images are drawn as hollow, faded markers with faded counts: their
    accuracy rests on one or two images.

    Args:
        ax: the axes to draw into.
        bins: label -> :func:`spectral.robustness.calibration_bins` rows.
        title: axes title.
        min_count: bins with fewer images are de-emphasised.

    Returns:
        One line per label (empty bins left out).

    Examples:
        >>> from spectral.plot import new_figure
        >>> rows = [
        ...     {"confidence": 0.3, "accuracy": 0.2, "count": 4},
        ...     {"confidence": 0.5, "accuracy": 0.5, "count": 0},  # empty: not drawn
        ...     {"confidence": 0.9, "accuracy": 0.8, "count": 6},
        ... ]
        >>> fig, axes = new_figure()
        >>> lines = plot_reliability(axes[0, 0], {"net": rows})
        >>> len(lines), lines[0].get_xdata().tolist()
        (1, [0.3, 0.9])
        >>> len(axes[0, 0].lines)  # + the diagonal and the hollow marker of the 4-image bin
        3
        >>> [(t.get_text(), t.get_alpha()) for t in axes[0, 0].texts]  # 4 < min_count: faded
        [('4', 0.45), ('6', None)]
    """
    ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1)
    lines = []
    for k, (label, rows) in enumerate(bins.items()):
        filled = [r for r in rows if r["count"]]
        xs = [float(r["confidence"]) for r in filled]
        ys = [float(r["accuracy"]) for r in filled]
        (line,) = ax.plot(xs, ys, marker="o", label=label, color=f"C{k}", zorder=2)
        lines.append(line)
        colour = line.get_color()
        few = [int(r["count"]) < min_count for r in filled]
        if any(few):  # hollow, faded markers over the filled ones
            ax.plot(
                [x for x, f in zip(xs, few, strict=True) if f],
                [y for y, f in zip(ys, few, strict=True) if f],
                linestyle="none",
                marker="o",
                markerfacecolor="white",
                markeredgecolor=colour,
                alpha=0.6,
                zorder=3,
            )
        above = k % 2 == 0  # alternate sides so two labels' counts do not collide
        for x, y, r, f in zip(xs, ys, filled, few, strict=True):
            ax.annotate(
                str(int(r["count"])),
                (x, y),
                xytext=(0, 5 if above else -5),
                textcoords="offset points",
                ha="center",
                va="bottom" if above else "top",
                fontsize="x-small",
                color=colour,
                alpha=0.45 if f else None,
            )
    handles: list[Any] = list(lines)
    if any(int(r["count"]) < min_count for rows in bins.values() for r in rows if r["count"]):
        handles.append(  # a legend entry only, not drawn in the axes
            Line2D(
                [],
                [],
                linestyle="none",
                marker="o",
                markerfacecolor="white",
                markeredgecolor="0.4",
                label=f"< {min_count} images",
            )
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.08, 1.08)  # room for the counts of bins at accuracy 0 and 1
    ax.set_xlabel("confidence (numbers: images per bin)")
    ax.set_ylabel("accuracy")
    # below the x label, off the data (constrained layout makes room for it)
    legend_below(ax, len(handles), handles)
    if title:
        set_title(ax, title)
    return lines


def plot_confidence_histogram(
    ax: Axes,
    confidences: Mapping[str, torch.Tensor],
    *,
    n_bins: int = 15,
    title: str | None = None,
) -> list[Any]:
    """Histograms of the top-class confidence, one step line per label.

    Args:
        ax: the axes to draw into.
        confidences: label -> top-class probabilities in ``[0, 1]`` (e.g.
            ``CalibrationAnalysis.confidences[model][kind]``).
        n_bins: equal-width bins over ``[0, 1]``.
        title: axes title.

    Returns:
        Per label, the patches :meth:`matplotlib.axes.Axes.hist` drew (one step outline).

    Shape:
        - ``confidences[label]``: :math:`(N,)`

    Examples:
        >>> from spectral.plot import new_figure
        >>> fig, axes = new_figure()
        >>> conf = {"clean": torch.tensor([0.55, 0.9, 0.95]), "adv": torch.tensor([0.6, 0.7])}
        >>> out = plot_confidence_histogram(axes[0, 0], conf, n_bins=10, title="confidence")
        >>> len(out), len(axes[0, 0].patches), axes[0, 0].get_title()
        (2, 2, 'confidence')
    """
    edges = np.linspace(0, 1, n_bins + 1).tolist()
    out = []
    for label, c in confidences.items():
        _, _, patches = ax.hist(
            np.asarray(c.detach().cpu(), dtype=np.float64),
            bins=edges,
            histtype="step",
            linewidth=1.5,
            label=label,
        )
        out.append(patches)
    ax.set_xlabel("confidence")
    ax.set_ylabel("images")
    ax.legend(fontsize="small")
    if title:
        set_title(ax, title)
    return out


def calibration_figure(analysis: Any) -> Figure:
    """Reliability diagrams (top row) and confidence histograms (bottom), one column per model.

    Args:
        analysis: a :class:`spectral.analysis.CalibrationAnalysis`.

    Returns:
        The figure.

    Examples:
        >>> from spectral.analysis import calibration_analysis
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
        >>> x, y = torch.rand(8, 3, 2, 2), torch.arange(8) % 3
        >>> a = calibration_analysis({"net": net}, x, y, {"net": x}, attack="none", eps=0.0)
        >>> [ax.get_title() for ax in calibration_figure(a).axes]
        ['net: reliability', 'net: confidence']
    """
    fig, axes = new_figure(2, len(analysis.metrics), size=(4.4, 3.6))
    for j, name in enumerate(analysis.metrics):
        plot_reliability(axes[0, j], analysis.bins[name], title=f"{name}: reliability")
        plot_confidence_histogram(
            axes[1, j],
            analysis.confidences[name],
            n_bins=analysis.n_bins,
            title=f"{name}: confidence",
        )
    return fig
