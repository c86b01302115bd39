"""Time one training step of the zoo's SmallCNN in four variants; print JSON.

float32 vs bf16 autocast, contiguous vs channels-last; medians of interleaved repeats.

Usage: .venv/bin/python benchmarks/train_step.py [--batch 128] [--repeats 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

from spectral.models import SmallCNN


def step_time(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, bf16: bool) -> float:
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    start = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = F.cross_entropy(model(x).float(), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    torch.manual_seed(0)
    x = torch.rand(args.batch, 3, 32, 32)
    y = torch.randint(0, 10, (args.batch,))
    variants = {}
    for bf16 in (False, True):
        for cl in (False, True):
            fmt = torch.channels_last if cl else torch.contiguous_format
            net = SmallCNN(width=64, blocks=(2, 2, 2)).to(memory_format=fmt)  # type: ignore[call-overload]
            name = ("bf16" if bf16 else "float32") + ("+channels_last" if cl else "")
            variants[name] = (net, x.contiguous(memory_format=fmt), bf16)
    times: dict[str, list[float]] = {k: [] for k in variants}
    for net, xx, bf16 in variants.values():  # warm-up
        step_time(net, xx, y, bf16)
    for _ in range(args.repeats):  # interleaved, so load changes hit every variant alike
        for name, (net, xx, bf16) in variants.items():
            times[name].append(step_time(net, xx, y, bf16))
    med = {k: statistics.median(v) for k, v in times.items()}
    base = med["float32"]
    print(
        json.dumps(
            {
                "batch": args.batch,
                "threads": torch.get_num_threads(),
                "median_s_per_step": {k: round(v, 4) for k, v in med.items()},
                "speedup_vs_float32": {k: round(base / v, 2) for k, v in med.items()},
                "epoch_s_estimate": {k: round(v * 50000 / args.batch) for k, v in med.items()},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
