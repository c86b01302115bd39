"""Frequency bands as masks, and the orthogonal projection of images onto a band."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from spectral._internal.validate import check_images
from spectral.errors import SpectralValueError
from spectral.fourier.bands import BAND_NAMES, DEFAULT_CUTOFFS, check_cutoffs
from spectral.fourier.radial import frequency_radius

__all__ = ["band_mask", "band_project", "parse_band"]

#: Names :func:`parse_band` takes besides ``low``, ``mid``, ``high``: every non-DC bin.
ALL_BAND = "all"


def parse_band(band: Any, cutoffs: tuple[float, float] = DEFAULT_CUTOFFS) -> tuple[float, float]:
    """The annulus ``(lo, hi)`` in cycles/pixel that a band names: ``lo <= r < hi``, ``r > 0``.

    ``"low"`` is ``(0, c1)``, ``"mid"`` ``(c1, c2)``, ``"high"`` ``(c2, inf)`` and ``"all"``
    ``(0, inf)``: the bands of :func:`spectral.band_energy` (low ``0 < r < c1``, mid
    ``c1 <= r < c2``, high ``r >= c2``; DC in none). Two numbers are an annulus.

    Args:
        band: ``"low"``, ``"mid"``, ``"high"``, ``"all"`` (any case), or ``(lo, hi)``
            with ``0 <= lo < hi`` (``hi`` may be ``inf``).
        cutoffs: ``(c1, c2)`` band edges for the named bands (see
            :func:`spectral.check_cutoffs`).

    Returns:
        ``(lo, hi)`` as floats.

    Raises:
        SpectralValueError: an unknown name, not two numbers, or not ``0 <= lo < hi``;
            bad cutoffs.

    Examples:
        >>> parse_band("Mid")
        (0.125, 0.25)
        >>> parse_band("high", (0.1, 0.3)), parse_band((0.0, 0.2))
        ((0.3, inf), (0.0, 0.2))
    """
    c1, c2 = check_cutoffs(cutoffs)
    if isinstance(band, str):
        named = {"low": (0.0, c1), "mid": (c1, c2), "high": (c2, math.inf)}
        named[ALL_BAND] = (0.0, math.inf)
        key = band.strip().lower()
        if key not in named:
            raise SpectralValueError(
                f"band: expected one of {[*BAND_NAMES, ALL_BAND]} or (lo, hi) in "
                f"cycles/pixel, got {band!r}"
            )
        return named[key]
    try:
        lo, hi = (float(v) for v in band)
    except (TypeError, ValueError):
        raise SpectralValueError(
            f"band: expected a band name or (lo, hi) in cycles/pixel, got {band!r}"
        ) from None
    if not (0.0 <= lo < hi) or math.isnan(hi):
        raise SpectralValueError(f"band: expected 0 <= lo < hi (cycles/pixel), got ({lo}, {hi})")
    return lo, hi


def band_mask(
    h: int, w: int, band: Any, *, cutoffs: tuple[float, float] = DEFAULT_CUTOFFS
) -> np.ndarray:
    """The 0/1 mask of a band on the ``rfft2`` half spectrum of an ``h x w`` image.

    A bin of radius ``r`` (cycles/pixel) is in the band ``(lo, hi)`` of :func:`parse_band`
    when ``r > 0`` and ``lo <= r < hi``: the comparisons of :func:`spectral.band_energy`,
    so a perturbation projected onto ``"low"`` has all its energy in band_energy's low band.

    Args:
        h: image height.
        w: image width.
        band: a band name or annulus (:func:`parse_band`).
        cutoffs: edges of the named bands.

    Returns:
        float64 array ``(h, w // 2 + 1)`` of zeros and ones (unshifted ``rfft2`` layout).

    Raises:
        SpectralValueError: a bad band or cutoffs, or a band without any bin of an
            ``h x w`` image.

    Shape:
        - Output: :math:`(H, W // 2 + 1)`

    Examples:
        >>> m = band_mask(8, 8, "low", cutoffs=(0.2, 0.3))  # 0 < |k| / 8 < 0.2
        >>> int(m.sum()), m[0, 0], m[0, 1], m[1, 1]  # (0,1), (+-1,0), (+-1,1); DC out
        (5, np.float64(0.0), np.float64(1.0), np.float64(1.0))
    """
    lo, hi = parse_band(band, cutoffs)
    r = frequency_radius(h, w, half=True)
    m = (r > 0) & (r >= lo) & (r < hi)
    if not m.any():
        raise SpectralValueError(
            f"band: ({lo:g}, {hi:g}) cycles/pixel holds no frequency of {h}x{w} images "
            f"(their non-zero radii run from {r[r > 0].min(initial=0.0):.4g} to {r.max():.4g})"
        )
    return m.astype(np.float64)


def band_project(
    x: torch.Tensor, band: Any, *, cutoffs: tuple[float, float] = DEFAULT_CUTOFFS
) -> torch.Tensor:
    """Orthogonal projection of each image/channel onto a frequency band.

    ``irfft2(rfft2(x) * mask)`` with the 0/1 :func:`band_mask`: it keeps the band's
    frequencies and removes every other one (DC included), so it is linear, idempotent
    (``P(P(x)) == P(x)``), self-adjoint, and ``x - P(x)`` has no energy in the band.
    Differentiable; runs with torch on ``x``'s device.

    Args:
        x: real images, perturbations or gradients.
        band: ``"low"``, ``"mid"``, ``"high"``, ``"all"`` or ``(lo, hi)`` in cycles/pixel
            (:func:`parse_band`).
        cutoffs: edges of the named bands.

    Returns:
        The projection, like ``x``.

    Raises:
        SpectralTypeError: not a real float tensor.
        SpectralValueError: bad shape, NaN/Inf, a bad band or cutoffs, or an empty band.

    Shape:
        - x: :math:`(B, C, H, W)`
        - Output: :math:`(B, C, H, W)`

    Examples:
        >>> from spectral.fourier.bands import band_energy
        >>> x = torch.rand(2, 3, 16, 16, dtype=torch.float64)
        >>> p = band_project(x, "mid")
        >>> torch.allclose(band_project(p, "mid"), p), bool(p.mean().abs() < 1e-12)
        (True, True)
        >>> [round(v, 6) for v in band_energy(p)[0, 0].tolist()]
        [0.0, 1.0, 0.0]
    """
    check_images(x)
    h, w = x.shape[-2:]
    m = torch.from_numpy(band_mask(h, w, band, cutoffs=cutoffs)).to(x.device, x.dtype)
    return torch.fft.irfft2(torch.fft.rfft2(x) * m, s=(h, w))
