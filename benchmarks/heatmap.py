"""Speed of the Fourier heat map: the library against a plain per-frequency loop.

Both compute the same quantity on ``builtin:standard`` and N built-in test images
(32x32): the error rate under each of the H*W Fourier basis perturbations.

* ``library``: :func:`spectral.fourier_heatmap` (one evaluation per mirror pair of
  frequencies, several frequencies per forward pass, channels-last weights).
* ``loop``: the direct reading of Yin et al.: for each of the H*W frequencies, perturb
  all N images and run them through the model as it is (contiguous weights, batches of
  256), as a first implementation would.

The two are timed alternately (``--repeats`` rounds, medians quoted) on ``--n-images``
images; then one library run on ``--full`` images (default 1,000, the size the issue asks
to run "in minutes") is timed once.

Usage: .venv/bin/python benchmarks/heatmap.py [--n-images 50] [--repeats 3] [--full 1000]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch

import spectral as sp
from spectral.analysis import fourier_basis, fourier_heatmap


def loop_heatmap(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float
) -> torch.Tensor:
    """Per-frequency reference: all H*W bases, contiguous model, batches of 256."""
    n, c, h, w = x.shape
    g = torch.Generator().manual_seed(0)
    heat = torch.zeros(h, w)
    model.eval()
    with torch.inference_mode():
        for r in range(h):
            for col in range(w):
                u = fourier_basis((h, w), (r - h // 2, col - w // 2))
                sign = torch.randint(0, 2, (n, c, 1, 1), generator=g) * 2 - 1
                xp = (x + eps * sign * u).clamp(0, 1)
                wrong = 0
                for i in range(0, n, 256):
                    wrong += int((model(xp[i : i + 256]).argmax(1) != y[i : i + 256]).sum())
                heat[r, col] = wrong / n
    return heat


def main() -> None:
    """Time both, print JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-images", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--full", type=int, default=1000)
    ap.add_argument("--eps", type=float, default=4.0)
    args = ap.parse_args()
    model = sp.load_model("builtin:standard")
    test = sp.load_dataset("builtin", "test", seed=0)
    x, y = test.images[: args.n_images], test.labels[: args.n_images]
    times: dict[str, list[float]] = {"library": [], "loop": []}
    maps = {}
    for _ in range(args.repeats):
        for name in times:
            t = time.perf_counter()
            if name == "library":
                maps[name] = fourier_heatmap(model, x, y, eps=args.eps)
            else:
                maps[name] = loop_heatmap(model, x, y, args.eps)
            times[name].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    full = test.subset(args.full, seed=0)
    t = time.perf_counter()
    heat = fourier_heatmap(model, full.images, full.labels, eps=args.eps)
    full_s = time.perf_counter() - t
    print(
        json.dumps(
            {
                "machine": platform.processor() or platform.machine(),
                "threads": torch.get_num_threads(),
                "n_images": args.n_images,
                "repeats": args.repeats,
                "median_s": med,
                "all_s": times,
                "speedup_library_over_loop": med["loop"] / med["library"],
                "mean_error": {k: float(m.mean()) for k, m in maps.items()},
                "full": {
                    "n_images": len(full),
                    "seconds": full_s,
                    "mean_error": float(heat.mean()),
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
