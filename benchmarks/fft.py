"""Speed of the spectra core per FFT backend, against two references measured in the same run.

Workloads (float32): input-like 256x3x224x224 and feature-map-like 1024x64x32x32.
For each backend it times (a) ``magnitude_spectrum`` and (b) feeding the batch into
``SpectrumAccumulator``; the references are the per-image, per-channel numpy loop
researchers usually write and a bare, pre-planned FFTW ``rfft2`` of the whole batch
(all cores), the roof for anything that must at least transform the batch.
Prints one JSON document; times are medians in milliseconds.

Usage: .venv/bin/python benchmarks/fft.py [--repeats 5] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import pyfftw
import torch

import spectral as sp
from spectral.fourier import n_workers

WORKLOADS = {"input": (256, 3, 224, 224), "feature_maps": (1024, 64, 32, 32)}
QUICK = {"input": (32, 3, 224, 224), "feature_maps": (128, 64, 32, 32)}


def interleaved_ms(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median ms of each function, timed round-robin so drift hits all of them alike."""
    for fn in fns.values():
        fn()  # warm-up: plans, caches, page faults
    runs: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            runs[k].append(time.perf_counter() - t0)
    return {k: round(1e3 * statistics.median(v), 2) for k, v in runs.items()}


def per_image_loop(a: np.ndarray) -> np.ndarray:
    """The loop researchers usually write: one image-channel at a time."""
    out = np.empty_like(a)
    for b in range(a.shape[0]):
        for c in range(a.shape[1]):
            m = np.fft.fftshift(np.log1p(np.abs(np.fft.fft2(a[b, c]))))
            out[b, c] = (m - m.min()) / (m.max() - m.min())
    return out


def bare_fftw(a: np.ndarray) -> Callable[[], object]:
    """A pre-planned FFTW rfft2 of the whole batch on all cores (planning not timed)."""
    inp = pyfftw.empty_aligned(a.shape, dtype=a.dtype)
    out = pyfftw.empty_aligned((*a.shape[:-1], a.shape[-1] // 2 + 1), dtype=np.complex64)
    plan = pyfftw.FFTW(inp, out, axes=(-2, -1), threads=n_workers(), flags=("FFTW_MEASURE",))
    inp[...] = a
    return plan


def accumulate(x: torch.Tensor, backend: str) -> None:
    sp.SpectrumAccumulator(backend=backend).update(x)


def run_workload(name: str, shape: tuple[int, ...], repeats: int) -> dict[str, object]:
    """Time every backend on one workload, with both references, interleaved."""
    x = torch.rand(*shape)
    a = x.numpy()
    loop_ms = interleaved_ms({"loop": lambda: per_image_loop(a)}, min(repeats, 3))["loop"]
    fns: dict[str, Callable[[], object]] = {"fftw": bare_fftw(a)}
    backends = ["auto", *[be.value for be in sp.fourier.available_backends()]]
    for b in backends:
        fns[f"mag:{b}"] = lambda b=b: sp.magnitude_spectrum(x, backend=b)
        fns[f"acc:{b}"] = lambda b=b: accumulate(x, b)
    ms = interleaved_ms(fns, repeats)
    fftw_ms = ms["fftw"]
    rows = [
        {
            "backend": b,
            "magnitude_spectrum_ms": ms[f"mag:{b}"],
            "accumulate_ms": ms[f"acc:{b}"],
            "magnitude_speedup_vs_loop": round(loop_ms / ms[f"mag:{b}"], 2),
            "accumulate_over_fftw_rfft2": round(ms[f"acc:{b}"] / fftw_ms, 2),
        }
        for b in backends
    ]
    auto = rows[0]
    target_speedup = 10.0 if name == "feature_maps" else 1.5
    return {
        "name": name,
        "shape": list(shape),
        "dtype": "float32",
        "auto_backend": sp.fourier.resolve_backend("auto", x).value,
        "references": {"per_image_loop_ms": loop_ms, "fftw_rfft2_ms": fftw_ms},
        "rows": rows,
        "targets": {
            "magnitude_speedup_vs_loop": {
                "need": f">= {target_speedup}",
                "got": auto["magnitude_speedup_vs_loop"],
                "met": auto["magnitude_speedup_vs_loop"] >= target_speedup,
            },
            "accumulate_over_fftw_rfft2": {
                "need": "<= 1.5",
                "got": auto["accumulate_over_fftw_rfft2"],
                "met": auto["accumulate_over_fftw_rfft2"] <= 1.5,
            },
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="small batches (smoke run)")
    args = ap.parse_args()
    torch.manual_seed(0)
    result: dict[str, object] = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "workers": n_workers(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "pyfftw": pyfftw.__version__,
        },
        "repeats": args.repeats,
        "unit": "ms (median)",
        "workloads": [],
    }
    for name, shape in (QUICK if args.quick else WORKLOADS).items():
        result["workloads"].append(run_workload(name, shape, args.repeats))  # type: ignore[union-attr]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
