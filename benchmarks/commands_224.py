"""Wall time of every model command on 224x224 inputs with a ResNet-18-sized model.

Each command runs as a user would type it, in a fresh process, on the built-in CIFAR-10
test images resized to 224x224 (``--image-size 224``) with ImageNet normalisation in
front of ``foreign_models:resnet18`` (tests/foreign_models.py: torchvision's ResNet-18
layout and shapes, random weights, 10 outputs). Image counts are small so the whole run
fits in minutes on a 2-core CPU; the per-image cost is printed so larger runs can be
projected. The Fourier heat map is not run at 224 (H*W/2 = 25,088 model passes per
image); its cost is projected from a timed batch of forward passes.

Prints one JSON object: per command, the command line, wall seconds and images.

Usage: .venv/bin/python benchmarks/commands_224.py [--only report,blur] [--size 224]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
MODEL = ["--model", "foreign_models:resnet18", "--normalize", "imagenet"]


def commands(size: int) -> dict[str, tuple[list[str], int]]:
    """``{name: (arguments after 'spectral', images attacked or analysed)}``."""
    img = ["--image-size", str(size)]
    return {
        "filters": (["filters", *MODEL, "--vs", ""], 0),
        "evaluate": (
            ["evaluate", *MODEL, *img, "--n-images", "32", "--pgd-steps", "10",
             "--apgd-steps", "0"],
            32,
        ),
        "calibrate": (
            ["calibrate", *MODEL, *img, "--vs", "", "--n-images", "32", "--steps", "10"],
            32,
        ),
        "gradients": (
            ["gradients", *MODEL, *img, "--vs", "", "--n-images", "16", "--steps", "32"],
            16,
        ),
        "blur": (
            ["blur", *MODEL, *img, "--n-images", "16", "--steps", "10", "--whitebox-images",
             "2", "--rp2-steps", "10"],
            16,
        ),
        "report": (
            ["report", *MODEL, *img, "--compare-model", "", "--n-images", "16",
             "--blur-images", "8", "--gradient-images", "4"],
            16,
        ),
    }  # fmt: skip


def heatmap_projection(size: int) -> dict[str, float]:
    """Seconds per heat-map image at ``size``: passes per image x timed forward cost."""
    sys.path.insert(0, str(ROOT / "tests"))
    import foreign_models

    net = foreign_models.resnet18().eval().to(memory_format=torch.channels_last)
    x = torch.rand(32, 3, size, size).to(memory_format=torch.channels_last)
    times = []
    with torch.no_grad():
        net(x[:4])
        for _ in range(3):
            t = time.perf_counter()
            net(x)
            times.append((time.perf_counter() - t) / len(x))
    per_pass = sorted(times)[1]
    passes = size * size // 2 + 2
    return {
        "forward_s_per_image": round(per_pass, 4),
        "passes_per_image": passes,
        "projected_s_per_image": round(per_pass * passes, 1),
    }


def main() -> None:
    """Run the commands one after the other and print the JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default="", help="comma-separated command names")
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args()
    todo = commands(args.size)
    if args.only:
        todo = {k: v for k, v in todo.items() if k in args.only.split(",")}
    env = dict(os.environ, PYTHONPATH=str(ROOT / "tests") + os.pathsep + str(ROOT))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (argv, n) in todo.items():
            out = Path(tmp) / name
            cmd = [sys.executable, "-c", "from cli.main import main; main()", *argv]
            t = time.perf_counter()
            proc = subprocess.run(
                [*cmd, "--out", str(out)], env=env, cwd=ROOT, capture_output=True, text=True
            )
            wall = time.perf_counter() - t
            results[name] = {
                "command": "spectral " + " ".join(argv),
                "wall_s": round(wall, 1),
                "images": n,
                "ok": proc.returncode == 0,
            }
            if proc.returncode:
                results[name]["error"] = proc.stderr.strip().splitlines()[-1:]
            print(json.dumps({name: results[name]}), file=sys.stderr, flush=True)
    print(
        json.dumps(
            {
                "size": args.size,
                "model": "foreign_models:resnet18 (11.2 M parameters, random weights)",
                "cpu": platform.processor() or platform.machine(),
                "threads": torch.get_num_threads(),
                "commands": results,
                "heatmap": heatmap_projection(args.size),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
