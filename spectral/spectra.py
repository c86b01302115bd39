"""Fourier spectra of image batches: magnitude, power, phase, radial profiles, bands, filters.

All functions take real ``(B, C, H, W)`` float32/float64 tensors and return tensors on
the input's device with the input's dtype. Frequencies are in cycles/pixel: the DFT bin
``(k1, k2)`` of an ``H x W`` image has frequency ``(k1 / H, k2 / W)`` (signed, in
``[-0.5, 0.5)``), and radius ``sqrt((k1/H)^2 + (k2/W)^2)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np
import torch

from spectral._validate import (
    check_cutoffs,
    check_images,
    check_positive,
    check_same_shape,
    check_transform_finite,
)
from spectral.errors import SpectralTypeError, SpectralValueError
from spectral.fft import (
    Backend,
    expand_half,
    expand_half_torch,
    fft2,
    map_half_spectra,
    resolve_backend,
)

__all__ = [
    "FilterKind",
    "SpectrumComparison",
    "SpectrumSummary",
    "band_energy",
    "channel_names",
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
]


class FilterKind(str, Enum):
    """Transfer function of :func:`lowpass` / :func:`highpass`."""

    IDEAL = "ideal"
    BUTTERWORTH = "butterworth"
    GAUSSIAN = "gaussian"


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


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------


def _as_numpy(x: torch.Tensor) -> np.ndarray:
    """(N, ..., H, W) C-contiguous numpy view of a CPU tensor (copied off other devices)."""
    return x.detach().to("cpu").contiguous().numpy()


def _back(a: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(a).to(like.device)


def _minmax_np(r: np.ndarray) -> None:
    """Min-max normalise each ``(H, W)`` slice of ``r`` to [0, 1] in place (flat -> 0)."""
    mn = r.min(axis=(-2, -1), keepdims=True)
    span = r.max(axis=(-2, -1), keepdims=True) - mn
    r -= mn
    r *= np.divide(1.0, span, out=np.zeros_like(span), where=span > 0)


def _minmax_torch(m: torch.Tensor) -> torch.Tensor:
    mn = m.amin(dim=(-2, -1), keepdim=True)
    span = m.amax(dim=(-2, -1), keepdim=True) - mn
    return (m - mn) / torch.where(span > 0, span, torch.ones_like(span))


def _half_map(x: torch.Tensor, backend: Backend, transform: Any, *, center: bool) -> torch.Tensor:
    """Full ``(B, C, H, W)`` spectrum from an in-place transform of each half-spectrum chunk."""
    b, c, h, w = x.shape
    a = _as_numpy(x).reshape(b * c, h, w)
    out = np.empty_like(a)

    def init() -> dict[tuple[int, ...], np.ndarray]:
        return {}

    def fn(bufs: dict[tuple[int, ...], np.ndarray], half: np.ndarray, lo: int, hi: int) -> None:
        r = bufs.get(half.shape)
        if r is None:
            r = bufs[half.shape] = np.empty(half.shape, dtype=a.dtype)
        np.abs(half, out=r)
        transform(r)
        expand_half(r, out[lo:hi], center=center)

    map_half_spectra(a, backend, fn, init)
    return _back(out.reshape(b, c, h, w), x)


# ---------------------------------------------------------------------------------------
# spectra
# ---------------------------------------------------------------------------------------


def magnitude_spectrum(
    x: torch.Tensor,
    *,
    log: bool = True,
    center: bool = True,
    normalize: bool = True,
    backend: str | Backend = "auto",
) -> torch.Tensor:
    """Amplitude spectrum per image and channel, as in the BlurNet figures.

    Computes ``|F|`` of the 2-D DFT, then optionally ``log(1 + |F|)``, ``fftshift``
    (DC in the centre) and a min-max normalisation of each ``(H, W)`` map to [0, 1]
    (a constant map becomes all zeros).

    Args:
        x: real images or feature maps.
        log: apply ``log1p``.
        center: move the DC term to ``(H // 2, W // 2)``.
        normalize: min-max normalise each image/channel to [0, 1].
        backend: ``"auto"``, ``"torch"``, ``"numpy"``, ``"scipy"`` or ``"pyfftw"``.

    Returns:
        Tensor like ``x``.

    Raises:
        SpectralTypeError: not a real float32/float64 tensor.
        SpectralValueError: wrong shape, empty, NaN/Inf, or unknown backend.

    Shape:
        ``(B, C, H, W) -> (B, C, H, W)``

    Examples:
        >>> x = torch.zeros(1, 1, 8, 8); x[0, 0, ::2, :] = 1.0  # rows alternate: f_y = 1/2
        >>> m = magnitude_spectrum(x, log=False, normalize=False)
        >>> m[0, 0, 4, 4].item(), m[0, 0, 0, 4].item()  # DC = sum, Nyquist row
        (32.0, 32.0)
    """
    check_images(x, check_finite=False)
    b = resolve_backend(backend, x)
    w = x.shape[-1]
    if b is Backend.TORCH:
        f = torch.fft.rfft2(x)
        check_transform_finite(f, x)
        m = f.abs()
        if log:
            m = torch.log1p(m)
        if normalize:
            m = _minmax_torch(m)
        return expand_half_torch(m, w, center=center)

    def transform(r: np.ndarray) -> None:
        if log:
            np.log1p(r, out=r)
        if normalize:
            _minmax_np(r)

    return _half_map(x, b, transform, center=center)


def power_spectrum(
    x: torch.Tensor, *, center: bool = True, backend: str | Backend = "auto"
) -> torch.Tensor:
    """Power spectrum ``|F|^2 / (H * W)`` per image and channel.

    With this scaling Parseval's theorem reads ``P.sum((-2, -1)) == (x ** 2).sum((-2, -1))``.

    Args:
        x: real images or feature maps.
        center: ``fftshift`` the result (DC at ``(H // 2, W // 2)``).
        backend: FFT backend (see :mod:`spectral.fft`).

    Returns:
        Tensor like ``x``.

    Raises:
        SpectralTypeError: not a real float32/float64 tensor.
        SpectralValueError: wrong shape, empty, NaN/Inf, or unknown backend.

    Shape:
        ``(B, C, H, W) -> (B, C, H, W)``

    Examples:
        >>> x = torch.rand(2, 3, 16, 12, dtype=torch.float64)
        >>> torch.allclose(power_spectrum(x).sum((-2, -1)), (x ** 2).sum((-2, -1)))
        True
    """
    check_images(x, check_finite=False)
    b = resolve_backend(backend, x)
    h, w = x.shape[-2:]
    scale = 1.0 / (h * w)
    if b is Backend.TORCH:
        f = torch.fft.rfft2(x)
        check_transform_finite(f, x)
        p = (f.real.square() + f.imag.square()) * scale
        return expand_half_torch(p, w, center=center)

    def transform(r: np.ndarray) -> None:
        np.multiply(r, r, out=r)
        r *= r.dtype.type(scale)

    return _half_map(x, b, transform, center=center)


def phase_spectrum(
    x: torch.Tensor, *, center: bool = True, backend: str | Backend = "auto"
) -> torch.Tensor:
    """Phase ``angle(F)`` in ``(-pi, pi]`` per image and channel.

    The phase of bins with (numerically) zero amplitude is arbitrary; mask them with
    :func:`magnitude_spectrum` if that matters.

    Args:
        x: real images or feature maps.
        center: ``fftshift`` the result.
        backend: FFT backend.

    Returns:
        Tensor like ``x``.

    Raises:
        SpectralTypeError: not a real float32/float64 tensor.
        SpectralValueError: wrong shape, empty, NaN/Inf, or unknown backend.

    Shape:
        ``(B, C, H, W) -> (B, C, H, W)``
    """
    check_images(x)
    b = resolve_backend(backend, x)
    if b is Backend.TORCH:
        p = torch.angle(torch.fft.fft2(x))
        # a -0.0 imaginary part gives -pi; the range is (-pi, pi]
        p = torch.where(p == -torch.pi, torch.full_like(p, torch.pi), p)
        return torch.fft.fftshift(p, dim=(-2, -1)) if center else p
    a = _as_numpy(x)
    ph = np.angle(fft2(a, b)).astype(a.dtype, copy=False)
    pi = ph.dtype.type(np.pi)
    ph[ph == -pi] = pi  # scipy yields -0.0 imaginary parts for real bins
    if center:
        ph = np.fft.fftshift(ph, axes=(-2, -1))
    return _back(np.ascontiguousarray(ph), x)


# ---------------------------------------------------------------------------------------
# radial profiles and bands
# ---------------------------------------------------------------------------------------


def radial_profile(
    power: torch.Tensor, *, n_bins: int | None = None, centered: bool = True
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
        centered: ``power`` is ``fftshift``-ed (DC at ``(H // 2, W // 2)``).

    Returns:
        ``(radii, profile)``: ``radii`` ``(n_bins,)`` in cycles/pixel and ``profile``
        ``(B, C, n_bins)``, both on ``power``'s device with its dtype.

    Raises:
        SpectralTypeError: not a real float tensor.
        SpectralValueError: wrong shape, NaN/Inf, or ``n_bins < 2``.

    Examples:
        >>> radii, prof = radial_profile(torch.ones(1, 1, 8, 8))
        >>> radii.tolist(), prof[0, 0].tolist()
        ([0.0, 0.125, 0.25, 0.375, 0.5], [1.0, 1.0, 1.0, 1.0, 1.0])
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
    r = frequency_radius(h, w, center=centered)
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
        SpectralValueError: mismatched lengths.

    Examples:
        >>> r = torch.tensor([0.0, 0.1, 0.2, 0.4], dtype=torch.float64)
        >>> round(powerlaw_slope(r, 3.0 * r ** -2).item(), 6)
        -2.0
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


def _band_weights(h: int, w: int, cutoffs: tuple[float, float], dtype: Any) -> np.ndarray:
    """``(H * (W//2+1), 4)`` weights summing half-spectrum power into low/mid/high bands + DC.

    Columns ``1 .. ceil(W/2)-1`` stand for themselves and their mirror (weight 2); the DC
    column and, for even ``W``, the Nyquist column stand alone (weight 1). The DC bin is in
    no band; the fourth output column is its power.
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


def _band_fractions(
    e: torch.Tensor, n_pixels: int, eps_dtype: torch.dtype | None = None
) -> torch.Tensor:
    """Low/mid/high fractions from ``(..., 4)`` band + DC powers; NaN where no non-DC energy.

    Non-DC energy at or below the FFT's round-off, ``64 eps^2 log2(N)`` of the total
    energy, counts as none: a constant image gives NaN, not fractions of round-off.
    """
    bands = e[..., :3]
    non_dc = bands.sum(-1, keepdim=True)
    eps = torch.finfo(eps_dtype or e.dtype).eps  # the precision the spectrum was made in
    noise = 64 * eps**2 * math.log2(max(n_pixels, 2)) * (non_dc + e[..., 3:])
    return bands / torch.where(non_dc > noise, non_dc, torch.full_like(non_dc, math.nan))


def band_energy(
    x: torch.Tensor,
    *,
    cutoffs: tuple[float, float] = (1 / 8, 1 / 4),
    backend: str | Backend = "auto",
) -> torch.Tensor:
    """Fractions of non-DC spectral energy in a low, mid and high frequency band.

    Bands by radius ``r`` in cycles/pixel: low ``0 < r < c1``, mid ``c1 <= r < c2``,
    high ``r >= c2`` (the corners beyond 0.5 count as high). The three fractions sum to 1;
    an image/channel without non-DC energy (a constant, up to FFT round-off) gives NaN.

    Args:
        x: real images, perturbations or feature maps.
        cutoffs: ``(c1, c2)`` with ``0 < c1 < c2``.
        backend: FFT backend.

    Returns:
        ``(B, C, 3)`` tensor like ``x``: ``[..., 0]`` low, ``[..., 1]`` mid, ``[..., 2]`` high.

    Raises:
        SpectralTypeError: not a real float32/float64 tensor.
        SpectralValueError: wrong shape, NaN/Inf, bad cutoffs or unknown backend.

    Examples:
        >>> x = torch.zeros(1, 1, 16, 16, dtype=torch.float64)
        >>> x[..., ::2] = 1.0  # columns alternate: all non-DC energy at f_x = 1/2
        >>> band_energy(x)[0, 0].tolist()
        [0.0, 0.0, 1.0]
    """
    check_images(x, check_finite=False)
    cut = check_cutoffs(cutoffs)
    b = resolve_backend(backend, x)
    bsz, c, h, w = x.shape
    if b is Backend.TORCH:
        f = torch.fft.rfft2(x)
        check_transform_finite(f, x)
        p = (f.real.square() + f.imag.square()).reshape(bsz, c, -1)
        wts = torch.from_numpy(_band_weights(h, w, cut, np.float64)).to(x.device, x.dtype)
        e = p @ wts
    else:
        a = _as_numpy(x).reshape(bsz * c, h, w)
        wts_np = _band_weights(h, w, cut, a.dtype)
        e_np = np.empty((bsz * c, 4), dtype=a.dtype)

        def fn(_: None, half: np.ndarray, lo: int, hi: int) -> None:
            p = np.abs(half)
            np.multiply(p, p, out=p)
            np.matmul(p.reshape(hi - lo, -1), wts_np, out=e_np[lo:hi])

        map_half_spectra(a, b, fn, lambda: None)
        e = _back(e_np, x).reshape(bsz, c, 4)
    return _band_fractions(e, h * w)


# ---------------------------------------------------------------------------------------
# filters
# ---------------------------------------------------------------------------------------


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
        SpectralTypeError: not a real float tensor.
        SpectralValueError: bad shape, NaN/Inf, radius <= 0, unknown kind, bad order.

    Examples:
        >>> x = torch.rand(1, 1, 8, 8, dtype=torch.float64)
        >>> torch.allclose(lowpass(x, 0.01), x.mean((-2, -1), keepdim=True).expand_as(x))
        True
    """
    check_images(x)
    rad = check_positive(radius, "radius")
    try:
        k = FilterKind(kind)
    except ValueError:
        valid = ", ".join(repr(v.value) for v in FilterKind)
        raise SpectralValueError(f"kind: expected one of {valid}, got {kind!r}") from None
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise SpectralValueError(f"order: expected an int >= 1, got {order!r}")
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

    Examples:
        >>> x = torch.rand(1, 1, 8, 8, dtype=torch.float64)
        >>> highpass(x, 0.01).mean().abs().item() < 1e-12  # DC removed
        True
    """
    return x - lowpass(x, radius, kind=kind, order=order)


# ---------------------------------------------------------------------------------------
# clean vs adversarial
# ---------------------------------------------------------------------------------------


def _json_list(t: torch.Tensor) -> Any:
    """Nested lists of floats with NaN as None (valid JSON)."""
    a = t.detach().to("cpu", torch.float64).numpy().astype(object)
    a[np.isnan(a.astype(np.float64))] = None
    return a.tolist()


BAND_NAMES = ("low", "mid", "high")


def channel_names(c: int) -> list[str]:
    """Display names of the channels of a ``c``-channel image: R, G, B / grey / ch0...

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
    cutoffs: tuple[float, float] = field(default=(1 / 8, 1 / 4))

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
            return list(_json_list(v))

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
                "clean": _json_list(self.band_energy_clean),
                "adversarial": _json_list(self.band_energy_adversarial),
                "perturbation": _json_list(self.band_energy_perturbation),
            }
        return out


def compare_spectra(
    clean: torch.Tensor,
    adversarial: torch.Tensor,
    *,
    cutoffs: tuple[float, float] = (1 / 8, 1 / 4),
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
        SpectralValueError: shapes or devices differ, NaN/Inf, bad cutoffs.

    Examples:
        >>> x = torch.rand(2, 3, 16, 16, dtype=torch.float64)
        >>> cmp = compare_spectra(x, x + 0.01 * torch.randn_like(x))
        >>> cmp.difference.shape, cmp.band_energy_perturbation.shape
        (torch.Size([2, 3, 16, 16]), torch.Size([2, 3, 3]))
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
            "band_energy": _json_list(self.band_energy),
            "radial_slope": _json_list(self.slope),
        }


def spectrum_summary(
    x: torch.Tensor,
    *,
    cutoffs: tuple[float, float] = (1 / 8, 1 / 4),
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
        SpectralValueError: bad shape, NaN/Inf, bad cutoffs or backend.

    Examples:
        >>> s = spectrum_summary(torch.rand(2, 3, 16, 16))
        >>> s.slope.shape, s.band_energy.shape
        (torch.Size([2, 3]), torch.Size([2, 3, 3]))
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
