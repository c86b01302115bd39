"""Classification, attack and calibration metrics."""

from __future__ import annotations

from spectral.metrics.attack import (
    attack_success_rate,
    l2_dissimilarity,
    robust_accuracy,
    targeted_success_rates,
)
from spectral.metrics.calibration import calibration_bins, calibration_metrics
from spectral.metrics.classification import accuracy, predict

__all__ = [
    "accuracy",
    "attack_success_rate",
    "calibration_bins",
    "calibration_metrics",
    "l2_dissimilarity",
    "predict",
    "robust_accuracy",
    "targeted_success_rates",
]
