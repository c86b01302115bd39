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
    return parse_enum(backend, Backend, "backend")


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


def rfft2(a: np.ndarray, backend: Backend) -> np.ndarray:
    """Real-to-complex 2-D FFT over the last two axes with a CPU backend (dtype kept)."""
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
    """Write FFTW's accumulated wisdom (planning results) to ``path``."""
    Path(path).write_bytes(pickle.dumps(_pyfftw().export_wisdom()))


def load_wisdom(path: str | Path) -> None:
    """Load FFTW wisdom saved by :func:`save_wisdom` so known shapes plan instantly."""
    _pyfftw().import_wisdom(pickle.loads(Path(path).read_bytes()))


def n_workers() -> int:
    """Worker threads for the CPU FFTs: usable CPUs, capped by torch's threads and 8."""
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
