"""Per-image statistics of attribution maps: mean frequency and correlation with image edges."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from spectral._internal.validate import (
    check_images,
)
from spectral.errors import SpectralValueError
from spectral.fourier.radial import frequency_radius
from spectral.fourier.spectra import power_spectrum

__all__ = ["edge_correlation", "mean_frequency"]


def mean_frequency(x: torch.Tensor) -> torch.Tensor:
    """Power-weighted mean frequency radius (spectral centroid) per image, DC left out.

    ``sum_f |f| P(f) / sum_f P(f)`` over all non-DC frequencies, with the power of all
    channels summed; in cycles/pixel (white noise: about 0.38 on a square image; smooth
    images: much lower). NaN for an image with no non-DC power.

    Args:
        x: real images (or attribution maps) of shape ``(B, C, H, W)``.

    Returns:
        ``(B,)`` tensor like ``x``.

    Raises:
        SpectralTypeError: ``x`` is not a float32/float64 tensor (e.g. complex or int).
        SpectralValueError: ``x`` is not 4-D, is empty, or holds NaN/Inf.

    Shape:
        - x: :math:`(B, C, H, W)`
        - Output: :math:`(B,)`

    Examples:
        >>> x = torch.zeros(1, 1, 16, 16, dtype=torch.float64)
        >>> x[..., ::2] = 1.0  # all non-DC power at f_x = 1/2
        >>> mean_frequency(x).tolist()
        [0.5]
    """
    check_images(x)
    return _centroid(_power_without_dc(x).sum(1), x)


def _power_without_dc(x: torch.Tensor) -> torch.Tensor:
    """Centred float64 power spectrum ``(B, C, H, W)`` of ``x`` with the DC bin zeroed."""
    p = power_spectrum(x.detach().to(torch.float64), center=True)
    h, w = x.shape[-2:]
    p[..., h // 2, w // 2] = 0.0
    return p


def _centroid(p: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """:func:`mean_frequency` from ``p``, the channel-summed ``(B, H, W)`` DC-free power."""
    r = torch.from_numpy(frequency_radius(*x.shape[-2:])).to(p.device)
    out = (p * r).sum((1, 2)) / p.sum((1, 2))
    return torch.where(_has_spectrum(p, x), out, torch.full_like(out, float("nan"))).to(x.dtype)


def _has_spectrum(p: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``(B,)``: non-DC power above the FFT's round-off (as :func:`spectral.band_energy`).

    ``p`` is the ``(B, H, W)`` power with DC zeroed; round-off of a transform in ``x``'s
    precision is about ``64 eps^2 log2(N)`` of the total energy ``sum x^2``.
    """
    eps = torch.finfo(x.dtype).eps
    n = x.shape[-1] * x.shape[-2]
    energy = x.detach().to(torch.float64).square().sum((1, 2, 3))
    return p.sum((1, 2)) > 64 * eps**2 * math.log2(max(n, 2)) * energy


_SOBEL = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])


def edge_correlation(attributions: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of ``|attribution|`` with the image's Sobel edge magnitude.

    Both are taken on the channel sum (``sum_c |a_c|``; the grey image ``mean_c x_c``),
    so a value near 1 means the attribution is large exactly on the image's edges, as
    for the perceptually aligned gradients of robust models; noise-like gradients give
    values near 0. NaN where either map is constant.

    Args:
        attributions: attribution maps, e.g. from :func:`input_gradients`.
        images: the images they explain (same shape).

    Returns:
        ``(B,)`` tensor like ``attributions``.

    Raises:
        SpectralValueError: shapes differ, not 4-D, empty, or NaN/Inf.
        SpectralTypeError: either is not a float32/float64 tensor.

    Shape:
        - attributions: :math:`(B, C, H, W)`
        - images: :math:`(B, C, H, W)`
        - Output: :math:`(B,)`

    Examples:
        >>> x = torch.zeros(1, 1, 8, 8)
        >>> x[..., 4:] = 1.0  # a vertical step edge between columns 3 and 4
        >>> on_edge = torch.zeros_like(x)
        >>> on_edge[..., 3:5] = 1.0
        >>> edge_correlation(on_edge, x).tolist()
        [1.0]
        >>> edge_correlation(torch.ones_like(x), x).isnan().tolist()  # constant: undefined
        [True]
    """
    check_images(attributions, "attributions")
    check_images(images, "images")
    if attributions.shape != images.shape:
        raise SpectralValueError(
            f"attributions: expected the shape of images {tuple(images.shape)}, "
            f"got {tuple(attributions.shape)}"
        )
    grey = images.to(torch.float64).mean(1, keepdim=True)
    k = _SOBEL.to(grey)
    gx = F.conv2d(F.pad(grey, (1, 1, 1, 1), mode="replicate"), k[None, None])
    gy = F.conv2d(F.pad(grey, (1, 1, 1, 1), mode="replicate"), k.T[None, None])
    edges = torch.hypot(gx, gy).flatten(1)
    mag = attributions.to(torch.float64).abs().sum(1).flatten(1)
    a = mag - mag.mean(1, keepdim=True)
    b = edges - edges.mean(1, keepdim=True)
    corr = (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))
    varies = _varies(mag, attributions.dtype) & _varies(edges, images.dtype)
    return torch.where(varies, corr, torch.full_like(corr, float("nan"))).to(attributions.dtype)


def _varies(v: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``(B,)``: the rows of ``v`` are not constant up to round-off in ``dtype``."""
    span = v.amax(1) - v.amin(1)
    return span > 16 * torch.finfo(dtype).eps * v.abs().amax(1)
