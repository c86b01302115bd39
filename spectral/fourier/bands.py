"""Frequency bands: names, default cutoffs, masks and the energy in each band."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from spectral._internal.validate import (
    check_images,
    check_transform_finite,
)
from spectral.errors import SpectralValueError
from spectral.fourier.backends import Backend, resolve_backend
from spectral.fourier.engine import map_half_spectra
from spectral.fourier.radial import frequency_radius
from spectral.fourier.spectra import _as_numpy, _back

__all__ = [
    "BAND_NAMES",
    "DEFAULT_CUTOFFS",
    "band_energy",
    "band_fractions",
    "band_weights",
    "check_cutoffs",
]

#: Default band edges (low/mid, mid/high) in cycles/pixel: 1/8 and 1/4 of the sampling rate.
DEFAULT_CUTOFFS: tuple[float, float] = (1 / 8, 1 / 4)


def band_weights(h: int, w: int, cutoffs: tuple[float, float], dtype: Any) -> np.ndarray:
    """``(H * (W//2+1), 4)`` weights summing half-spectrum power into low/mid/high bands + DC.

    Columns ``1 .. ceil(W/2)-1`` stand for themselves and their mirror (weight 2); the DC
    column and, for even ``W``, the Nyquist column stand alone (weight 1). The DC bin is in
    no band; the fourth output column is its power.

    Args:
        h: image height ``H``.
        w: image width ``W``.
        cutoffs: ``(c1, c2)`` band edges in cycles/pixel, ``0 < c1 < c2`` (not validated).
        dtype: numpy dtype of the result.

    Returns:
        Weights ``wts`` such that ``power.reshape(N, -1) @ wts`` gives, per row of the
        ``rfft2`` power ``(N, H, W//2+1)``, the low, mid and high band powers and the DC
        power of the full spectrum.

    Shape:
        - Output: :math:`(H (W // 2 + 1), 4)`

    Examples:
        >>> wts = band_weights(16, 16, DEFAULT_CUTOFFS, np.float32)
        >>> wts.shape, wts.dtype
        ((144, 4), dtype('float32'))
        >>> wts.sum(0).tolist()  # bins per band of the full 16x16 spectrum; DC alone
        [8.0, 36.0, 211.0, 1.0]
    """
    r = frequency_radius(h, w, half=True)
    wh = w // 2 + 1
    col_w = np.full(wh, 2.0)
    col_w[0] = 1.0
    if w % 2 == 0:
        col_w[-1] = 1.0
    weight = np.broadcast_to(col_w, (h, wh)).copy()
    weight[0, 0] = 0.0
    c1, c2 = cutoffs
    dc = np.zeros((h, wh))
    dc[0, 0] = 1.0
    bands = np.stack([r < c1, (r >= c1) & (r < c2), r >= c2], axis=-1) * weight[..., None]
    return np.concatenate([bands, dc[..., None]], axis=-1).reshape(h * wh, 4).astype(dtype)


def band_fractions(
    e: torch.Tensor, n_pixels: int, eps_dtype: torch.dtype | None = None
) -> torch.Tensor:
    """Low/mid/high fractions from ``(..., 4)`` band + DC powers; NaN where no non-DC energy.

    Non-DC energy at or below the FFT's round-off, ``64 eps^2 log2(N)`` of the total
    energy, counts as none: a constant image gives NaN, not fractions of round-off.

    Args:
        e: low, mid, high and DC powers in the last dimension, e.g. the output of
            ``power @ band_weights(...)``.
        n_pixels: ``H * W`` of the images (sets the round-off threshold).
        eps_dtype: the dtype the spectrum was computed in, whose machine epsilon sets
            the threshold (default: ``e.dtype``).

    Returns:
        The low/mid/high fractions of the non-DC power, summing to 1, NaN where there is
        no non-DC power; dtype and device of ``e``.

    Shape:
        - e: :math:`(*, 4)`
        - Output: :math:`(*, 3)`

    Examples:
        >>> e = torch.tensor([[1.0, 2.0, 1.0, 5.0], [0.0, 0.0, 0.0, 5.0]], dtype=torch.float64)
        >>> band_fractions(e, 16).tolist()  # the second row is a constant image
        [[0.25, 0.5, 0.25], [nan, nan, nan]]
    """
    bands = e[..., :3]
    non_dc = bands.sum(-1, keepdim=True)
    eps = torch.finfo(eps_dtype or e.dtype).eps  # the precision the spectrum was made in
    noise = 64 * eps**2 * math.log2(max(n_pixels, 2)) * (non_dc + e[..., 3:])
    return bands / torch.where(non_dc > noise, non_dc, torch.full_like(non_dc, math.nan))


def band_energy(
    x: torch.Tensor,
    *,
    cutoffs: tuple[float, float] = DEFAULT_CUTOFFS,
    backend: str | Backend = "auto",
) -> torch.Tensor:
    """Fractions of non-DC spectral energy in a low, mid and high frequency band.

    Bands by radius ``r`` in cycles/pixel: low ``0 < r < c1``, mid ``c1 <= r < c2``,
    high ``r >= c2`` (the corners beyond 0.5 count as high). The three fractions sum to 1;
    an image/channel without non-DC energy (a constant, up to FFT round-off) gives NaN.

    Args:
        x: real images, perturbations or feature maps.
        cutoffs: ``(c1, c2)`` with ``0 < c1 < c2 <= sqrt(2)/2`` and ``c2`` at most the
            largest radius of an ``H x W`` spectrum (see :func:`check_cutoffs`); a low
            band below the lowest non-zero frequency (``1 / max(H, W)``) is empty and
            gets 0.
        backend: FFT backend.

    Returns:
        ``(B, C, 3)`` tensor like ``x``: ``[..., 0]`` low, ``[..., 1]`` mid, ``[..., 2]`` high.

    Raises:
        SpectralTypeError: not a real float32/float64 tensor.
        SpectralValueError: wrong shape, NaN/Inf, bad cutoffs or unknown backend.

    Shape:
        - x: :math:`(B, C, H, W)`
        - Output: :math:`(B, C, 3)`

    Examples:
        >>> x = torch.zeros(1, 1, 16, 16, dtype=torch.float64)
        >>> x[..., ::2] = 1.0  # columns alternate: all non-DC energy at f_x = 1/2
        >>> band_energy(x)[0, 0].tolist()
        [0.0, 0.0, 1.0]
        >>> e = band_energy(torch.rand(2, 3, 16, 16))
        >>> e.shape, bool(torch.allclose(e.sum(-1), torch.ones(2, 3)))
        (torch.Size([2, 3, 3]), True)
    """
    check_images(x, check_finite=False)
    cut = check_cutoffs(cutoffs, (x.shape[-2], x.shape[-1]), every_band=False)
    b = resolve_backend(backend, x)
    bsz, c, h, w = x.shape
    if b is Backend.TORCH:
        f = torch.fft.rfft2(x)
        check_transform_finite(f, x)
        p = (f.real.square() + f.imag.square()).reshape(bsz, c, -1)
        wts = torch.from_numpy(band_weights(h, w, cut, np.float64)).to(x.device, x.dtype)
        e = p @ wts
    else:
        a = _as_numpy(x).reshape(bsz * c, h, w)
        wts_np = band_weights(h, w, cut, a.dtype)
        e_np = np.empty((bsz * c, 4), dtype=a.dtype)

        def fn(_: None, half: np.ndarray, lo: int, hi: int) -> None:
            p = np.abs(half)
            np.multiply(p, p, out=p)
            np.matmul(p.reshape(hi - lo, -1), wts_np, out=e_np[lo:hi])

        map_half_spectra(a, b, fn, lambda: None)
        e = _back(e_np, x).reshape(bsz, c, 4)
    return band_fractions(e, h * w)


BAND_NAMES = ("low", "mid", "high")


#: The largest radius of any DFT bin, in cycles/pixel: the corner (1/2, 1/2) of an even
#: image. (0.5 is the Nyquist frequency along an axis.)
MAX_RADIUS = math.sqrt(0.5)


def check_cutoffs(
    cutoffs: Any, size: tuple[int, int] | None = None, *, every_band: bool = True
) -> tuple[float, float]:
    """Validate band cutoffs ``(low_mid, mid_high)`` in cycles/pixel.

    Radii run from 0 up to 0.5 along the axes and up to ``sqrt(2)/2 ~ 0.7071`` in the
    corners of an even-sized spectrum, so every image needs ``0 < c1 < c2 <= 0.7071``;
    a larger ``c2`` leaves the high band (``r >= c2``) empty for every image. With
    ``size`` the cutoffs are also checked against the bins of an ``H x W`` spectrum:
    each band must hold at least one non-DC bin (only the high band, i.e.
    ``c2 <= `` the image's largest radius, when ``every_band`` is false; small images
    can then have an empty low band, e.g. ``8 x 8`` with the defaults, whose lowest
    non-zero frequency is 1/8).

    Args:
        cutoffs: two numbers ``(c1, c2)``: the low/mid and mid/high band edges.
        size: ``(H, W)`` of the images the bands will be taken of, or ``None``.
        every_band: with ``size``, require a bin in every band, not only in the high one.

    Returns:
        ``(c1, c2)`` as floats.

    Raises:
        SpectralValueError: ``cutoffs`` is not two numbers, not ``0 < c1 < c2 <= 0.7071``,
            or (with ``size``) leaves a band without any frequency of an ``H x W`` image.

    Examples:
        >>> check_cutoffs([0.1, 0.3])
        (0.1, 0.3)
        >>> try:
        ...     check_cutoffs((0.3, 0.1))
        ... except SpectralValueError as err:
        ...     print(err)  # doctest: +NORMALIZE_WHITESPACE
        cutoffs: expected 0 < low/mid < mid/high <= 0.7071 cycles/pixel (radii reach 0.5
        along the axes, sqrt(2)/2 in the corners), got (0.3, 0.1)
        >>> try:
        ...     check_cutoffs((0.1, 0.6), (5, 5))
        ... except SpectralValueError as err:
        ...     print(err)  # doctest: +NORMALIZE_WHITESPACE
        cutoffs: (0.1, 0.6) leave the high band empty for 5x5 images: expected
        mid/high <= 0.5657, its largest frequency radius (cycles/pixel)
    """
    try:
        c1, c2 = (float(c) for c in cutoffs)
    except (TypeError, ValueError):
        raise SpectralValueError(
            f"cutoffs: expected two numbers (low/mid, mid/high) in cycles/pixel, got {cutoffs!r}"
        ) from None
    if not (0.0 < c1 < c2 <= MAX_RADIUS):
        raise SpectralValueError(
            f"cutoffs: expected 0 < low/mid < mid/high <= {MAX_RADIUS:.4f} cycles/pixel (radii "
            f"reach 0.5 along the axes, sqrt(2)/2 in the corners), got ({c1:g}, {c2:g})"
        )
    if size is not None:
        _check_bands_filled(c1, c2, *size, every_band=every_band)
    return c1, c2


def _check_bands_filled(c1: float, c2: float, h: int, w: int, *, every_band: bool) -> None:
    r = frequency_radius(h, w, half=True)
    r = r[r > 0]
    where = f"cutoffs: ({c1:g}, {c2:g}) leave the {{}} band empty for {h}x{w} images: expected"
    if r.size == 0:  # a 1x1 image: nothing but DC
        if every_band:
            raise SpectralValueError(f"cutoffs: {h}x{w} images have no frequency but DC")
        return
    lo, hi = float(r.min()), float(r.max())
    if not bool((r >= c2).any()):
        raise SpectralValueError(
            where.format("high") + f" mid/high <= {hi:.4g}, its largest frequency radius "
            "(cycles/pixel)"
        )
    if not every_band:
        return
    if not bool((r < c1).any()):
        raise SpectralValueError(
            where.format("low") + f" low/mid > {lo:.4g}, its lowest non-zero frequency "
            "(cycles/pixel)"
        )
    if not bool(((r >= c1) & (r < c2)).any()):
        raise SpectralValueError(
            where.format("mid") + f" a frequency radius in [low/mid, mid/high); its radii "
            f"run from {lo:.4g} to {hi:.4g} cycles/pixel"
        )
