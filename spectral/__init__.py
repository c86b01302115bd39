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

from spectral.accumulate import SpectrumAccumulator
from spectral.errors import ImageReadError, SpectralError, SpectralTypeError, SpectralValueError
from spectral.fft import Backend, auto_order, available_backends, calibrate, set_auto_order
from spectral.io import Alpha, read_image
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

__all__ = [
    "Alpha",
    "Backend",
    "FilterKind",
    "ImageReadError",
    "SpectralError",
    "SpectralTypeError",
    "SpectralValueError",
    "SpectrumAccumulator",
    "SpectrumComparison",
    "SpectrumSummary",
    "__version__",
    "auto_order",
    "available_backends",
    "band_energy",
    "calibrate",
    "channel_names",
    "compare_spectra",
    "frequency_radius",
    "highpass",
    "lowpass",
    "magnitude_spectrum",
    "phase_spectrum",
    "power_spectrum",
    "powerlaw_slope",
    "radial_profile",
    "read_image",
    "set_auto_order",
    "spectrum_summary",
]
