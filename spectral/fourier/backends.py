"""FFT backends (torch, numpy, scipy, pyfftw), their order, plans and wisdom."""

from __future__ import annotations

import os
import pickle
import threading
from collections import OrderedDict
from collections.abc import Sequence
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from spectral._internal.validate import parse_enum
from spectral.errors import SpectralValueError

__all__ = [
    "Backend",
    "auto_order",
    "available_backends",
    "load_wisdom",
    "n_workers",
    "parse_backend",
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
    """Return the concrete backends importable in this environment.

    ``torch``, ``numpy`` and ``scipy`` are always available; ``pyfftw`` only when the
    ``pyfftw`` package imports.

    Returns:
        The available backends, never :attr:`Backend.AUTO`.

    Examples:
        >>> [b.value for b in available_backends()][:3]
        ['torch', 'numpy', 'scipy']
        >>> Backend.AUTO in available_backends()
        False
    """
    out = [Backend.TORCH, Backend.NUMPY, Backend.SCIPY]
    if _pyfftw() is not None:
        out.append(Backend.PYFFTW)
    return out


def auto_order() -> list[Backend]:
    """Return the CPU preference order that ``backend="auto"`` follows (fastest first).

    Returns:
        A copy of the order: every concrete backend once, fastest first (changing the
        list does not change the order; use :func:`set_auto_order`).

    Examples:
        >>> sorted(b.value for b in auto_order())
        ['numpy', 'pyfftw', 'scipy', 'torch']
    """
    return list(_auto_order)


def set_auto_order(order: Sequence[str | Backend]) -> None:
    """Set the CPU preference order for ``backend="auto"``.

    Args:
        order: concrete backend names, fastest first. Backends left out are appended.

    Raises:
        SpectralTypeError: an entry is neither a str nor a :class:`Backend`.
        SpectralValueError: an unknown name, or ``"auto"`` itself.

    Examples:
        >>> old = auto_order()
        >>> set_auto_order(["numpy", "torch"])  # the others follow in their old order
        >>> [b.value for b in auto_order()][:2], len(auto_order())
        (['numpy', 'torch'], 4)
        >>> set_auto_order(old)  # restore
        >>> auto_order() == old
        True
    """
    parsed = [parse_backend(b) for b in order]
    if Backend.AUTO in parsed:
        raise SpectralValueError("order: expected concrete backends, got 'auto'")
    rest = [b for b in _auto_order if b not in parsed]
    _auto_order[:] = list(dict.fromkeys(parsed)) + rest


def parse_backend(backend: str | Backend) -> Backend:
    """Turn a name into a :class:`Backend`, raising with the valid names if unknown.

    Args:
        backend: a :class:`Backend` or its exact (lower-case) name: ``"auto"``,
            ``"torch"``, ``"numpy"``, ``"scipy"`` or ``"pyfftw"``.

    Returns:
        The :class:`Backend` member (``backend`` itself if it already is one).

    Raises:
        SpectralTypeError: ``backend`` is neither a str nor a :class:`Backend`.
        SpectralValueError: a str that names no backend (the message lists the valid ones).

    Examples:
        >>> parse_backend("scipy")
        <Backend.SCIPY: 'scipy'>
        >>> parse_backend(Backend.TORCH) is Backend.TORCH
        True
        >>> try:
        ...     parse_backend("cuda")
        ... except SpectralValueError as err:
        ...     print(err)
        backend: expected one of 'auto', 'torch', 'numpy', 'scipy', 'pyfftw', got 'cuda'
    """
    return parse_enum(backend, Backend, "backend")


def resolve_backend(backend: str | Backend, x: torch.Tensor) -> Backend:
    """Pick the concrete backend for ``x``.

    ``auto`` chooses ``torch`` when ``x`` is not on the CPU or gradients are needed
    (``x.requires_grad`` with grad mode on), else the first available of
    :func:`auto_order`. An explicit CPU backend is refused when gradients are needed,
    because its result could not carry them.

    Args:
        backend: a :class:`Backend` or its name, ``"auto"`` included.
        x: the tensor to transform; only its device and ``requires_grad`` are used.

    Returns:
        A concrete backend (never :attr:`Backend.AUTO`).

    Raises:
        SpectralTypeError: ``backend`` is neither a str nor a :class:`Backend`.
        SpectralValueError: unknown backend, a CPU backend with gradients, or an
            unavailable backend.

    Shape:
        - x: :math:`(*)`, any shape (usually :math:`(B, C, H, W)`)

    Examples:
        >>> x = torch.rand(1, 1, 4, 4)
        >>> resolve_backend("numpy", x)
        <Backend.NUMPY: 'numpy'>
        >>> resolve_backend("auto", x) is auto_order()[0]  # pyfftw unless reordered
        True
        >>> resolve_backend("auto", x.requires_grad_())  # gradients need torch
        <Backend.TORCH: 'torch'>
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


def rfft2(a: np.ndarray, backend: Backend) -> np.ndarray:
    """Real-to-complex 2-D FFT over the last two axes with a CPU backend (dtype kept).

    float32 input gives complex64 and float64 gives complex128 with every backend. The
    result is a fresh array (pyfftw's reused output buffer is copied).

    Args:
        a: a real float32 or float64 array.
        backend: a concrete backend, e.g. from :func:`resolve_backend`.

    Returns:
        The half spectrum ``numpy.fft.rfft2(a)`` (in ``a``'s precision).

    Raises:
        SpectralValueError: ``backend`` is :attr:`Backend.AUTO`, or (pyfftw) the
            ``SPECTRAL_FFTW_PLANNER`` environment variable is not an FFTW planner flag.

    Shape:
        - a: :math:`(*, H, W)`
        - Output: :math:`(*, H, W // 2 + 1)`

    Examples:
        >>> a = np.random.default_rng(0).random((2, 4, 6)).astype(np.float32)
        >>> f = rfft2(a, Backend.PYFFTW)
        >>> f.shape, f.dtype
        ((2, 4, 4), dtype('complex64'))
        >>> all(np.allclose(rfft2(a, b), f, atol=1e-5) for b in available_backends())
        True
    """
    if backend is Backend.TORCH:
        return torch.fft.rfft2(torch.from_numpy(a)).numpy()
    out = _chunk_rfft2(np.ascontiguousarray(a), backend, n_workers())
    return out.copy() if backend is Backend.PYFFTW else out  # FFTW's buffer is reused


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
    """Write FFTW's accumulated wisdom (planning results) to ``path``.

    Args:
        path: the file to write (a pickle of :func:`pyfftw.export_wisdom`'s result);
            replaced if it exists.

    Examples:
        >>> import tempfile
        >>> _ = rfft2(np.zeros((1, 8, 8)), Backend.PYFFTW)  # plans (and learns) a shape
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     save_wisdom(Path(folder) / "wisdom.pkl")
        ...     (Path(folder) / "wisdom.pkl").stat().st_size > 0
        True
    """
    Path(path).write_bytes(pickle.dumps(_pyfftw().export_wisdom()))


def load_wisdom(path: str | Path) -> None:
    """Load FFTW wisdom saved by :func:`save_wisdom` so known shapes plan instantly.

    Args:
        path: a file written by :func:`save_wisdom`. It is unpickled, so load only
            files you trust.

    Examples:
        >>> import tempfile
        >>> _ = rfft2(np.zeros((1, 8, 8)), Backend.PYFFTW)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     save_wisdom(Path(folder) / "wisdom.pkl")
        ...     load_wisdom(Path(folder) / "wisdom.pkl")
        >>> np.allclose(rfft2(np.ones((1, 8, 8)), Backend.PYFFTW)[0, 0, 0], 64.0)
        True
    """
    _pyfftw().import_wisdom(pickle.loads(Path(path).read_bytes()))


def n_workers() -> int:
    """Worker threads for the CPU FFTs: usable CPUs, capped by torch's threads and 8.

    Returns:
        ``max(1, min(usable CPUs, torch.get_num_threads(), 8))``.

    Examples:
        >>> 1 <= n_workers() <= min(8, torch.get_num_threads())
        True
    """
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        n = os.cpu_count() or 1
    return max(1, min(n, torch.get_num_threads(), 8))


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
