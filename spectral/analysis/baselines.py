"""Reference spectra to hold perturbations against: photographs, a data set's mean, white noise."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from spectral._internal.progress import Progress
from spectral._internal.validate import check_images, check_int, check_positive
from spectral.data.builtin import builtin_photo
from spectral.distributed import image_block
from spectral.errors import SpectralValueError
from spectral.fourier.accumulate import SpectrumAccumulator
from spectral.fourier.backends import Backend
from spectral.fourier.compare import (
    SpectrumComparison,
    SpectrumSummary,
    channel_names,
    compare_spectra,
    spectrum_summary,
)
from spectral.fourier.radial import powerlaw_slope, radial_profile

__all__ = [
    "DatasetSpectrum",
    "NoiseBaseline",
    "PhotoSpectra",
    "dataset_spectrum",
    "noise_baseline",
    "photo_spectra",
]


@dataclass(frozen=True)
class PhotoSpectra:
    """Spectrum summaries of named photographs (one image each).

    Attributes:
        names: the photographs, in order.
        summaries: one :class:`SpectrumSummary` per photograph.
    """

    names: tuple[str, ...]
    summaries: tuple[SpectrumSummary, ...] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Per photograph: height, width, band energy and radial slope per channel."""
        out = {}
        for name, s in zip(self.names, self.summaries, strict=True):
            ch = channel_names(int(s.magnitude.shape[1]))
            out[name] = {
                "height": int(s.magnitude.shape[2]),
                "width": int(s.magnitude.shape[3]),
                "band_energy": dict(zip(ch, s.band_energy[0].tolist(), strict=True)),
                "radial_slope": dict(zip(ch, s.slope[0].tolist(), strict=True)),
            }
        return out


def photo_spectra(
    names: Sequence[str] = ("astronaut", "chelsea", "coffee", "rocket"),
    *,
    device: str | torch.device = "cpu",
    backend: str | Backend = "auto",
    progress: Progress = None,
) -> PhotoSpectra:
    """:func:`spectrum_summary` of each bundled photograph.

    Args:
        names: bundled photographs (see :func:`spectral.data.builtin_photo`).
        device: where to compute.
        backend: FFT backend.
        progress: called with ``(done, total)`` photographs.

    Returns:
        A :class:`PhotoSpectra`.

    Raises:
        SpectralValueError: no names, or an unknown photograph.

    Examples:
        >>> p = photo_spectra(["coffee"])
        >>> p.to_dict()["coffee"]["height"], len(p.to_dict()["coffee"]["radial_slope"])
        (400, 3)
    """
    if not names:
        raise SpectralValueError("names: expected at least one photograph, got none")
    summaries = []
    for i, name in enumerate(names):
        summaries.append(spectrum_summary(builtin_photo(name).to(device), backend=backend))
        if progress is not None:
            progress(i + 1, len(names))
    return PhotoSpectra(names=tuple(names), summaries=tuple(summaries))


@dataclass(frozen=True)
class DatasetSpectrum:
    """Mean power spectrum of a set of images, accumulated batch by batch.

    Attributes:
        n_images: images accumulated.
        mean_power: ``(C, H, W)`` mean power spectrum, DC in the centre.
        radii: ring radii ``(n_bins,)`` in cycles/pixel.
        radial_power: ``(C, n_bins)`` radial profile of the mean spectrum.
        slope: ``(C,)`` power-law slope of that profile.
        coefficient_of_variation: mean over frequencies and channels of the
            per-frequency standard deviation / mean.
    """

    n_images: int
    mean_power: torch.Tensor = field(repr=False)
    radii: torch.Tensor = field(repr=False)
    radial_power: torch.Tensor = field(repr=False)
    slope: torch.Tensor
    coefficient_of_variation: float

    def normalized_log_power(self) -> torch.Tensor:
        """``log10`` of the mean power, min-max normalised per channel, ``(C, H, W)``."""
        p = self.mean_power
        log_mean = torch.log10(p.clamp_min(torch.finfo(p.dtype).tiny))
        lo = log_mean.amin(dim=(-2, -1), keepdim=True)
        hi = log_mean.amax(dim=(-2, -1), keepdim=True)
        return (log_mean - lo) / (hi - lo).clamp_min(1e-12)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: n_images, size, slope per channel, mean coefficient of variation."""
        ch = channel_names(int(self.mean_power.shape[0]))
        return {
            "n_images": self.n_images,
            "size": f"{self.mean_power.shape[1]}x{self.mean_power.shape[2]}",
            "radial_slope": dict(zip(ch, self.slope.tolist(), strict=True)),
            "mean_coefficient_of_variation": self.coefficient_of_variation,
        }


def dataset_spectrum(
    images: torch.Tensor,
    *,
    batch_size: int = 64,
    backend: str | Backend = "auto",
    progress: Progress = None,
) -> DatasetSpectrum:
    """Mean power spectrum of ``images`` through a :class:`SpectrumAccumulator`.

    Args:
        images: the images (at least 2, so that a variance exists).
        batch_size: images per accumulator update.
        backend: FFT backend.
        progress: called with ``(done, total)`` images.

    Returns:
        A :class:`DatasetSpectrum`.

    Raises:
        SpectralValueError: fewer than 2 images, NaN/Inf, ``batch_size < 1``.
        SpectralTypeError: not a float image tensor, a non-int ``batch_size``.

    Shape:
        - images: :math:`(N, C, H, W)`; mean_power: :math:`(C, H, W)`.

    Examples:
        >>> import torch
        >>> d = dataset_spectrum(torch.rand(4, 3, 8, 8), batch_size=3)
        >>> d.n_images, tuple(d.mean_power.shape), d.to_dict()["size"]
        (4, (3, 8, 8), '8x8')
    """
    check_images(images, "images")
    check_int(batch_size, "batch_size", 1)
    n = int(images.shape[0])
    if n < 2:
        raise SpectralValueError(f"images: expected at least 2 images, got {n}")
    acc = SpectrumAccumulator(backend=backend)
    first, stop = image_block(n)  # under torch.distributed: this rank's images
    for i in range(first, stop, batch_size):
        acc.update(images[i : min(i + batch_size, stop)])
        if progress is not None:
            progress(min(i + batch_size, stop) - first, stop - first)
    acc = acc.merge_ranks()
    mean_power = acc.mean()
    radii, prof = radial_profile(mean_power[None])
    slope = powerlaw_slope(radii, prof)[0]
    cv = (acc.var().sqrt() / acc.mean().clamp_min(1e-30)).mean().item()
    return DatasetSpectrum(
        n_images=acc.count,
        mean_power=mean_power,
        radii=radii,
        radial_power=prof[0],
        slope=slope,
        coefficient_of_variation=cv,
    )


@dataclass(frozen=True)
class NoiseBaseline:
    """Spectra of images before and after random sign noise of L-inf size ``eps``.

    Attributes:
        eps: the noise amplitude.
        comparison: clean vs noisy (:func:`compare_spectra`); its perturbation is the noise
            after clipping.
    """

    eps: float
    comparison: SpectrumComparison = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: eps, n_images and the comparison's band statistics."""
        return {
            "eps": self.eps,
            "n_images": int(self.comparison.clean.shape[0]),
            **self.comparison.to_dict(),
        }


def noise_baseline(
    images: torch.Tensor,
    eps: float,
    *,
    seed: int = 0,
    backend: str | Backend = "auto",
) -> NoiseBaseline:
    """Spectra of ``images`` with each pixel moved by ``+eps`` or ``-eps`` at random.

    White noise spreads its energy over all frequencies, so most of it lies in the high
    band: the baseline an adversarial perturbation of the same size is held against. The
    signs are drawn on the CPU from ``seed``, so they do not depend on the device.

    Args:
        images: clean images in ``[0, 1]``.
        eps: noise amplitude (> 0); the noisy images are clipped to ``[0, 1]``.
        seed: seed of the signs.
        backend: FFT backend.

    Returns:
        A :class:`NoiseBaseline`.

    Raises:
        SpectralValueError: ``eps <= 0``, NaN/Inf images or images outside ``[0, 1]``.
        SpectralTypeError: not a float image tensor.

    Shape:
        - images: :math:`(N, C, H, W)`.

    Examples:
        >>> import torch
        >>> b = noise_baseline(torch.full((2, 1, 16, 16), 0.5), 0.1)
        >>> high = b.to_dict()["band_energy"]["perturbation"][2]
        >>> 0.5 < high < 1.0   # white noise: most of the energy in the high band
        True
    """
    check_images(images, "images", unit_range=True)
    eps = check_positive(eps, "eps")
    g = torch.Generator().manual_seed(seed)
    clean = images.cpu()
    noise = eps * (torch.randint(0, 2, clean.shape, generator=g) * 2 - 1).to(clean.dtype)
    noisy = (clean + noise).clamp(0.0, 1.0)
    cmp = compare_spectra(clean.to(images.device), noisy.to(images.device), backend=backend)
    return NoiseBaseline(eps=eps, comparison=cmp)
