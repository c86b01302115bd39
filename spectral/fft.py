"""FFT backends and the chunked half-spectrum engine behind the spectra functions.

Four backends compute the same transforms: ``torch`` (any device, carries gradients),
``numpy``, ``scipy`` and ``pyfftw`` (CPU, no gradients). ``auto`` picks ``torch`` on
accelerators and whenever gradients are needed; on the CPU it takes the first available
backend of :func:`auto_order` (measured by ``benchmarks/fft.py``: FFTW with cached,
aligned plans is fastest here, then SciPy). :func:`calibrate` re-measures on your machine.

The CPU backends share one engine (:func:`map_half_spectra`): the batch is cut into
cache-sized chunks, each chunk is transformed with a real-to-complex FFT (the
half-spectrum, ``W // 2 + 1`` columns) and handed, while still in cache, to a callback
that does the rest of the work (magnitude, log, min-max, expansion to the full
spectrum). Chunks run on a small thread pool; FFTW plans are kept per thread and shape,
and FFTW keeps its wisdom for the life of the process (:func:`save_wisdom` /
:func:`load_wisdom` persist it).
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from spectral._validate import raise_non_finite
from spectral.errors import SpectralValueError

__all__ = [
    "Backend",
    "auto_order",
    "available_backends",
    "calibrate",
    "expand_half",
    "expand_index",
    "fft2",
    "load_wisdom",
    "map_half_spectra",
    "resolve_backend",
    "rfft2",
    "save_wisdom",
    "set_auto_order",
]

S = TypeVar("S")


class Backend(str, Enum):
    """FFT implementation used by the spectra functions."""

    AUTO = "auto"
    TORCH = "torch"
    NUMPY = "numpy"
    SCIPY = "scipy"
    PYFFTW = "pyfftw"


_CPU_ONLY = (Backend.NUMPY, Backend.SCIPY, Backend.PYFFTW)
# Fastest first, as measured by benchmarks/fft.py on the development machine (README table).
_auto_order: list[Backend] = [Backend.PYFFTW, Backend.SCIPY, Backend.NUMPY, Backend.TORCH]


@lru_cache(maxsize=1)
def _pyfftw() -> Any:
    try:
        import pyfftw
    except ImportError:  # pragma: no cover - pyfftw is a declared dependency
        return None
    return pyfftw


def available_backends() -> list[Backend]:
    """Return the concrete backends importable in this environment."""
    out = [Backend.TORCH, Backend.NUMPY, Backend.SCIPY]
    if _pyfftw() is not None:
        out.append(Backend.PYFFTW)
    return out


def auto_order() -> list[Backend]:
    """Return the CPU preference order that ``backend="auto"`` follows (fastest first)."""
    return list(_auto_order)


def set_auto_order(order: Sequence[str | Backend]) -> None:
    """Set the CPU preference order for ``backend="auto"``.

    Args:
        order: concrete backend names, fastest first. Backends left out are appended.

    Raises:
        SpectralValueError: an unknown name, or ``"auto"`` itself.
    """
    parsed = [parse_backend(b) for b in order]
    if Backend.AUTO in parsed:
        raise SpectralValueError("order: expected concrete backends, got 'auto'")
    rest = [b for b in _auto_order if b not in parsed]
    _auto_order[:] = list(dict.fromkeys(parsed)) + rest


def parse_backend(backend: str | Backend) -> Backend:
    """Turn a name into a :class:`Backend`, raising with the valid names if unknown."""
    try:
        return Backend(backend)
    except ValueError:
        valid = ", ".join(repr(b.value) for b in Backend)
        raise SpectralValueError(f"backend: expected one of {valid}, got {backend!r}") from None


def resolve_backend(backend: str | Backend, x: torch.Tensor) -> Backend:
    """Pick the concrete backend for ``x``.

    ``auto`` chooses ``torch`` when ``x`` is not on the CPU or gradients are needed
    (``x.requires_grad`` with grad mode on), else the first available of
    :func:`auto_order`. An explicit CPU backend is refused when gradients are needed,
    because its result could not carry them.

    Raises:
        SpectralValueError: unknown backend, a CPU backend with gradients, or an
            unavailable backend.
    """
    b = parse_backend(backend)
    needs_grad = x.requires_grad and torch.is_grad_enabled()
    if b is Backend.AUTO:
        if needs_grad or x.device.type != "cpu":
            return Backend.TORCH
        avail = available_backends()
        return next(c for c in _auto_order if c in avail)
    if b in _CPU_ONLY and needs_grad:
        raise SpectralValueError(
            f"backend: {b.value!r} cannot carry gradients but the input requires grad; "
            "use backend='torch' or 'auto' (or call under torch.no_grad())"
        )
    if b is Backend.PYFFTW and _pyfftw() is None:  # pragma: no cover
        raise SpectralValueError("backend: 'pyfftw' is not installed (pip install pyfftw)")
    return b


# ---------------------------------------------------------------------------------------
# Whole-array transforms (for phase spectra and tests)
# ---------------------------------------------------------------------------------------


def rfft2(a: np.ndarray, backend: Backend) -> np.ndarray:
    """Real-to-complex 2-D FFT over the last two axes with a CPU backend (dtype kept)."""
    if backend is Backend.TORCH:
        return torch.fft.rfft2(torch.from_numpy(a)).numpy()
    out = _chunk_rfft2(np.ascontiguousarray(a), backend, _n_workers())
    return out.copy() if backend is Backend.PYFFTW else out  # FFTW's buffer is reused


def fft2(a: np.ndarray, backend: Backend) -> np.ndarray:
    """Complex 2-D FFT of a real array over the last two axes with a CPU backend."""
    if backend is Backend.NUMPY:
        return np.fft.fft2(a)
    if backend is Backend.SCIPY:
        import scipy.fft

        return scipy.fft.fft2(a, workers=_n_workers())
    if backend is Backend.PYFFTW:
        half = _fftw_rfft2(np.ascontiguousarray(a), threads=_n_workers())
        h, w = a.shape[-2:]
        idx = expand_index(h, w, center=False)
        full = half.reshape(*half.shape[:-2], -1)[..., idx].reshape(*a.shape)
        # The mirrored half is the complex conjugate (Hermitian symmetry of real input).
        mirrored = np.asarray(_mirror_mask(h, w))
        np.conjugate(full, out=full, where=mirrored)
        return full
    return torch.fft.fft2(torch.from_numpy(a)).numpy()


# ---------------------------------------------------------------------------------------
# Hermitian expansion of a half spectrum to the full (optionally fftshift-ed) spectrum
# ---------------------------------------------------------------------------------------


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
    """Torch version of :func:`expand_half` (differentiable, on ``half``'s device)."""
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


# ---------------------------------------------------------------------------------------
# FFTW plans (per thread, per shape) and wisdom
# ---------------------------------------------------------------------------------------

_plan_lock = threading.Lock()  # FFTW's planner is not thread-safe
_local = threading.local()
_MAX_PLANS_PER_THREAD = 32


def _planner_flags() -> tuple[str, ...]:
    effort = os.environ.get("SPECTRAL_FFTW_PLANNER", "FFTW_MEASURE")
    if effort not in ("FFTW_ESTIMATE", "FFTW_MEASURE", "FFTW_PATIENT", "FFTW_EXHAUSTIVE"):
        raise SpectralValueError(
            "SPECTRAL_FFTW_PLANNER: expected FFTW_ESTIMATE, FFTW_MEASURE, FFTW_PATIENT or "
            f"FFTW_EXHAUSTIVE, got {effort!r}"
        )
    return (effort,)


def _get_plan(shape: tuple[int, ...], dtype: np.dtype, threads: int) -> tuple[Any, Any, Any]:
    plans: OrderedDict[tuple[Any, ...], tuple[Any, Any, Any]] | None = getattr(
        _local, "plans", None
    )
    if plans is None:
        plans = _local.plans = OrderedDict()
    key = (shape, dtype.str, threads)
    entry = plans.get(key)
    if entry is not None:
        plans.move_to_end(key)
        return entry
    pyfftw = _pyfftw()
    cdtype = np.complex64 if dtype == np.float32 else np.complex128
    with _plan_lock:
        inp = pyfftw.empty_aligned(shape, dtype=dtype)
        out = pyfftw.empty_aligned((*shape[:-1], shape[-1] // 2 + 1), dtype=cdtype)
        plan = pyfftw.FFTW(
            inp,
            out,
            axes=(-2, -1),
            threads=threads,
            flags=_planner_flags(),
            planning_timelimit=2.0,
        )
    entry = (plan, inp, out)
    plans[key] = entry
    if len(plans) > _MAX_PLANS_PER_THREAD:
        plans.popitem(last=False)
    return entry


def _fftw_rfft2(a: np.ndarray, threads: int = 1) -> np.ndarray:
    """rfft2 of a C-contiguous array with a cached plan; returns the plan's own buffer."""
    plan, inp, out = _get_plan(a.shape, a.dtype, threads)
    if a.ctypes.data % _pyfftw().simd_alignment == 0:
        plan.update_arrays(a, out)
    else:  # plans are made for aligned memory; copy the rare misaligned chunk
        plan.update_arrays(inp, out)
        inp[...] = a
    plan.execute()
    plan.update_arrays(inp, out)  # never keep a reference to the caller's array
    return out


def save_wisdom(path: str | Path) -> None:
    """Write FFTW's accumulated wisdom (planning results) to ``path``."""
    import pickle

    Path(path).write_bytes(pickle.dumps(_pyfftw().export_wisdom()))


def load_wisdom(path: str | Path) -> None:
    """Load FFTW wisdom saved by :func:`save_wisdom` so known shapes plan instantly."""
    import pickle

    _pyfftw().import_wisdom(pickle.loads(Path(path).read_bytes()))


# ---------------------------------------------------------------------------------------
# The chunked engine
# ---------------------------------------------------------------------------------------


class _NonFinite(Exception):
    """A chunk's transform is not finite (raised in a worker, reported by the caller)."""


_CHUNK_BYTES = 768 * 1024  # complex half-spectrum bytes per chunk: fits a 1 MiB L2 cache
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _n_workers() -> int:
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        n = os.cpu_count() or 1
    return max(1, min(n, torch.get_num_threads(), 8))


def _get_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(_n_workers(), thread_name_prefix="spectral-fft")
        return _pool


def _chunk_rfft2(a: np.ndarray, backend: Backend, threads: int) -> np.ndarray:
    """rfft2 of a C-contiguous array; for pyfftw the result is the plan's reused buffer."""
    if backend is Backend.PYFFTW:
        return _fftw_rfft2(a, threads)
    if backend is Backend.SCIPY:
        import scipy.fft

        return scipy.fft.rfft2(a, workers=threads)
    if backend is Backend.NUMPY:
        return np.fft.rfft2(a)
    raise SpectralValueError(f"backend: {backend.value!r} does not run on the chunked engine")


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
    """
    n = a.shape[0]
    item = math.prod(a.shape[1:-1]) * (a.shape[-1] // 2 + 1) * 2 * a.itemsize
    per_chunk = max(1, min(n, (chunk_bytes or _CHUNK_BYTES) // max(item, 1)))
    bounds = [(lo, min(lo + per_chunk, n)) for lo in range(0, n, per_chunk)]
    workers = min(_n_workers(), len(bounds))
    # A single chunk (one huge image) cannot be split across workers: let FFTW thread it.
    fft_threads = _n_workers() if workers == 1 else 1

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


# ---------------------------------------------------------------------------------------
# Measurement
# ---------------------------------------------------------------------------------------


def calibrate(shape: Sequence[int] = (64, 3, 224, 224), *, repeats: int = 3) -> dict[str, float]:
    """Time :func:`spectral.magnitude_spectrum` per CPU backend and set :func:`auto_order`.

    Args:
        shape: the batch shape ``(B, C, H, W)`` to measure on (float32 noise).
        repeats: runs per backend; the median is used.

    Returns:
        Median seconds per backend name, fastest first.
    """
    from spectral.spectra import magnitude_spectrum

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
