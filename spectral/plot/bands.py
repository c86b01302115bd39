"""Where in the spectrum a model breaks: filtered-accuracy curves and band-limited attacks."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from spectral.analysis.band_attack import BandAttackAnalysis
from spectral.analysis.filtered import FilteredAccuracy
from spectral.plot.base import legend_below, new_figure, set_suptitle, set_title

__all__ = ["bands_figure", "plot_band_attack", "plot_filtered_accuracy"]

_STYLE = {"lowpass": "-", "highpass": "--"}


def _ncols(labels: list[str], most: int) -> int:
    """Legend columns: ``most`` unless the labels are too long to sit side by side."""
    return most if sum(len(t) for t in labels[:most]) <= 56 else 1


def plot_filtered_accuracy(
    ax: Axes, result: FilteredAccuracy, *, kind: str = "ideal", title: str | None = None
) -> list[Any]:
    """Accuracy against the cutoff radius: low-pass solid, high-pass dashed, a colour per model.

    Args:
        ax: the axes to draw into.
        result: from :func:`spectral.analysis.filtered_accuracy`.
        kind: which filter kind's curves to draw (one of ``result.kinds``).
        title: axes title (default: the kind and boundary).

    Returns:
        The line artists, two per model (low-pass, high-pass).

    Raises:
        KeyError: ``kind`` is not among ``result.kinds``.

    Examples:
        >>> r = FilteredAccuracy((0.125, 0.25), ("ideal",), "strict", 10, (32, 32),
        ...                      {"a": 0.9}, {"a": {"lowpass": {"ideal": [0.3, 0.8]},
        ...                                         "highpass": {"ideal": [0.5, 0.1]}}})
        >>> fig, axes = new_figure()
        >>> lines = plot_filtered_accuracy(axes[0, 0], r)
        >>> len(lines), lines[1].get_ydata().tolist()  # in percent
        (2, [50.0, 10.0])
    """
    if kind not in result.kinds:
        raise KeyError(f"kind: {kind!r} not in {list(result.kinds)}")
    x = np.asarray(result.radii_pixels())
    lines = []
    for i, (name, per_pass) in enumerate(result.accuracy.items()):
        colour = f"C{i}"
        for p in ("lowpass", "highpass"):
            acc = 100.0 * np.asarray(per_pass[p][kind])
            (line,) = ax.plot(
                x, acc, _STYLE[p], color=colour, marker="o", ms=3, label=f"{name}: {p}"
            )
            lines.append(line)
    side = min(result.image_size)
    ax.set_xlabel(f"cutoff radius R (pixels of the {side}-px spectrum)")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(True, alpha=0.3)
    legend_below(ax, _ncols([str(ln.get_label()) for ln in lines], 2))
    boundary = f", {result.boundary} mask" if kind == "ideal" else ""
    set_title(ax, title or f"{kind} filter{boundary} (n = {result.n_images})")
    return lines


def plot_band_attack(
    ax: Axes, result: BandAttackAnalysis, *, eps_index: int = -1, title: str | None = None
) -> list[Any]:
    """Grouped bars of robust accuracy per band, one bar per model, at one budget.

    Args:
        ax: the axes to draw into.
        result: from :func:`spectral.analysis.band_attack_analysis`.
        eps_index: which budget of ``result.eps``.
        title: axes title (default: the norm and budget).

    Returns:
        One bar container per model (``clean`` first, then the bands).

    Examples:
        >>> r = BandAttackAnalysis(("low", "high"), ((0, 0.1), (0.2, 1)), (8 / 255,), "Linf",
        ...                        10, 0.25, "none", 10, {"a": 0.9},
        ...                        {"a": {"low": [0.2], "high": [0.7]}}, {"a": {}})
        >>> fig, axes = new_figure()
        >>> bars = plot_band_attack(axes[0, 0], r)
        >>> [round(float(b.get_height()), 6) for b in bars[0]]
        [90.0, 20.0, 70.0]
    """
    groups = ["clean", *result.bands]
    x = np.arange(len(groups))
    n = max(len(result.robust_accuracy), 1)
    width = 0.8 / n
    bars = []
    for i, (name, per_band) in enumerate(result.robust_accuracy.items()):
        vals = [result.clean_accuracy[name], *(per_band[b][eps_index] for b in result.bands)]
        bars.append(
            ax.bar(x + (i - (n - 1) / 2) * width, 100.0 * np.asarray(vals), width, label=name)
        )
    ax.set_xticks(x, groups)
    ax.set_ylim(0, 100)
    ax.set_ylabel("accuracy (%)")
    ax.grid(True, axis="y", alpha=0.3)
    legend_below(ax, _ncols(list(result.robust_accuracy), n))
    eps = result.eps[eps_index]
    shown = f"{eps * 255:.3g}/255" if result.norm == "Linf" else f"{eps:.3g}"
    set_title(ax, title or f"band-limited PGD-{result.steps}, {result.norm} eps = {shown}")
    return bars


def bands_figure(
    filtered: FilteredAccuracy | None = None, attack: BandAttackAnalysis | None = None
) -> Figure:
    """Filtered-accuracy curves (a panel per filter kind) and band-attack bars (per budget).

    Args:
        filtered: from :func:`spectral.analysis.filtered_accuracy`, or None.
        attack: from :func:`spectral.analysis.band_attack_analysis`, or None.

    Returns:
        The figure (an empty panel saying so when both are None).

    Examples:
        >>> bands_figure().axes[0].texts[0].get_text()
        'nothing to show'
    """
    kinds = list(filtered.kinds) if filtered is not None else []
    budgets = list(range(len(attack.eps))) if attack is not None else []
    panels = len(kinds) + len(budgets)
    fig, axes = new_figure(1, max(panels, 1), size=(4.6, 3.8))
    if panels == 0:
        axes[0, 0].text(0.5, 0.5, "nothing to show", ha="center", va="center")
        axes[0, 0].set_axis_off()
        return fig
    if filtered is not None:
        for j, kind in enumerate(kinds):
            plot_filtered_accuracy(axes[0, j], filtered, kind=kind)
    if attack is not None:
        for j, e in enumerate(budgets):
            plot_band_attack(axes[0, len(kinds) + j], attack, eps_index=e)
    set_suptitle(fig, "where in the spectrum the models break")
    return fig
