"""Composite analyses, each a function returning a frozen dataclass with ``to_dict()``."""

from __future__ import annotations

from spectral.analysis.attack import AttackAnalysis, attack_analysis
from spectral.analysis.attribution import input_gradients, integrated_gradients
from spectral.analysis.band_attack import (
    DEFAULT_ATTACK_BANDS,
    BandAttackAnalysis,
    band_attack_analysis,
    band_label,
)
from spectral.analysis.baselines import (
    DatasetSpectrum,
    NoiseBaseline,
    PhotoSpectra,
    dataset_spectrum,
    noise_baseline,
    photo_spectra,
)
from spectral.analysis.calibration import (
    CALIBRATION_COLUMNS,
    CalibrationAnalysis,
    calibration_analysis,
)
from spectral.analysis.detection import (
    DETECTION_COLUMNS,
    DetectionAnalysis,
    detection_analysis,
    detection_scores,
)
from spectral.analysis.detection_adaptive import detector_aware_pgd
from spectral.analysis.features import FeatureSpectra, feature_spectra
from spectral.analysis.filtered import DEFAULT_RADII, FilteredAccuracy, filtered_accuracy
from spectral.analysis.filters import (
    FILTER_COLUMNS,
    FilterAnalysis,
    filter_analysis,
    filter_metrics,
    has_3x3_conv,
    kernel_frequencies,
    kernel_spectra,
    layer_filter_metrics,
    skipped_convs,
)
from spectral.analysis.gradient_stats import edge_correlation, mean_frequency
from spectral.analysis.gradients import (
    GRADIENT_COLUMNS,
    GradientAnalysis,
    GradientSpectra,
    gradient_analysis,
    gradient_spectra,
)
from spectral.analysis.heatmap import fourier_basis, fourier_heatmap
from spectral.analysis.heatmap_subset import heatmap_cells, heatmap_pairs
from spectral.analysis.heatmap_summary import HeatmapAnalysis, heatmap_analysis, heatmap_bands
from spectral.analysis.papers import PaperClaim, PaperComparison, paper_comparison

__all__ = [
    "CALIBRATION_COLUMNS",
    "DEFAULT_ATTACK_BANDS",
    "DEFAULT_RADII",
    "DETECTION_COLUMNS",
    "FILTER_COLUMNS",
    "GRADIENT_COLUMNS",
    "AttackAnalysis",
    "BandAttackAnalysis",
    "CalibrationAnalysis",
    "DatasetSpectrum",
    "DetectionAnalysis",
    "FeatureSpectra",
    "FilterAnalysis",
    "FilteredAccuracy",
    "GradientAnalysis",
    "GradientSpectra",
    "HeatmapAnalysis",
    "NoiseBaseline",
    "PaperClaim",
    "PaperComparison",
    "PhotoSpectra",
    "attack_analysis",
    "band_attack_analysis",
    "band_label",
    "calibration_analysis",
    "dataset_spectrum",
    "detection_analysis",
    "detection_scores",
    "detector_aware_pgd",
    "edge_correlation",
    "feature_spectra",
    "filter_analysis",
    "filter_metrics",
    "filtered_accuracy",
    "fourier_basis",
    "fourier_heatmap",
    "gradient_analysis",
    "gradient_spectra",
    "has_3x3_conv",
    "heatmap_analysis",
    "heatmap_bands",
    "heatmap_cells",
    "heatmap_pairs",
    "input_gradients",
    "integrated_gradients",
    "kernel_frequencies",
    "kernel_spectra",
    "layer_filter_metrics",
    "mean_frequency",
    "noise_baseline",
    "paper_comparison",
    "photo_spectra",
    "skipped_convs",
]
