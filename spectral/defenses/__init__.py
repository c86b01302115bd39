"""Defenses: blur layers, their penalties, the BlurNet evaluation, the Fourier detector.

The blur layers are defined in :mod:`spectral.models.blur` (the zoo rebuilds blurred models
from them) and re-exported here.
"""

from __future__ import annotations

from spectral.defenses.blurnet import BlurEvaluation, blackbox_blur_table, defense_name
from spectral.defenses.detector import Detector
from spectral.defenses.detector_features import (
    DetectorFeature,
    default_detector_layers,
    detector_features,
    fourier_features,
    parse_feature,
)
from spectral.defenses.penalties import linf_penalty, tv_penalty
from spectral.defenses.whitebox import rp2_stickers, whitebox_blur_table
from spectral.models.blur import BlurLayer, blur2d, blur_kernel
from spectral.models.insert import InputBlur, blur_layers, insert_blur

__all__ = [
    "BlurEvaluation",
    "BlurLayer",
    "Detector",
    "DetectorFeature",
    "InputBlur",
    "blackbox_blur_table",
    "blur2d",
    "blur_kernel",
    "blur_layers",
    "default_detector_layers",
    "defense_name",
    "detector_features",
    "fourier_features",
    "insert_blur",
    "linf_penalty",
    "parse_feature",
    "rp2_stickers",
    "tv_penalty",
    "whitebox_blur_table",
]
