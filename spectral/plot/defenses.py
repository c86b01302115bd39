"""Blur-defense figures: accuracy and attack success per defense."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from spectral.plot.base import legend_below, new_figure, set_title

__all__ = ["blur_figure", "plot_defense_bars"]


def plot_defense_bars(
    ax: Axes,
    rows: Sequence[Mapping[str, Any]],
    *,
    metrics: Sequence[str] = ("accuracy", "attack_success_rate"),
    label_key: str = "defense",
    title: str | None = None,
) -> list[Any]:
    """Grouped horizontal bars: one group per table row (defense), one bar per metric.

    The legend sits below the axes, outside the data area.

    Args:
        ax: the axes to draw into.
        rows: table rows (e.g. from :func:`spectral.defense.blackbox_blur_table`).
        metrics: row keys to draw (fractions in [0, 1], shown in percent).
        label_key: row key used as the group label.
        title: axes title.

    Returns:
        One :class:`matplotlib.container.BarContainer` per metric.

    Examples:
        >>> from spectral.plot import new_figure
        >>> rows = [
        ...     {"defense": "none", "accuracy": 0.9, "attack_success_rate": 0.8},
        ...     {"defense": "blur", "accuracy": 0.85, "attack_success_rate": 0.3},
        ... ]
        >>> fig, axes = new_figure()
        >>> bars = plot_defense_bars(axes[0, 0], rows, title="demo")
        >>> len(bars), [len(b) for b in bars]  # 2 metrics, one bar per defense
        (2, [2, 2])
        >>> round(float(bars[0][1].get_width()), 6), axes[0, 0].get_title()  # in percent
        (85.0, 'demo')
    """
    n = max(len(metrics), 1)
    height = 0.8 / n
    y = np.arange(len(rows))
    bars = []
    for i, key in enumerate(metrics):
        vals = [100.0 * float(r[key]) for r in rows]
        bars.append(
            ax.barh(y + (i - (n - 1) / 2) * height, vals, height, label=key.replace("_", " "))
        )
    ax.set_yticks(y, [str(r[label_key]) for r in rows])
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("%")
    ax.grid(True, axis="x", alpha=0.3)
    # below the x label, never over a bar (constrained layout makes room for it)
    legend_below(ax, len(metrics))
    if title:
        set_title(ax, title)
    return bars


def blur_figure(
    blackbox: Sequence[Mapping[str, Any]], adaptive: Sequence[Mapping[str, Any]]
) -> Figure:
    """The blur tables side by side (figure 6): black-box, and adaptive through the blur.

    Args:
        blackbox: rows from :func:`spectral.defense.blackbox_blur_table` (first result).
        adaptive: its adaptive rows (second result).

    Returns:
        The figure.

    Examples:
        >>> row = {"defense": "blur", "accuracy": 0.8, "attack_success_rate": 0.4}
        >>> fig = blur_figure([row], [{**row, "adversarial_accuracy": 0.2}])
        >>> [ax.get_title() for ax in fig.axes]
        ['black-box (transferred)', 'adaptive (through the blur)']
    """
    fig, axes = new_figure(1, 2, size=(5.5, 0.5 * len(blackbox) + 1.8))
    plot_defense_bars(axes[0, 0], blackbox, title="black-box (transferred)")
    plot_defense_bars(
        axes[0, 1],
        adaptive,
        metrics=("accuracy", "adversarial_accuracy"),
        title="adaptive (through the blur)",
    )
    return fig
