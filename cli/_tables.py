"""Column headers of the tables that a command and `spectral report` both print."""

from __future__ import annotations

from spectral.analysis import FILTER_COLUMNS

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
