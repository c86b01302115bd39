"""Peak memory at 224x224: lazy loading, and PGD + input gradients through the batched path.

Issue 13: a ResNet-18-sized model at its native 224x224 takes ~27 MB of activations per
image, so running an attack on 1,000 images at once would need ~27 GB. This benchmark
measures, each case in a fresh subprocess (``ru_maxrss``, peak resident set size):

- ``baseline``: import spectral and build the model (what every case pays);
- ``load_folder``: ``load_dataset(folder, n_images=n)`` of a folder of 224x224 PNGs;
- ``load_npz``: ``load_dataset(file.npz, n_images=n)`` of an ``np.savez`` archive (mapped);
- ``attack``: lazy-load ``n`` images from the archive, then ``robust_accuracy`` under
  ``make_attack("pgd", steps=S)`` and ``input_gradients``, both with ``batch_size=None``
  (sized by ``auto_batch_size`` from the free memory).

The data set (random RGB noise, labels ``i % 10``) is written to a temporary folder once.
The model is a standard ResNet-18 (BasicBlocks [2, 2, 2, 2], widths 64..512, 7x7 stem,
1000 classes) with random weights, defined here (torchvision is not installed). Prints
JSON; nothing is asserted. If peak memory is bounded, ``over_baseline_mib`` of a case
does not grow with ``n`` beyond the images themselves (``n * 3 * 224 * 224 * 4`` bytes,
0.6 MB per image, held once clean and once adversarial).

Measured (2 CPU cores, torch 2.13 CPU, 23 GiB RAM, baseline 384 MiB; auto batch 55-57
for PGD/gradients, 151-156 forward-only): load 1,000 images from a PNG folder 915 MiB
peak (8 s), from an .npz 1,102 MiB (1 s; the mapped uint8 pages count in RSS); PGD-10 +
input gradients on 100 / 300 / 1,000 images 2,067 / 2,298 / 3,451 MiB peak (1,000: 890 s
PGD, 100 s gradients). Growth from 300 to 1,000 images is 1.65 MiB per image: the clean,
adversarial and gradient tensors the calls return (3 x 0.57 MiB), not activations.

Usage: .venv/bin/python benchmarks/memory_224.py [--n-images 1000] [--attack-images 100 300]
       [--steps 10]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZE = 224
ROOT = Path(__file__).resolve().parents[1]


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (``ru_maxrss`` is KiB on Linux)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024 if sys.platform != "darwin" else kib / 2**20


def resnet18(num_classes: int = 1000):  # type: ignore[no-untyped-def]
    """A standard ResNet-18 (He et al. 2016) for 224x224 inputs, random weights.

    The one in tests/foreign_models.py (torchvision's layout and shapes), with 1000 classes.
    """
    sys.path.insert(0, str(ROOT / "tests"))
    import foreign_models

    return foreign_models.ResNet(width=64, blocks=(2, 2, 2, 2), num_classes=num_classes).eval()


def make_data(root: Path, n_folder: int, n_npz: int) -> None:
    """``root/folder/<class>/*.png`` (n_folder images) and ``root/data.npz`` (n_npz)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (max(n_folder, n_npz), SIZE, SIZE, 3), dtype=np.uint8)
    labels = np.arange(len(images)) % 10
    for i in range(n_folder):
        d = root / "folder" / f"c{labels[i]}"
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(images[i]).save(d / f"{i:05d}.png", compress_level=1)
    np.savez(root / "data.npz", images=images[:n_npz], labels=labels[:n_npz])


def worker(case: str, n: int, root: Path, steps: int) -> dict[str, object]:
    import torch

    import spectral as sp
    from spectral.analysis.attribution import input_gradients
    from spectral.attacks import make_attack
    from spectral.metrics import auto_batch_size, robust_accuracy

    torch.manual_seed(0)
    model = resnet18()
    row: dict[str, object] = {"case": case, "n_images": n}
    t0 = time.perf_counter()
    if case == "load_folder":
        ds = sp.load_dataset(root / "folder", "test", n_images=n)
        row["shape"] = list(ds.images.shape)
    elif case == "load_npz":
        ds = sp.load_dataset(root / "data.npz", "test", n_images=n)
        row["shape"] = list(ds.images.shape)
    elif case == "attack":
        ds = sp.load_dataset(root / "data.npz", "test", n_images=n)
        x, y = ds.images, ds.labels
        row["auto_batch_backward"] = auto_batch_size(model, x, backward=True)
        row["auto_batch_forward"] = auto_batch_size(model, x, backward=False)
        pgd = make_attack("pgd", model, eps=8 / 255, steps=steps, seed=0)
        row["pgd_accuracy"] = robust_accuracy(model, pgd, x, y)
        t1 = time.perf_counter()
        row["pgd_seconds"] = round(t1 - t0, 1)
        g = input_gradients(model, x, y)
        row["gradient_seconds"] = round(time.perf_counter() - t1, 1)
        row["gradient_shape"] = list(g.shape)
    row["seconds"] = round(time.perf_counter() - t0, 1)
    row["peak_rss_mib"] = round(peak_rss_mib(), 1)
    return row


def run_worker(case: str, n: int, root: Path, steps: int) -> dict[str, object]:
    cmd = [sys.executable, __file__, "--worker", case, str(n), str(root), "--steps", str(steps)]
    # the checkout this script lives in comes first, not an installed copy of spectral
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode:
        raise SystemExit(f"{case} n={n} failed:\n{proc.stderr[-3000:]}")
    out = proc.stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, nargs="+", default=[1000], help="load sizes")
    parser.add_argument("--attack-images", type=int, nargs="+", default=[100, 300])
    parser.add_argument("--steps", type=int, default=10, help="PGD steps")
    parser.add_argument("--worker", nargs=3, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        case, n, root = args.worker
        print(json.dumps(worker(case, int(n), Path(root), args.steps)))
        return

    import torch

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        make_data(root, max(args.n_images), max(args.n_images + args.attack_images))
        made = round(time.perf_counter() - t0, 1)
        base = run_worker("baseline", 0, root, args.steps)
        rows = []
        cases = [("load_folder", n) for n in args.n_images]
        cases += [("load_npz", n) for n in args.n_images]
        cases += [("attack", n) for n in args.attack_images]
        for case, n in cases:
            row = run_worker(case, n, root, args.steps)
            row["over_baseline_mib"] = round(
                float(row["peak_rss_mib"]) - float(base["peak_rss_mib"]),  # type: ignore[arg-type]
                1,
            )
            row["images_mib"] = round(n * 3 * SIZE * SIZE * 4 / 2**20, 1)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)  # progress for long runs
    report = {
        "workload": {
            "model": "ResNet-18 (random weights, 11.7M parameters)",
            "image_shape": [3, SIZE, SIZE],
            "attack": f"PGD-{args.steps} L-inf 8/255 (make_attack) + input_gradients",
            "batch_size": "None (auto_batch_size)",
            "data_seconds": made,
        },
        "environment": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "machine": platform.machine(),
        },
        "baseline_peak_rss_mib": base["peak_rss_mib"],
        "rows": rows,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
