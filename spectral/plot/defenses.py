"""Blur-defense figures: accuracy and attack success per defense."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from spectral.plot.base import new_figure

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

    Args:
        ax: the axes to draw into.
        rows: table rows (e.g. from :func:`spectral.defense.blackbox_blur_table`).
        metrics: row keys to draw (fractions in [0, 1], shown in percent).
        label_key: row key used as the group label.
        title: axes title.

    Returns:
        One :class:`matplotlib.container.BarContainer` per metric.
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
    ax.legend(fontsize="small", loc="lower right")
    if title:
        ax.set_title(title)
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
