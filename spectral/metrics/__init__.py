"""Classification, attack and calibration metrics."""

from __future__ import annotations

from spectral._internal.batching import auto_batch_size, available_memory
from spectral.metrics.attack import (
    attack_success_rate,
    l2_dissimilarity,
    robust_accuracy,
    targeted_success_rates,
)
from spectral.metrics.calibration import (
    calibration_bins,
    calibration_intervals,
    calibration_metrics,
)
from spectral.metrics.classification import accuracy, predict
from spectral.metrics.uncertainty import (
    Interval,
    bootstrap_interval,
    bootstrap_statistic,
    format_interval,
    paired_difference,
    proportion_interval,
    wilson_interval,
)

__all__ = [
    "Interval",
    "accuracy",
    "attack_success_rate",
    "auto_batch_size",
    "available_memory",
    "bootstrap_interval",
    "bootstrap_statistic",
    "calibration_bins",
    "calibration_intervals",
    "calibration_metrics",
    "format_interval",
    "l2_dissimilarity",
    "paired_difference",
    "predict",
    "proportion_interval",
    "robust_accuracy",
    "targeted_success_rates",
    "wilson_interval",
]
