"""Composite analyses, each a function returning a frozen dataclass with ``to_dict()``."""

from __future__ import annotations

from spectral.analysis.attack import AttackAnalysis, attack_analysis
from spectral.analysis.attribution import input_gradients, integrated_gradients
from spectral.analysis.features import FeatureSpectra, feature_spectra
from spectral.analysis.filters import filter_metrics, layer_filter_metrics
from spectral.analysis.gradients import (
    GradientSpectra,
    edge_correlation,
    gradient_spectra,
    mean_frequency,
)
from spectral.analysis.heatmap import fourier_basis, fourier_heatmap, heatmap_bands
from spectral.analysis.papers import PaperClaim, PaperComparison, paper_comparison

__all__ = [
    "AttackAnalysis",
    "FeatureSpectra",
    "GradientSpectra",
    "PaperClaim",
    "PaperComparison",
    "attack_analysis",
    "edge_correlation",
    "feature_spectra",
    "filter_metrics",
    "fourier_basis",
    "fourier_heatmap",
    "gradient_spectra",
    "heatmap_bands",
    "input_gradients",
    "integrated_gradients",
    "layer_filter_metrics",
    "mean_frequency",
    "paper_comparison",
]
