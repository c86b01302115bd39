"""FFT backends and engine, spectra, radial profiles, frequency bands, filters, comparisons."""

from __future__ import annotations

from spectral.fourier.accumulate import SpectrumAccumulator
from spectral.fourier.backends import (
    Backend,
    auto_order,
    available_backends,
    load_wisdom,
    n_workers,
    parse_backend,
    resolve_backend,
    rfft2,
    save_wisdom,
    set_auto_order,
)
from spectral.fourier.bandpass import band_mask, band_project, parse_band
from spectral.fourier.bands import (
    BAND_NAMES,
    DEFAULT_CUTOFFS,
    band_energy,
    band_fractions,
    band_weights,
    check_cutoffs,
)
from spectral.fourier.compare import (
    SpectrumComparison,
    SpectrumSummary,
    channel_names,
    compare_spectra,
    spectrum_summary,
)
from spectral.fourier.engine import (
    expand_half,
    expand_half_torch,
    expand_index,
    fft2,
    map_half_spectra,
)
from spectral.fourier.filters import Boundary, FilterKind, highpass, lowpass
from spectral.fourier.radial import frequency_radius, powerlaw_slope, radial_profile
from spectral.fourier.spectra import (
    benchmark_backends,
    magnitude_spectrum,
    phase_spectrum,
    power_spectrum,
)

__all__ = [
    "BAND_NAMES",
    "DEFAULT_CUTOFFS",
    "Backend",
    "Boundary",
    "FilterKind",
    "SpectrumAccumulator",
    "SpectrumComparison",
    "SpectrumSummary",
    "auto_order",
    "available_backends",
    "band_energy",
    "band_fractions",
    "band_mask",
    "band_project",
    "band_weights",
    "benchmark_backends",
    "channel_names",
    "check_cutoffs",
    "compare_spectra",
    "expand_half",
    "expand_half_torch",
    "expand_index",
    "fft2",
    "frequency_radius",
    "highpass",
    "load_wisdom",
    "lowpass",
    "magnitude_spectrum",
    "map_half_spectra",
    "n_workers",
    "parse_backend",
    "parse_band",
    "phase_spectrum",
    "power_spectrum",
    "powerlaw_slope",
    "radial_profile",
    "resolve_backend",
    "rfft2",
    "save_wisdom",
    "set_auto_order",
    "spectrum_summary",
]
