"""Radial frequency, radially averaged power and its power-law slope."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from spectral._internal.validate import (
    check_images,
)
from spectral.errors import SpectralTypeError, SpectralValueError

__all__ = ["frequency_radius", "powerlaw_slope", "radial_profile"]


def frequency_radius(
    h: int, w: int, *, center: bool = True, half: bool = False, dtype: Any = np.float64
) -> np.ndarray:
    """Radius in cycles/pixel of every DFT bin of an ``h x w`` image.

    Args:
        h: image height.
        w: image width.
        center: lay the bins out ``fftshift``-ed (DC at ``(h // 2, w // 2)``).
        half: the ``rfft2`` layout ``(h, w // 2 + 1)``, unshifted (``center`` ignored).
        dtype: numpy dtype of the result.

    Returns:
        Array of shape ``(h, w)`` or ``(h, w // 2 + 1)``.

    Examples:
        >>> frequency_radius(4, 4)[2, 2], frequency_radius(4, 4)[0, 2]
        (np.float64(0.0), np.float64(0.5))
    """
    fy = np.fft.fftfreq(h)
    fx = np.fft.rfftfreq(w) if half else np.fft.fftfreq(w)
    if center and not half:
        fy, fx = np.fft.fftshift(fy), np.fft.fftshift(fx)
    return np.hypot(fy[:, None], fx[None, :]).astype(dtype)


def radial_profile(
    power: torch.Tensor, *, n_bins: int | None = None, center: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Azimuthal average of a spectrum over rings of equal frequency radius.

    Bin ``k`` collects the bins whose radius ``r`` (cycles/pixel) satisfies
    ``(k - 1/2) d <= r < (k + 1/2) d``; radii beyond the last ring (the corners) are left
    out. By default ``d = 1 / min(H, W)`` and ``n_bins = min(H, W) // 2 + 1``, so the
    rings sit on the frequencies of the shorter axis, from DC up to its Nyquist frequency;
    this holds for odd, even and non-square sizes. With ``n_bins`` given, ``d`` is chosen
    so the last ring still sits on that highest frequency. Empty rings give NaN.

    Args:
        power: a spectrum ``(B, C, H, W)``, e.g. from :func:`power_spectrum`.
        n_bins: number of rings (>= 2).
        center: ``power`` is ``fftshift``-ed (DC at ``(H // 2, W // 2)``).

    Returns:
        ``(radii, profile)``: ``radii`` ``(n_bins,)`` in cycles/pixel and ``profile``
        ``(B, C, n_bins)``, both on ``power``'s device with its dtype.

    Raises:
        SpectralTypeError: not a real float tensor, or ``n_bins`` not an int.
        SpectralValueError: wrong shape, ``H`` or ``W`` below 2, NaN/Inf, or
            ``n_bins < 2``.

    Shape:
        - power: :math:`(B, C, H, W)`
        - Output: ``radii`` :math:`(K,)` and ``profile`` :math:`(B, C, K)`, with
          ``K = n_bins`` (default ``min(H, W) // 2 + 1``)

    Examples:
        >>> radii, prof = radial_profile(torch.ones(1, 1, 8, 8))
        >>> radii.tolist(), prof[0, 0].tolist()
        ([0.0, 0.125, 0.25, 0.375, 0.5], [1.0, 1.0, 1.0, 1.0, 1.0])
        >>> radii, prof = radial_profile(torch.rand(2, 3, 16, 12), n_bins=4)
        >>> [round(r, 4) for r in radii.tolist()], prof.shape
        ([0.0, 0.1667, 0.3333, 0.5], torch.Size([2, 3, 4]))
    """
    check_images(power, "power")
    h, w = power.shape[-2:]
    short = min(h, w)
    top = (short // 2) / short  # highest frequency along the shorter axis
    if top == 0.0:
        raise SpectralValueError(f"power: expected H and W >= 2 for a radial profile, got {(h, w)}")
    if n_bins is None:
        n_bins = short // 2 + 1
    if isinstance(n_bins, bool) or not isinstance(n_bins, int | np.integer):
        raise SpectralTypeError(f"n_bins: expected an int, got {type(n_bins).__name__}")
    if n_bins < 2:
        raise SpectralValueError(f"n_bins: expected an int >= 2, got {n_bins}")
    width = top / (n_bins - 1)
    r = frequency_radius(h, w, center=center)
    idx = np.floor(r / width + 0.5).astype(np.int64).reshape(-1)
    keep = idx < n_bins
    counts = np.bincount(idx[keep], minlength=n_bins).astype(np.float64)
    dev = power.device
    flat = power.reshape(*power.shape[:2], h * w)[
        ..., torch.from_numpy(np.flatnonzero(keep)).to(dev)
    ]
    sums = torch.zeros(*power.shape[:2], n_bins, dtype=power.dtype, device=dev)
    sums = sums.index_add(-1, torch.from_numpy(idx[keep]).to(dev), flat)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(counts > 0, 1.0 / np.maximum(counts, 1), np.nan)
    profile = sums * torch.from_numpy(inv).to(device=dev, dtype=power.dtype)
    radii = torch.arange(n_bins, dtype=power.dtype, device=dev) * width
    return radii, profile


def powerlaw_slope(
    radii: torch.Tensor,
    profile: torch.Tensor,
    *,
    fmin: float | None = None,
    fmax: float | None = None,
) -> torch.Tensor:
    """Least-squares slope of ``log10(profile)`` against ``log10(radius)``.

    Natural images have radial power spectra close to ``1 / f^2`` (slope about -2);
    white noise is flat (slope 0). Rings outside ``[fmin, fmax]``, at DC, or with a
    non-positive or NaN value are left out of the fit.

    Args:
        radii: ``(n_bins,)`` from :func:`radial_profile`.
        profile: ``(..., n_bins)`` from :func:`radial_profile`.
        fmin: lowest radius used (default: the first non-zero ring).
        fmax: highest radius used (default: the last ring).

    Returns:
        Slopes of shape ``profile.shape[:-1]``; NaN where fewer than two rings qualify.

    Raises:
        SpectralValueError: ``radii`` is not 1-D, or its length differs from the last
            dimension of ``profile``.

    Shape:
        - radii: :math:`(K,)`
        - profile: :math:`(*, K)`
        - Output: :math:`(*)`

    Examples:
        >>> r = torch.tensor([0.0, 0.1, 0.2, 0.4], dtype=torch.float64)
        >>> round(powerlaw_slope(r, 3.0 * r ** -2).item(), 6)
        -2.0
        >>> prof = torch.stack([r**-1, torch.ones(4, dtype=torch.float64)])  # 1/f, white
        >>> [round(v, 6) for v in powerlaw_slope(r, prof).tolist()]
        [-1.0, 0.0]
    """
    if radii.ndim != 1 or profile.shape[-1] != radii.shape[0]:
        raise SpectralValueError(
            f"profile: expected last dimension {radii.shape[0]} matching radii "
            f"{tuple(radii.shape)}, got shape {tuple(profile.shape)}"
        )
    lo = -math.inf if fmin is None else float(fmin)
    hi = math.inf if fmax is None else float(fmax)
    sel = (radii > 0) & (radii >= lo) & (radii <= hi)
    lx = torch.log10(radii[sel].to(torch.float64))
    y = profile[..., sel].to(torch.float64)
    ok = torch.isfinite(y) & (y > 0)
    ly = torch.where(ok, torch.log10(torch.where(ok, y, torch.ones_like(y))), torch.zeros_like(y))
    okf = ok.to(torch.float64)
    n = okf.sum(-1)
    mx = (okf * lx).sum(-1) / n.clamp(min=1)
    my = (okf * ly).sum(-1) / n.clamp(min=1)
    dx = (lx - mx[..., None]) * okf
    slope = (dx * (ly - my[..., None])).sum(-1) / (dx * dx).sum(-1)
    slope = torch.where(n >= 2, slope, torch.full_like(slope, math.nan))
    return slope.to(profile.dtype)
