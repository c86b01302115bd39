"""Column headers of the tables that a command and `spectral report` both print."""

from __future__ import annotations

from typing import Any

from spectral.analysis import CALIBRATION_COLUMNS, FILTER_COLUMNS

CALIBRATION_HEADER = [
    "model",
    "data",
    "accuracy",
    "ECE",
    "over-confidence",
    "under-confidence",
    "mean confidence",
]
FILTER_HEADER = ["model", "layer", "n", *(m.replace("_", " ") for m in FILTER_COLUMNS)]
GRADIENT_HEADER = ["model", "map", "low", "mid", "high", "slope", "mean freq.", "edge corr."]
HEATMAP_HEADER = ["model", "clean error", "mean error", "low", "mid", "high"]


def ci_cell(
    d: dict[str, Any] | None,
    value: float | None = None,
    *,
    percent: bool = False,
    signed: bool = False,
) -> str:
    """``"0.123 [0.101, 0.145]"`` (or ``"87.4% [84.1, 90.0]"``) from an interval's dict.

    Just ``value`` when there is no interval (``d`` is ``None``); ``signed`` shows the
    sign of every number (for differences, ``"+1.2% [-0.4, +2.9]"``).
    """
    sign = "+" if signed else ""
    if d is None:
        v = float("nan") if value is None else value
        return f"{100 * v:{sign}.1f}%" if percent else f"{v:{sign}.3f}"
    lo, hi = d["ci95"]
    if percent:
        return f"{100 * d['estimate']:{sign}.1f}% [{100 * lo:{sign}.1f}, {100 * hi:{sign}.1f}]"
    return f"{d['estimate']:{sign}.3f} [{lo:{sign}.3f}, {hi:{sign}.3f}]"


def calibration_rows(models: dict[str, Any]) -> list[list[Any]]:
    """Rows under :data:`CALIBRATION_HEADER` from a calibration ``to_dict()["models"]``.

    Each number comes with its 95% interval (the accuracy in %).
    """
    return [
        [
            name,
            kind,
            *(
                ci_cell(m.get("intervals", {}).get(c), m[c], percent=c == "accuracy")
                for c in CALIBRATION_COLUMNS
            ),
        ]
        for name, per in models.items()
        for kind, m in per.items()
    ]
