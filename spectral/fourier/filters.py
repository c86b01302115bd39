"""Ideal and Gaussian low-/high-pass filtering in the Fourier domain."""

from __future__ import annotations

import math
from enum import Enum

import torch

from spectral._internal.validate import (
    check_images,
    check_int,
    check_positive,
    parse_enum,
)
from spectral.fourier.radial import frequency_radius

__all__ = ["Boundary", "FilterKind", "highpass", "lowpass"]


class FilterKind(str, Enum):
    """Transfer function of :func:`lowpass` / :func:`highpass`."""

    IDEAL = "ideal"
    BUTTERWORTH = "butterworth"
    GAUSSIAN = "gaussian"


class Boundary(str, Enum):
    """Which side of an ideal mask the ring ``r == radius`` falls on.

    ``INCLUSIVE`` keeps it in the low-pass (``r <= radius``); ``STRICT`` keeps it in the
    high-pass (``r < radius``), the mask of Wang et al. (2020).
    """

    INCLUSIVE = "inclusive"
    STRICT = "strict"


#: Relative tolerance of "on the ring": bins whose radius is within ``RING_RTOL * radius``
#: of ``radius`` count as on it, so a radius ``R / N`` catches the bins ``|k| = R`` that
#: floating point puts an ulp off (e.g. ``hypot(3, 4) / 32`` against ``5 / 32``).
RING_RTOL = 1e-9


def _transfer(
    h: int,
    w: int,
    radius: float,
    kind: FilterKind,
    order: int,
    like: torch.Tensor,
    boundary: Boundary = Boundary.INCLUSIVE,
) -> torch.Tensor:
    r = torch.from_numpy(frequency_radius(h, w, half=True)).to(like.device, torch.float64)
    if kind is FilterKind.IDEAL:
        if boundary is Boundary.STRICT:
            return (r < radius * (1 - RING_RTOL)).to(like.dtype)
        return (r <= radius * (1 + RING_RTOL)).to(like.dtype)
    r = r.to(like.dtype)
    if kind is FilterKind.BUTTERWORTH:
        return 1.0 / (1.0 + (r / radius) ** (2 * order))
    sigma = radius / math.sqrt(2.0 * math.log(2.0))
    return torch.exp(-(r**2) / (2.0 * sigma**2))


def lowpass(
    x: torch.Tensor,
    radius: float,
    *,
    kind: str | FilterKind = "ideal",
    order: int = 2,
    boundary: str | Boundary = "inclusive",
) -> torch.Tensor:
    """Low-pass filter each image/channel in the Fourier domain.

    ``kind="ideal"`` keeps the frequencies with radius ``<= radius`` (cycles/pixel) and
    removes the rest; with ``boundary="strict"`` it keeps only those with radius
    ``< radius``. On an ``N x N`` image a bin ``k = (k_y, k_x)`` (cycles per
    image) has radius ``|k| / N``, so ``radius = R / N`` with the default boundary keeps
    ``|k| <= R``, one ring more than the circular mask of Wang et al. (2020), which keeps
    ``|k| < R`` pixels of the centred spectrum: that mask is ``lowpass(x, R / N,
    boundary="strict")`` (for ``N = 32, R = 4``: 45 bins kept, against 49 with the ring
    ``|k| = 4``). Bins within a relative ``1e-9`` of ``radius`` count as on the ring.
    ``"butterworth"`` has gain ``1 / (1 + (r / radius)^(2 order))`` and ``"gaussian"``
    ``exp(-r^2 / (2 sigma^2))``; both have gain 0.5 at ``radius`` (``boundary`` does not
    change them). Differentiable; runs with torch on ``x``'s device.

    Args:
        x: real images ``(B, C, H, W)``.
        radius: cutoff radius in cycles/pixel (> 0; 0.5 is the axis Nyquist frequency).
        kind: ``"ideal"``, ``"butterworth"`` or ``"gaussian"``.
        order: Butterworth order (>= 1).
        boundary: ``"inclusive"`` (keep ``r <= radius``) or ``"strict"`` (keep
            ``r < radius``, Wang et al.'s mask); ideal masks only.

    Returns:
        The filtered batch, like ``x``.

    Raises:
        SpectralTypeError: not a real float tensor; ``radius`` not a number, ``kind``
            or ``boundary`` not a str, or ``order`` not an int.
        SpectralValueError: bad shape, NaN/Inf, radius <= 0, unknown kind or boundary,
            bad order.

    Shape:
        - x: :math:`(B, C, H, W)`
        - Output: :math:`(B, C, H, W)`

    Examples:
        >>> x = torch.rand(1, 1, 8, 8, dtype=torch.float64)
        >>> torch.allclose(lowpass(x, 0.01), x.mean((-2, -1), keepdim=True).expand_as(x))
        True
        >>> torch.allclose(lowpass(x, 0.75), x)  # every radius is <= sqrt(2) / 2
        True
        >>> ring = lowpass(x, 2 / 8) - lowpass(x, 2 / 8, boundary="strict")  # |k| = 2 only
        >>> bool(torch.fft.fft2(ring).abs().gt(1e-9).sum() == 4)
        True
        >>> y = lowpass(torch.rand(2, 3, 16, 16), 0.1, kind="gaussian")
        >>> y.shape, y.dtype
        (torch.Size([2, 3, 16, 16]), torch.float32)
    """
    check_images(x)
    rad = check_positive(radius, "radius")
    k = parse_enum(kind, FilterKind, "kind")
    check_int(order, "order", 1)
    edge = parse_enum(boundary, Boundary, "boundary")
    h, w = x.shape[-2:]
    g = _transfer(h, w, rad, k, order, x, edge)
    return torch.fft.irfft2(torch.fft.rfft2(x) * g, s=(h, w))


def highpass(
    x: torch.Tensor,
    radius: float,
    *,
    kind: str | FilterKind = "ideal",
    order: int = 2,
    boundary: str | Boundary = "inclusive",
) -> torch.Tensor:
    """High-pass filter: the complement ``x - lowpass(x, radius, kind=..., boundary=...)``.

    The ideal high-pass keeps exactly the frequencies with radius ``> radius`` (``>=
    radius`` with ``boundary="strict"``: Wang et al.'s high-frequency component, the
    complement of their ``|k| < R`` mask); the smooth kinds have gain ``1 - lowpass
    gain`` (0.5 at ``radius``). Arguments, errors and shapes as in :func:`lowpass`.

    Args:
        x: real images ``(B, C, H, W)``.
        radius: cutoff radius in cycles/pixel (> 0; 0.5 is the axis Nyquist frequency).
        kind: ``"ideal"``, ``"butterworth"`` or ``"gaussian"``.
        order: Butterworth order (>= 1).
        boundary: ``"inclusive"`` or ``"strict"``, as in :func:`lowpass`.

    Returns:
        The filtered batch, like ``x``.

    Raises:
        SpectralTypeError: not a real float tensor; ``radius`` not a number, ``kind``
            or ``boundary`` not a str, or ``order`` not an int.
        SpectralValueError: bad shape, NaN/Inf, radius <= 0, unknown kind or boundary,
            bad order.

    Shape:
        - x: :math:`(B, C, H, W)`
        - Output: :math:`(B, C, H, W)`

    Examples:
        >>> x = torch.rand(1, 1, 8, 8, dtype=torch.float64)
        >>> highpass(x, 0.01).mean().abs().item() < 1e-12  # DC removed
        True
        >>> lo, hi = lowpass(x, 0.2, kind="butterworth"), highpass(x, 0.2, kind="butterworth")
        >>> torch.allclose(lo + hi, x)
        True
    """
    return x - lowpass(x, radius, kind=kind, order=order, boundary=boundary)
