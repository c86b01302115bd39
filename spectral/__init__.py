"""spectral: frequency-domain analysis of adversarial robustness.

Tensors in, tensors and frozen dataclasses out. Images are real ``(B, C, H, W)``
float tensors; results stay on the input's device.

The top level holds the 45 names users reach first; everything else lives in its
subpackage:

- :mod:`spectral.fourier`: FFT backends, spectra, radial profiles, bands, filters,
  comparisons, the streaming accumulator.
- :mod:`spectral.data`: the built-in data, image IO, loaders.
- :mod:`spectral.models`: the zoo, ``load_model``, layer names, blur layers, feature maps.
- :mod:`spectral.metrics`: classification, attack and calibration metrics.
- :mod:`spectral.attacks`: ``make_attack``, APGD, transfer, RP2, a training PGD.
- :mod:`spectral.defenses`: blur penalties, the BlurNet evaluation, the Fourier detector.
- :mod:`spectral.analysis`: the composite analyses the CLI runs.
- :mod:`spectral.plot`: figures (the only subpackage that imports matplotlib).

Names load lazily: ``import spectral`` imports no subpackage until one of its names is
used, so it stays fast and never loads matplotlib or torchattacks.

Examples:
    >>> import torch, spectral as sp
    >>> x = torch.rand(4, 3, 32, 32)
    >>> sp.magnitude_spectrum(x).shape
    torch.Size([4, 3, 32, 32])
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spectral.analysis import (
        attack_analysis,
        feature_spectra,
        filter_metrics,
        fourier_basis,
        fourier_heatmap,
        gradient_spectra,
        heatmap_bands,
        input_gradients,
        integrated_gradients,
    )
    from spectral.attacks import make_attack, resumable, transfer_attack
    from spectral.data import ImageDataset, load_dataset, read_image
    from spectral.defenses import linf_penalty, tv_penalty
    from spectral.errors import ImageReadError, SpectralError, SpectralTypeError, SpectralValueError
    from spectral.fourier import (
        SpectrumAccumulator,
        SpectrumComparison,
        band_energy,
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
    from spectral.metrics import (
        accuracy,
        attack_success_rate,
        calibration_metrics,
        l2_dissimilarity,
        predict,
        robust_accuracy,
    )
    from spectral.models import (
        BlurLayer,
        feature_maps,
        insert_blur,
        layer_names,
        list_models,
        load_model,
    )

__version__ = "0.1.0"

_WHERE: dict[str, str] = {
    **dict.fromkeys(
        ["ImageReadError", "SpectralError", "SpectralTypeError", "SpectralValueError"],
        "spectral.errors",
    ),
    **dict.fromkeys(
        [
            "SpectrumAccumulator",
            "SpectrumComparison",
            "band_energy",
            "compare_spectra",
            "frequency_radius",
            "highpass",
            "lowpass",
            "magnitude_spectrum",
            "phase_spectrum",
            "power_spectrum",
            "powerlaw_slope",
            "radial_profile",
            "spectrum_summary",
        ],
        "spectral.fourier",
    ),
    **dict.fromkeys(["ImageDataset", "load_dataset", "read_image"], "spectral.data"),
    **dict.fromkeys(
        ["BlurLayer", "feature_maps", "insert_blur", "layer_names", "list_models", "load_model"],
        "spectral.models",
    ),
    **dict.fromkeys(
        [
            "accuracy",
            "attack_success_rate",
            "calibration_metrics",
            "l2_dissimilarity",
            "predict",
            "robust_accuracy",
        ],
        "spectral.metrics",
    ),
    **dict.fromkeys(["make_attack", "resumable", "transfer_attack"], "spectral.attacks"),
    **dict.fromkeys(["linf_penalty", "tv_penalty"], "spectral.defenses"),
    **dict.fromkeys(
        [
            "attack_analysis",
            "feature_spectra",
            "filter_metrics",
            "fourier_basis",
            "fourier_heatmap",
            "gradient_spectra",
            "heatmap_bands",
            "input_gradients",
            "integrated_gradients",
        ],
        "spectral.analysis",
    ),
}


_SUBPACKAGES = frozenset(
    {"analysis", "attacks", "data", "defenses", "fourier", "metrics", "models", "plot", "train"}
)


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:  # sp.fourier etc. without an explicit import
        return importlib.import_module(f"spectral.{name}")
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'spectral' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE) | _SUBPACKAGES)


__all__ = [
    "BlurLayer",
    "ImageDataset",
    "ImageReadError",
    "SpectralError",
    "SpectralTypeError",
    "SpectralValueError",
    "SpectrumAccumulator",
    "SpectrumComparison",
    "__version__",
    "accuracy",
    "attack_analysis",
    "attack_success_rate",
    "band_energy",
    "calibration_metrics",
    "compare_spectra",
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
    "phase_spectrum",
    "power_spectrum",
    "powerlaw_slope",
    "predict",
    "radial_profile",
    "read_image",
    "resumable",
    "robust_accuracy",
    "spectrum_summary",
    "transfer_attack",
    "tv_penalty",
]
