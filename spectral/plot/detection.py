"""Fourier-detector figures: ROC curves per attack and feature."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from spectral.plot.base import legend_below, new_figure, set_title

__all__ = ["detection_figure", "plot_roc"]


def plot_roc(
    ax: Axes,
    curves: Mapping[str, Mapping[str, Sequence[float]]],
    *,
    aucs: Mapping[str, float] | None = None,
    title: str | None = None,
) -> list[Any]:
    """ROC curves (true-positive rate against false-positive rate) and the chance line.

    Args:
        ax: the axes to draw into.
        curves: ``{label: {"fpr": [...], "tpr": [...]}}``.
        aucs: ``{label: AUC}`` shown in the legend.
        title: axes title.

    Returns:
        One :class:`~matplotlib.lines.Line2D` per curve (the chance line excluded).

    Examples:
        >>> fig, axes = new_figure()
        >>> lines = plot_roc(axes[0, 0], {"pgd": {"fpr": [0, 0, 1], "tpr": [0, 1, 1]}},
        ...                  aucs={"pgd": 1.0})
        >>> len(lines), lines[0].get_label()
        (1, 'pgd (AUC 1.000)')
    """
    ax.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls="--")
    lines = []
    for label, c in curves.items():
        auc = None if aucs is None else aucs.get(label)
        name = label if auc is None else f"{label} (AUC {auc:.3f})"
        (line,) = ax.plot(c["fpr"], c["tpr"], lw=1.4, label=name, drawstyle="steps-post")
        lines.append(line)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false-positive rate (clean flagged)")
    ax.set_ylabel("true-positive rate")
    ax.set_aspect("equal")
    ax.grid(True, alpha=0.3)
    if lines:
        legend_below(ax, 1)
    if title:
        set_title(ax, title)
    return lines


def detection_figure(
    roc: Mapping[str, Mapping[str, Sequence[float]]],
    results: Sequence[Mapping[str, Any]],
) -> Figure:
    """One ROC panel per detector feature, one curve per attack (held-out images).

    Args:
        roc: ``{"attack/feature": {"fpr", "tpr"}}`` (``DetectionAnalysis.roc``).
        results: rows with ``attack``, ``feature`` and ``auc``
            (``DetectionAnalysis.results``).

    Returns:
        The figure.

    Examples:
        >>> curve = {"fpr": [0, 1], "tpr": [0, 1]}
        >>> rows = [{"attack": "pgd", "feature": f, "auc": 0.5} for f in ("InputMFS", "LayerMFS")]
        >>> fig = detection_figure({"pgd/InputMFS": curve, "pgd/LayerMFS": curve}, rows)
        >>> [ax.get_title() for ax in fig.axes]
        ['InputMFS', 'LayerMFS']
    """
    features = list(dict.fromkeys(str(r["feature"]) for r in results))
    fig, axes = new_figure(1, max(1, len(features)), size=(3.2, 4.4))
    for k, feature in enumerate(features):
        curves, aucs = {}, {}
        for r in results:
            key = f"{r['attack']}/{feature}"
            if r["feature"] == feature and key in roc:
                curves[str(r["attack"])] = roc[key]
                aucs[str(r["attack"])] = float(r["auc"])
        plot_roc(axes[0, k], curves, aucs=aucs, title=feature)
    return fig
