"""spectral: frequency-domain analysis of adversarial robustness.

Tensors in, tensors and frozen dataclasses out. Images are real ``(B, C, H, W)``
float tensors; results stay on the input's device. Figures live in
:mod:`spectral.plot` (imported on demand, so ``import spectral`` does not load
matplotlib).

Examples:
    >>> import torch, spectral as sp
    >>> x = torch.rand(4, 3, 32, 32)
    >>> sp.magnitude_spectrum(x).shape
    torch.Size([4, 3, 32, 32])
"""

from __future__ import annotations

from typing import Any

from spectral.accumulate import SpectrumAccumulator
from spectral.blur import BlurLayer, insert_blur, linf_penalty, tv_penalty
from spectral.datasets import BUILTIN_CLASSES, ImageDataset, load_dataset
from spectral.errors import ImageReadError, SpectralError, SpectralTypeError, SpectralValueError
from spectral.features import FeatureSpectra, feature_maps, feature_spectra, layer_names
from spectral.fft import Backend, auto_order, available_backends, calibrate, set_auto_order
from spectral.gradients import (
    GradientSpectra,
    edge_correlation,
    gradient_spectra,
    input_gradients,
    integrated_gradients,
    mean_frequency,
)
from spectral.heatmap import fourier_basis, fourier_heatmap, heatmap_bands
from spectral.io import Alpha, read_image
from spectral.metrics import (
    accuracy,
    attack_success_rate,
    l2_dissimilarity,
    predict,
    robust_accuracy,
    targeted_success_rates,
)
from spectral.models import SmallCNN, list_models, load_model
from spectral.robustness import calibration_bins, calibration_metrics, filter_metrics
from spectral.spectra import (
    FilterKind,
    SpectrumComparison,
    SpectrumSummary,
    band_energy,
    channel_names,
    compare_spectra,
    frequency_radius,
    highpass,
    lowpass,
    magnitude_spectrum,
    phase_spectrum,
    power_spectrum,
    powerlaw_slope,
    radial_profile,
    spectrum_summary,
)

__version__ = "0.1.0"

# torchattacks takes seconds to import: the attack API loads on first use.
_LAZY = {"AttackName", "RP2", "TransferResult", "make_attack", "transfer_attack"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from spectral import attacks

        return getattr(attacks, name)
    raise AttributeError(f"module 'spectral' has no attribute {name!r}")


__all__ = [
    "BUILTIN_CLASSES",
    "RP2",
    "Alpha",
    "AttackName",
    "Backend",
    "BlurLayer",
    "FeatureSpectra",
    "FilterKind",
    "GradientSpectra",
    "ImageDataset",
    "ImageReadError",
    "SmallCNN",
    "SpectralError",
    "SpectralTypeError",
    "SpectralValueError",
    "SpectrumAccumulator",
    "SpectrumComparison",
    "SpectrumSummary",
    "TransferResult",
    "__version__",
    "accuracy",
    "attack_success_rate",
    "auto_order",
    "available_backends",
    "band_energy",
    "calibrate",
    "calibration_bins",
    "calibration_metrics",
    "channel_names",
    "compare_spectra",
    "edge_correlation",
    "feature_maps",
    "feature_spectra",
    "filter_metrics",
    "fourier_basis",
    "fourier_heatmap",
    "frequency_radius",
    "gradient_spectra",
    "heatmap_bands",
    "highpass",
    "input_gradients",
    "insert_blur",
    "integrated_gradients",
    "l2_dissimilarity",
    "layer_names",
    "linf_penalty",
    "list_models",
    "load_dataset",
    "load_model",
    "lowpass",
    "magnitude_spectrum",
    "make_attack",
    "mean_frequency",
    "phase_spectrum",
    "power_spectrum",
    "powerlaw_slope",
    "predict",
    "radial_profile",
    "read_image",
    "robust_accuracy",
    "set_auto_order",
    "spectrum_summary",
    "targeted_success_rates",
    "transfer_attack",
    "tv_penalty",
]
