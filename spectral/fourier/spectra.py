"""Magnitude, power and phase spectra of image batches."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from spectral._internal.validate import (
    check_images,
    check_transform_finite,
)
from spectral.fourier.backends import Backend, available_backends, resolve_backend, set_auto_order
from spectral.fourier.engine import expand_half, expand_half_torch, fft2, map_half_spectra

__all__ = ["benchmark_backends", "magnitude_spectrum", "phase_spectrum", "power_spectrum"]


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
        - x: :math:`(B, C, H, W)`
        - Output: :math:`(B, C, H, W)`

    Examples:
        >>> x = torch.zeros(1, 1, 8, 8); x[0, 0, ::2, :] = 1.0  # rows alternate: f_y = 1/2
        >>> m = magnitude_spectrum(x, log=False, normalize=False)
        >>> m[0, 0, 4, 4].item(), m[0, 0, 0, 4].item()  # DC = sum, Nyquist row
        (32.0, 32.0)
        >>> m = magnitude_spectrum(torch.rand(2, 3, 16, 16))  # log1p, centred, in [0, 1]
        >>> m.shape, m.amin().item(), m.amax().item()
        (torch.Size([2, 3, 16, 16]), 0.0, 1.0)
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
        - x: :math:`(B, C, H, W)`
        - Output: :math:`(B, C, H, W)`

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
        - x: :math:`(B, C, H, W)`
        - Output: :math:`(B, C, H, W)`

    Examples:
        >>> x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
        >>> p = phase_spectrum(x)
        >>> bool((p > -torch.pi).all() and (p <= torch.pi).all())
        True
        >>> abs(p[0, 0, 4, 4].item())  # centred DC: a positive sum has phase 0
        0.0
        >>> m = magnitude_spectrum(x, log=False, center=False, normalize=False)
        >>> x_back = torch.fft.ifft2(torch.polar(m, phase_spectrum(x, center=False))).real
        >>> torch.allclose(x_back, x)  # magnitude and phase determine the image
        True
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


def benchmark_backends(
    shape: Sequence[int] = (64, 3, 224, 224), *, repeats: int = 3
) -> dict[str, float]:
    """Time :func:`spectral.magnitude_spectrum` per CPU backend and set :func:`auto_order`.

    Args:
        shape: the batch shape ``(B, C, H, W)`` to measure on (float32 noise).
        repeats: runs per backend; the median is used.

    Returns:
        Median seconds per backend name, fastest first.

    Raises:
        SpectralValueError: ``shape`` does not have four dimensions, or has a zero size.

    Examples:
        >>> from spectral.fourier.backends import auto_order
        >>> old = auto_order()
        >>> times = benchmark_backends((1, 1, 8, 8), repeats=1)
        >>> sorted(times) == sorted(b.value for b in available_backends())
        True
        >>> [b.value for b in auto_order()][: len(times)] == list(times)  # now fastest first
        True
        >>> set_auto_order(old)  # restore the previous order
    """
    x = torch.rand(*shape)
    times: dict[str, float] = {}
    for b in available_backends():
        magnitude_spectrum(x, backend=b)  # warm-up: plans, caches
        runs = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            magnitude_spectrum(x, backend=b)
            runs.append(time.perf_counter() - t0)
        times[b.value] = float(np.median(runs))
    ranked = dict(sorted(times.items(), key=lambda kv: kv[1]))
    set_auto_order(list(ranked))
    return ranked
