"""Speed of the Fourier heat map: the library against ports of the two reference loops.

All three compute the same quantity on ``builtin:standard`` and N built-in test images
(32x32, eps 4, random sign per channel, clip to [0, 1]): the error rate under each
Fourier basis perturbation.

* ``library``: :func:`spectral.fourier_heatmap` (one evaluation per mirror pair of
  frequencies: 514 at 32x32; several frequencies per forward pass of up to 64 images;
  channels-last weights; no autograd).
* ``gatheluck``: a port of gatheluck/FourierHeatmap's ``eval_fourier_heatmap``: for each
  of the H x (W/2 + 1) = 544 half-plane spectra, the basis is made with ``irfftn`` of a
  one-hot spectrum, a transform adds ``eps * basis`` with a Python ``random`` sign per
  channel to each image as the dataset hands it out, a ``DataLoader`` (batch 512, as
  its configuration) collates the images and the model (contiguous, eval, no_grad)
  scores them. The reference hard-codes ``num_workers=8``; on this 2-core machine the
  port uses 0 (workers would only add process start-up per frequency), which favours
  the reference.
* ``google``: a port of google-research ``frequency_analysis/freq_heatmap.py``: the whole
  (H, W, H, W) basis tensor is built up front with ``numpy.fft.ifft2`` (one basis per
  mirror pair, stored at both cells), then for each of the H x W cells the perturbed
  batch is made in numpy (NHWC, ``np.random.binomial`` signs per image and channel,
  ``np.clip``) and fed to the model as one batch (``batch_size=-1``, its default), as
  its TensorFlow session would be fed; the model runs under ``torch.no_grad``.

* ``library_bf16`` (only where bfloat16 is fast: a CPU with AMX, or ``--bf16 yes``):
  the library with ``precision="bfloat16"`` (autocast).

Ports are written from the references' published logic, not copied. They run
alternately (``--repeats`` rounds; medians quoted) on the same ``--n-images`` images.

Usage: .venv/bin/python benchmarks/heatmap.py [--n-images 20] [--repeats 3] [--bf16 auto]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import time
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

import spectral as sp
from spectral.analysis import fourier_heatmap


class _NoisyImages(Dataset):  # type: ignore[type-arg]
    """A dataset whose transform adds ``basis`` with a random sign per channel, then clips."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, basis: torch.Tensor) -> None:
        self.x, self.y, self.basis = x, y, basis

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        img = self.x[i]
        noise = self.basis.unsqueeze(0).repeat(img.shape[0], 1, 1)
        for c in range(img.shape[0]):
            noise[c] *= random.randrange(-1, 2, 2)
        return torch.clamp(img + noise, 0.0, 1.0), int(self.y[i])


def gatheluck_heatmap(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float
) -> torch.Tensor:
    """Port of the per-spectrum DataLoader loop; returns the full (H, W) map by symmetry."""
    h = x.shape[-1]
    half = h // 2 + 1
    errors = torch.zeros(h * half)
    order = torch.arange(h * half)
    order = torch.cat([order[h * half // 2 :], order[: h * half // 2]])  # low frequency centred
    model.eval()
    for i, idx in enumerate(order):
        spectrum = torch.nn.functional.one_hot(idx, num_classes=h * half).view(h, half).float()
        basis = torch.fft.irfftn(spectrum, s=(h, h), dim=(-2, -1))
        basis = basis / basis.norm(dim=(-2, -1)) * eps
        loader = DataLoader(_NoisyImages(x, y, basis), batch_size=512, shuffle=False)
        wrong = total = 0
        with torch.no_grad():
            for xb, yb in loader:
                wrong += int((model(xb).argmax(1) != yb).sum())
                total += len(yb)
        errors[i] = wrong / total
    m = errors.view(h, half)
    right = m[1:, :-1]
    return torch.cat([torch.flip(right, (0, 1))[:, :-1], right], dim=1)


def _google_bases(h: int, w: int) -> np.ndarray:
    """The (H, W, H, W) real Fourier bases, one per mirror pair stored at both cells."""
    done = np.zeros((h, w), dtype=bool)
    bases = np.zeros((h, w, h, w), dtype=np.float32)
    for i in range(h):
        for j in range(w):
            if done[i, j]:
                continue
            si, sj = (
                (h - i) % h if h % 2 == 0 else h - 1 - i,
                (w - j) % w if w % 2 == 0 else w - 1 - j,
            )
            freq = np.zeros((h, w), dtype=np.complex64)
            if (si, sj) == (i, j):
                freq[i, j] = 1.0
            else:
                freq[i, j], freq[si, sj] = 0.5 + 0.5j, 0.5 - 0.5j
            b = np.sqrt(h * w) * np.real(np.fft.ifft2(np.fft.ifftshift(freq)))
            bases[i, j] = bases[si, sj] = b
            done[i, j] = done[si, sj] = True
    return bases


def google_heatmap(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float
) -> torch.Tensor:
    """Port of the per-cell numpy loop over all H x W bases (one batch of all images)."""
    n, c, h, w = x.shape
    images = x.permute(0, 2, 3, 1).numpy()  # NHWC, as the reference takes them
    labels = y.numpy()
    bases = _google_bases(h, w)
    heat = np.zeros((h, w), dtype=np.float32)
    model.eval()
    for i in range(h):
        for j in range(w):
            flip = 2.0 * np.random.binomial(1, 0.5, size=n * c) - 1.0  # noqa: NPY002 (as the reference)
            pert = np.outer(flip, bases[i, j].reshape(-1)).reshape(n, c, h, w)
            batch = np.clip(images + eps * np.transpose(pert, (0, 2, 3, 1)), 0.0, 1.0)
            with torch.no_grad():
                t = torch.from_numpy(np.ascontiguousarray(batch.transpose(0, 3, 1, 2))).float()
                heat[i, j] = float((model(t).argmax(1).numpy() != labels).mean())
    return torch.from_numpy(heat)


def has_amx() -> bool:
    """Whether this CPU advertises AMX bfloat16 tiles (``amx_bf16`` in /proc/cpuinfo)."""
    try:
        with open("/proc/cpuinfo") as f:
            return "amx_bf16" in f.read()
    except OSError:
        return False


def main() -> None:
    """Time the three, print JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-images", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--eps", type=float, default=4.0)
    ap.add_argument("--bf16", choices=("auto", "yes", "no"), default="auto")
    args = ap.parse_args()
    model = sp.load_model("builtin:standard")
    test = sp.load_dataset("builtin", "test", seed=0)
    x, y = test.images[: args.n_images], test.labels[: args.n_images]
    np.random.seed(0)  # noqa: NPY002 (the reference draws from the legacy global state)
    random.seed(0)
    runs: dict[str, Any] = {
        "library": lambda: fourier_heatmap(model, x, y, eps=args.eps),
        "gatheluck": lambda: gatheluck_heatmap(model, x, y, args.eps),
        "google": lambda: google_heatmap(model, x, y, args.eps),
    }
    if args.bf16 == "yes" or (args.bf16 == "auto" and has_amx()):
        runs["library_bf16"] = lambda: fourier_heatmap(
            model, x, y, eps=args.eps, precision="bfloat16"
        )
    times: dict[str, list[float]] = {k: [] for k in runs}
    maps: dict[str, torch.Tensor] = {}
    for _ in range(args.repeats):
        for name, run in runs.items():
            t = time.perf_counter()
            maps[name] = run()
            times[name].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(
        json.dumps(
            {
                "machine": platform.processor() or platform.machine(),
                "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                "amx_bf16": has_amx(),
                "threads": torch.get_num_threads(),
                "n_images": args.n_images,
                "repeats": args.repeats,
                "median_s": med,
                "all_s": times,
                "speedup_over_gatheluck": med["gatheluck"] / med["library"],
                "speedup_over_google": med["google"] / med["library"],
                **(
                    {
                        "bf16_speedup_over_gatheluck": med["gatheluck"] / med["library_bf16"],
                        "bf16_speedup_over_google": med["google"] / med["library_bf16"],
                    }
                    if "library_bf16" in med
                    else {}
                ),
                # over the cells all three have (gatheluck's map drops the -Nyquist row and
                # column): each draws its own signs, so they agree only statistically
                "mean_error_common_cells": {
                    k: float((m if m.shape[0] < x.shape[-2] else m[1:, 1:]).double().mean())
                    for k, m in maps.items()
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
