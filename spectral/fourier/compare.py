"""Clean vs adversarial spectra side by side, and one-image spectrum summaries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from spectral._internal.jsonable import json_list
from spectral._internal.validate import (
    check_images,
    check_same_shape,
)
from spectral.fourier.backends import Backend
from spectral.fourier.bands import BAND_NAMES, DEFAULT_CUTOFFS, band_energy, check_cutoffs
from spectral.fourier.radial import powerlaw_slope, radial_profile
from spectral.fourier.spectra import _minmax_torch, magnitude_spectrum, power_spectrum

__all__ = [
    "SpectrumComparison",
    "SpectrumSummary",
    "channel_names",
    "compare_spectra",
    "spectrum_summary",
]


def channel_names(c: int) -> list[str]:
    """Display names of the channels of a ``c``-channel image: R, G, B / grey / ch0...

    Args:
        c: the number of channels.

    Returns:
        ``["R", "G", "B"]`` for 3 channels, ``["grey"]`` for 1, else
        ``["ch0", ..., f"ch{c - 1}"]``.

    Examples:
        >>> channel_names(3), channel_names(1), channel_names(2)
        (['R', 'G', 'B'], ['grey'], ['ch0', 'ch1'])
    """
    return ["R", "G", "B"] if c == 3 else (["grey"] if c == 1 else [f"ch{i}" for i in range(c)])


@dataclass(frozen=True)
class SpectrumComparison:
    """Spectra of clean images, their adversarial versions and the perturbation.

    Attributes:
        clean: normalised log-magnitude spectra of the clean batch ``(B, C, H, W)``.
        adversarial: the same for the adversarial batch.
        perturbation: the same for ``adversarial - clean``.
        difference: ``log1p|F(x_adv)| - log1p|F(x)|``, centred, not normalised: the
            log-amplitude gain the attack added (> 0) or removed (< 0) per frequency.
        band_energy_clean: ``(B, C, 3)`` low/mid/high fractions of the clean batch.
        band_energy_adversarial: the same for the adversarial batch.
        band_energy_perturbation: the same for the perturbation.
        cutoffs: the band cutoffs in cycles/pixel.
    """

    clean: torch.Tensor
    adversarial: torch.Tensor
    perturbation: torch.Tensor
    difference: torch.Tensor
    band_energy_clean: torch.Tensor
    band_energy_adversarial: torch.Tensor
    band_energy_perturbation: torch.Tensor
    cutoffs: tuple[float, float] = field(default=DEFAULT_CUTOFFS)

    @property
    def band_shift(self) -> torch.Tensor:
        """``(B, C, 3)`` change of band fractions, adversarial minus clean."""
        return self.band_energy_adversarial - self.band_energy_clean

    def to_dict(self, *, per_image: bool = False) -> dict[str, Any]:
        """JSON-serialisable summary: mean band fractions (and per image if asked).

        Means are over images and channels, ignoring NaN (constant images). The spectra
        themselves are not included (they are image-sized); save the tensors if needed.
        """

        def mean(t: torch.Tensor) -> list[float | None]:
            v = t.reshape(-1, 3).to(torch.float64).nanmean(0)
            return list(json_list(v))

        out: dict[str, Any] = {
            "shape": list(self.clean.shape),
            "cutoffs": list(self.cutoffs),
            "bands": list(BAND_NAMES),
            "band_energy": {
                "clean": mean(self.band_energy_clean),
                "adversarial": mean(self.band_energy_adversarial),
                "perturbation": mean(self.band_energy_perturbation),
                "shift": mean(self.band_shift),
            },
        }
        if per_image:
            out["per_image"] = {
                "clean": json_list(self.band_energy_clean),
                "adversarial": json_list(self.band_energy_adversarial),
                "perturbation": json_list(self.band_energy_perturbation),
            }
        return out


def compare_spectra(
    clean: torch.Tensor,
    adversarial: torch.Tensor,
    *,
    cutoffs: tuple[float, float] = DEFAULT_CUTOFFS,
    backend: str | Backend = "auto",
) -> SpectrumComparison:
    """Compare the spectra of a clean batch and its adversarial counterpart.

    Args:
        clean: real images ``(B, C, H, W)``.
        adversarial: same shape, dtype and device.
        cutoffs: band cutoffs for :func:`band_energy`.
        backend: FFT backend.

    Returns:
        A :class:`SpectrumComparison`.

    Raises:
        SpectralTypeError: not real float tensors, or dtypes differ.
        SpectralValueError: shapes or devices differ, NaN/Inf, bad cutoffs, unknown
            backend.

    Shape:
        - clean: :math:`(B, C, H, W)`
        - adversarial: :math:`(B, C, H, W)`
        - Output: spectra :math:`(B, C, H, W)`, band fractions :math:`(B, C, 3)`

    Examples:
        >>> x = torch.rand(2, 3, 16, 16, dtype=torch.float64)
        >>> cmp = compare_spectra(x, x + 0.01 * torch.randn_like(x))
        >>> cmp.difference.shape, cmp.band_energy_perturbation.shape
        (torch.Size([2, 3, 16, 16]), torch.Size([2, 3, 3]))
        >>> same = compare_spectra(x, x.clone())  # no attack: no log-amplitude change
        >>> bool((same.difference == 0).all()), same.band_shift.abs().max().item()
        (True, 0.0)
    """
    check_images(clean, "clean")
    check_images(adversarial, "adversarial")
    check_same_shape(clean, adversarial, ("clean", "adversarial"))
    cut = check_cutoffs(cutoffs)
    delta = adversarial - clean
    raw_c = magnitude_spectrum(clean, normalize=False, backend=backend)
    raw_a = magnitude_spectrum(adversarial, normalize=False, backend=backend)
    return SpectrumComparison(
        clean=_minmax_torch(raw_c),
        adversarial=_minmax_torch(raw_a),
        perturbation=magnitude_spectrum(delta, backend=backend),
        difference=raw_a - raw_c,
        band_energy_clean=band_energy(clean, cutoffs=cut, backend=backend),
        band_energy_adversarial=band_energy(adversarial, cutoffs=cut, backend=backend),
        band_energy_perturbation=band_energy(delta, cutoffs=cut, backend=backend),
        cutoffs=cut,
    )


@dataclass(frozen=True)
class SpectrumSummary:
    """Spectral summary of a batch: BlurNet-style spectra, radial power and bands.

    Attributes:
        magnitude: normalised log-magnitude spectra ``(B, C, H, W)``.
        radii: ring radii ``(n_bins,)`` in cycles/pixel.
        radial_power: azimuthally averaged power ``(B, C, n_bins)``.
        slope: fitted power-law slope of the radial power ``(B, C)`` (natural images: ~-2).
        band_energy: low/mid/high fractions of non-DC energy ``(B, C, 3)``.
        cutoffs: the band cutoffs in cycles/pixel.
    """

    magnitude: torch.Tensor
    radii: torch.Tensor
    radial_power: torch.Tensor
    slope: torch.Tensor
    band_energy: torch.Tensor
    cutoffs: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable per-image, per-channel band fractions and slopes (NaN -> None)."""
        return {
            "shape": list(self.magnitude.shape),
            "cutoffs": list(self.cutoffs),
            "bands": list(BAND_NAMES),
            "band_energy": json_list(self.band_energy),
            "radial_slope": json_list(self.slope),
        }


def spectrum_summary(
    x: torch.Tensor,
    *,
    cutoffs: tuple[float, float] = DEFAULT_CUTOFFS,
    backend: str | Backend = "auto",
) -> SpectrumSummary:
    """Magnitude spectra, radial power profiles, power-law slopes and band energies of ``x``.

    Args:
        x: real images ``(B, C, H, W)`` with ``H, W >= 2``.
        cutoffs: band cutoffs for :func:`band_energy`.
        backend: FFT backend.

    Returns:
        A :class:`SpectrumSummary`.

    Raises:
        SpectralTypeError: not a real float32/float64 tensor.
        SpectralValueError: bad shape (``H`` or ``W`` below 2 included), NaN/Inf, bad
            cutoffs or backend.

    Shape:
        - x: :math:`(B, C, H, W)`
        - Output: ``magnitude`` :math:`(B, C, H, W)`, ``radii`` :math:`(K,)`,
          ``radial_power`` :math:`(B, C, K)`, ``slope`` :math:`(B, C)`, ``band_energy``
          :math:`(B, C, 3)`, with ``K = min(H, W) // 2 + 1`` rings

    Examples:
        >>> s = spectrum_summary(torch.rand(2, 3, 16, 16))
        >>> s.slope.shape, s.band_energy.shape
        (torch.Size([2, 3]), torch.Size([2, 3, 3]))
        >>> s.radii.shape, s.radial_power.shape  # 16 // 2 + 1 = 9 rings
        (torch.Size([9]), torch.Size([2, 3, 9]))
    """
    check_images(x)
    cut = check_cutoffs(cutoffs)
    radii, prof = radial_profile(power_spectrum(x, backend=backend))
    return SpectrumSummary(
        magnitude=magnitude_spectrum(x, backend=backend),
        radii=radii,
        radial_power=prof,
        slope=powerlaw_slope(radii, prof),
        band_energy=band_energy(x, cutoffs=cut, backend=backend),
        cutoffs=cut,
    )
