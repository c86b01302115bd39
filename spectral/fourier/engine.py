"""The half-spectrum engine: batched real FFTs in worker threads, expanded to full maps."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np
import torch

from spectral._internal.validate import raise_non_finite
from spectral.fourier.backends import Backend, S, _chunk_rfft2, _fftw_rfft2, n_workers

__all__ = ["expand_half", "expand_half_torch", "expand_index", "fft2", "map_half_spectra"]


@lru_cache(maxsize=128)
def _expand_index_np(h: int, w: int, center: bool) -> np.ndarray:
    i, j = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    k1, k2 = ((i - h // 2) % h, (j - w // 2) % w) if center else (i, j)
    mirror = k2 > w // 2
    k1 = np.where(mirror, (-k1) % h, k1)
    k2 = np.where(mirror, w - k2, k2)
    idx = (k1 * (w // 2 + 1) + k2).reshape(-1)
    idx.setflags(write=False)
    return idx


def expand_index(h: int, w: int, *, center: bool) -> np.ndarray:
    """Flat indices that expand a half spectrum ``(H, W//2+1)`` to the full ``(H, W)`` one.

    ``full.reshape(-1) == half.reshape(-1)[idx]`` for magnitudes and powers of a real
    signal (for complex values, mirrored entries are conjugates). With ``center`` the
    result is already ``fftshift``-ed.

    Args:
        h: spectrum height ``H``.
        w: spectrum width ``W`` (of the full spectrum, not the half one).
        center: index the ``fftshift``-ed full spectrum (DC at ``(H // 2, W // 2)``).

    Returns:
        A read-only int array of flat indices into the half spectrum (cached per
        ``(h, w, center)``).

    Shape:
        - Output: :math:`(H W,)`, indexing a flattened :math:`(H, W // 2 + 1)` half spectrum

    Examples:
        >>> x = np.random.default_rng(0).random((4, 5))
        >>> half, full = np.abs(np.fft.rfft2(x)), np.abs(np.fft.fft2(x))
        >>> idx = expand_index(4, 5, center=False)
        >>> idx.shape, np.allclose(half.reshape(-1)[idx].reshape(4, 5), full)
        ((20,), True)
        >>> shifted = half.reshape(-1)[expand_index(4, 5, center=True)].reshape(4, 5)
        >>> np.allclose(shifted, np.fft.fftshift(full))
        True
    """
    return _expand_index_np(h, w, bool(center))


@lru_cache(maxsize=128)
def _mirror_mask(h: int, w: int) -> np.ndarray:
    j = np.arange(w)
    m = np.broadcast_to(j > w // 2, (h, w)).copy()
    m.setflags(write=False)
    return m


_torch_index_cache: dict[tuple[int, int, bool, str], torch.Tensor] = {}


def expand_half_torch(half: torch.Tensor, w: int, *, center: bool) -> torch.Tensor:
    """Torch version of :func:`expand_half` (differentiable, on ``half``'s device).

    Args:
        half: a symmetric (magnitude or power) half spectrum, as from ``rfft2(x).abs()``.
        w: width ``W`` of the full spectrum (``W`` is ambiguous from ``W//2+1`` alone).
        center: return the ``fftshift``-ed full spectrum (DC at ``(H // 2, W // 2)``).

    Returns:
        The full spectrum, same dtype and device as ``half``.

    Shape:
        - half: :math:`(*, H, W // 2 + 1)`
        - Output: :math:`(*, H, W)`

    Examples:
        >>> x = torch.rand(2, 3, 4, 5, dtype=torch.float64)
        >>> full = expand_half_torch(torch.fft.rfft2(x).abs(), 5, center=True)
        >>> full.shape
        torch.Size([2, 3, 4, 5])
        >>> torch.allclose(full, torch.fft.fftshift(torch.fft.fft2(x).abs(), dim=(-2, -1)))
        True
    """
    h = half.shape[-2]
    key = (h, w, bool(center), str(half.device))
    idx = _torch_index_cache.get(key)
    if idx is None:
        idx = torch.from_numpy(expand_index(h, w, center=center).astype(np.int64)).to(half.device)
        _torch_index_cache[key] = idx
    flat = half.reshape(*half.shape[:-2], -1)
    return flat[..., idx].reshape(*half.shape[:-2], h, w)


def expand_half(half: np.ndarray, out: np.ndarray, *, center: bool) -> None:
    """Write the full spectrum of a symmetric (magnitude/power) half spectrum into ``out``.

    ``half`` has shape ``(..., H, W//2+1)``, ``out`` ``(..., H, W)``; values satisfy
    ``S[-k] == S[k]``. Uses four (or three) slice copies, no index arrays.

    Args:
        half: the half spectrum, as from ``np.abs(np.fft.rfft2(a))``.
        out: the array to fill with the full spectrum (any dtype ``half`` casts to).
        center: write the ``fftshift``-ed spectrum (DC at ``(H // 2, W // 2)``).

    Shape:
        - half: :math:`(*, H, W // 2 + 1)`
        - out: :math:`(*, H, W)`

    Examples:
        >>> a = np.random.default_rng(0).random((2, 4, 6))
        >>> out = np.empty_like(a)
        >>> expand_half(np.abs(np.fft.rfft2(a)), out, center=True)
        >>> np.allclose(out, np.fft.fftshift(np.abs(np.fft.fft2(a)), axes=(-2, -1)))
        True
    """
    h, w = out.shape[-2:]
    wh = w // 2
    if center:
        hh = h // 2
        n_pos = w - wh  # columns j >= W//2 hold frequencies 0 .. W-1-W//2
        out[..., :hh, wh:] = half[..., h - hh :, :n_pos]
        out[..., hh:, wh:] = half[..., : h - hh, :n_pos]
        if wh:  # columns j < W//2 are mirrored: half[(H//2 - i) % H, W//2 - j]
            out[..., : hh + 1, :wh] = half[..., hh::-1, wh:0:-1]
            out[..., hh + 1 :, :wh] = half[..., h - 1 : hh : -1, wh:0:-1]
    else:
        out[..., : wh + 1] = half
        n_mir = w - wh - 1  # frequencies W//2+1 .. W-1 are mirrors of W-W//2-1 .. 1
        if n_mir:
            out[..., 0, wh + 1 :] = half[..., 0, n_mir:0:-1]
            out[..., 1:, wh + 1 :] = half[..., h - 1 : 0 : -1, n_mir:0:-1]


class _NonFinite(Exception):
    """A chunk's transform is not finite (raised in a worker, reported by the caller)."""


_CHUNK_BYTES = 768 * 1024  # complex half-spectrum bytes per chunk: fits a 1 MiB L2 cache


_pool: ThreadPoolExecutor | None = None


_pool_lock = threading.Lock()


def _get_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(n_workers(), thread_name_prefix="spectral-fft")
        return _pool


def map_half_spectra(
    a: np.ndarray,
    backend: Backend,
    fn: Callable[[S, np.ndarray, int, int], None],
    init: Callable[[], S],
    *,
    name: str = "x",
    chunk_bytes: int | None = None,
) -> list[S]:
    """Run ``fn(state, half, lo, hi)`` on the rfft2 of ``a[lo:hi]`` for cache-sized chunks.

    Args:
        a: C-contiguous real array ``(N, ..., H, W)``; chunks are cut along axis 0.
        backend: a CPU backend (numpy, scipy or pyfftw).
        fn: consumes one chunk's half spectrum ``(hi - lo, ..., H, W//2+1)``. The buffer
            is reused for the next chunk, so ``fn`` must not keep it. Chunks of one
            worker run in order; different workers run concurrently.
        init: makes one state object per worker (for per-worker partial reductions).
        name: the argument name for the error raised on non-finite input.
        chunk_bytes: target size of one chunk's half spectrum (default ``_CHUNK_BYTES``).

    Returns:
        The per-worker states.

    Raises:
        SpectralValueError: ``a`` holds NaN or Inf. Checked for free on the transform: a
            non-finite value anywhere in an image makes its DC term (the sum) non-finite.

    Shape:
        - a: :math:`(N, *, H, W)`
        - half (passed to ``fn``): :math:`(hi - lo, *, H, W // 2 + 1)`

    Examples:
        >>> a = np.random.default_rng(0).random((5, 4, 4))
        >>> dc = np.empty(5)
        >>> def fn(sizes, half, lo, hi):  # each chunk: record its DC terms and its size
        ...     dc[lo:hi] = half[:, 0, 0].real
        ...     sizes.append(hi - lo)
        >>> states = map_half_spectra(a, Backend.NUMPY, fn, list, chunk_bytes=2 * 192)
        >>> sorted(n for sizes in states for n in sizes)  # 192 bytes per half spectrum
        [1, 2, 2]
        >>> np.allclose(dc, a.sum((-2, -1)))
        True
    """
    n = a.shape[0]
    item = math.prod(a.shape[1:-1]) * (a.shape[-1] // 2 + 1) * 2 * a.itemsize
    per_chunk = max(1, min(n, (chunk_bytes or _CHUNK_BYTES) // max(item, 1)))
    bounds = [(lo, min(lo + per_chunk, n)) for lo in range(0, n, per_chunk)]
    workers = min(n_workers(), len(bounds))
    # A single chunk (one huge image) cannot be split across workers: let FFTW thread it.
    fft_threads = n_workers() if workers == 1 else 1

    def run(part: Sequence[tuple[int, int]]) -> S:
        state = init()
        with np.errstate(all="ignore"):  # thread-local; non-finite input raises below
            for lo, hi in part:
                half = _chunk_rfft2(a[lo:hi], backend, fft_threads)
                if not np.isfinite(half[..., 0, 0]).all():
                    raise _NonFinite
                fn(state, half, lo, hi)
        return state

    try:
        if workers == 1:
            return [run(bounds)]
        parts = [bounds[w::workers] for w in range(workers)]
        return list(_get_pool().map(run, parts))
    except _NonFinite:
        raise_non_finite(a, name)


def fft2(a: np.ndarray, backend: Backend) -> np.ndarray:
    """Complex 2-D FFT of a real array over the last two axes with a CPU backend.

    pyfftw computes the half spectrum and fills in the other half by Hermitian symmetry;
    any other backend than numpy, scipy or pyfftw (``torch``, ``auto``) uses torch.

    Args:
        a: a real float32 or float64 array.
        backend: the backend to run.

    Returns:
        The full complex spectrum ``numpy.fft.fft2(a)``, in ``a``'s precision (complex64
        for float32, complex128 for float64).

    Raises:
        SpectralValueError: (pyfftw) the ``SPECTRAL_FFTW_PLANNER`` environment variable is
            not an FFTW planner flag.

    Shape:
        - a: :math:`(*, H, W)`
        - Output: :math:`(*, H, W)`

    Examples:
        >>> a = np.random.default_rng(0).random((2, 4, 5))
        >>> ref = np.fft.fft2(a)
        >>> [np.allclose(fft2(a, b), ref) for b in (Backend.SCIPY, Backend.PYFFTW, Backend.TORCH)]
        [True, True, True]
    """
    if backend is Backend.NUMPY:
        return np.fft.fft2(a)
    if backend is Backend.SCIPY:
        import scipy.fft

        return scipy.fft.fft2(a, workers=n_workers())
    if backend is Backend.PYFFTW:
        half = _fftw_rfft2(np.ascontiguousarray(a), threads=n_workers())
        h, w = a.shape[-2:]
        idx = expand_index(h, w, center=False)
        full = half.reshape(*half.shape[:-2], -1)[..., idx].reshape(*a.shape)
        # The mirrored half is the complex conjugate (Hermitian symmetry of real input).
        mirrored = np.asarray(_mirror_mask(h, w))
        np.conjugate(full, out=full, where=mirrored)
        return full
    return torch.fft.fft2(torch.from_numpy(a)).numpy()
