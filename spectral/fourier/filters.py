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

__all__ = ["FilterKind", "highpass", "lowpass"]


class FilterKind(str, Enum):
    """Transfer function of :func:`lowpass` / :func:`highpass`."""

    IDEAL = "ideal"
    BUTTERWORTH = "butterworth"
    GAUSSIAN = "gaussian"


def _transfer(
    h: int, w: int, radius: float, kind: FilterKind, order: int, like: torch.Tensor
) -> torch.Tensor:
    r = torch.from_numpy(frequency_radius(h, w, half=True)).to(like.device, like.dtype)
    if kind is FilterKind.IDEAL:
        return (r <= radius).to(like.dtype)
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
) -> torch.Tensor:
    """Low-pass filter each image/channel in the Fourier domain.

    ``kind="ideal"`` keeps the frequencies with radius ``<= radius`` (cycles/pixel) and
    removes the rest: the circular mask of Wang et al. (2020) on the centred spectrum
    (a mask of ``R`` pixels on an ``N x N`` spectrum is ``radius = R / N``).
    ``"butterworth"`` has gain ``1 / (1 + (r / radius)^(2 order))`` and ``"gaussian"``
    ``exp(-r^2 / (2 sigma^2))``; both have gain 0.5 at ``radius``. Differentiable; runs
    with torch on ``x``'s device.

    Args:
        x: real images ``(B, C, H, W)``.
        radius: cutoff radius in cycles/pixel (> 0; 0.5 is the axis Nyquist frequency).
        kind: ``"ideal"``, ``"butterworth"`` or ``"gaussian"``.
        order: Butterworth order (>= 1).

    Returns:
        The filtered batch, like ``x``.

    Raises:
        SpectralTypeError: not a real float tensor; ``radius`` not a number, ``kind``
            not a str, or ``order`` not an int.
        SpectralValueError: bad shape, NaN/Inf, radius <= 0, unknown kind, bad order.

    Shape:
        - x: :math:`(B, C, H, W)`
        - Output: :math:`(B, C, H, W)`

    Examples:
        >>> x = torch.rand(1, 1, 8, 8, dtype=torch.float64)
        >>> torch.allclose(lowpass(x, 0.01), x.mean((-2, -1), keepdim=True).expand_as(x))
        True
        >>> torch.allclose(lowpass(x, 0.75), x)  # every radius is <= sqrt(2) / 2
        True
        >>> y = lowpass(torch.rand(2, 3, 16, 16), 0.1, kind="gaussian")
        >>> y.shape, y.dtype
        (torch.Size([2, 3, 16, 16]), torch.float32)
    """
    check_images(x)
    rad = check_positive(radius, "radius")
    k = parse_enum(kind, FilterKind, "kind")
    check_int(order, "order", 1)
    h, w = x.shape[-2:]
    g = _transfer(h, w, rad, k, order, x)
    return torch.fft.irfft2(torch.fft.rfft2(x) * g, s=(h, w))


def highpass(
    x: torch.Tensor,
    radius: float,
    *,
    kind: str | FilterKind = "ideal",
    order: int = 2,
) -> torch.Tensor:
    """High-pass filter: the complement ``x - lowpass(x, radius, kind=kind, order=order)``.

    The ideal high-pass keeps exactly the frequencies with radius ``> radius``; the smooth
    kinds have gain ``1 - lowpass gain`` (0.5 at ``radius``). Arguments, errors and shapes
    as in :func:`lowpass`.

    Args:
        x: real images ``(B, C, H, W)``.
        radius: cutoff radius in cycles/pixel (> 0; 0.5 is the axis Nyquist frequency).
        kind: ``"ideal"``, ``"butterworth"`` or ``"gaussian"``.
        order: Butterworth order (>= 1).

    Returns:
        The filtered batch, like ``x``.

    Raises:
        SpectralTypeError: not a real float tensor; ``radius`` not a number, ``kind``
            not a str, or ``order`` not an int.
        SpectralValueError: bad shape, NaN/Inf, radius <= 0, unknown kind, bad order.

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
    return x - lowpass(x, radius, kind=kind, order=order)
