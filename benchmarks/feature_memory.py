"""Peak memory of streamed feature-map spectra: does it grow with the number of images?

Runs ``feature_spectra(load_model("builtin:standard"), clean, adv, LAYERS, batch_size=64)``
over N random 32x32 images (default N = 1,000 and 10,000). Images are generated chunk by
chunk and dropped after use, so neither the inputs nor the feature maps of the whole set
are ever held: each chunk goes through :func:`spectral.features.feature_spectra` and the
per-chunk mean spectra are merged weighted by count (in float64, exactly what
``SpectrumAccumulator.merge`` does to the means). The adversarial stand-in is
``clamp(clean + 8/255 * random sign)``, so the benchmark measures the spectra pipeline,
not an attack.

Each N runs in a fresh subprocess that reports ``ru_maxrss`` (peak resident set size) at
the end, next to a baseline subprocess that only imports spectral and loads the model.
If memory is O(1) in N, ``over_baseline_mib`` is the same for both sizes and
``ratio_10k_over_1k`` is about 1.

Usage: .venv/bin/python benchmarks/feature_memory.py [--sizes 1000 10000] [--chunk 256]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time

LAYERS = ["first_conv", "features.conv2"]
BATCH_SIZE = 64
EPS = 8 / 255


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (``ru_maxrss`` is KiB on Linux)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024 if sys.platform != "darwin" else kib / 2**20  # macOS reports bytes


def worker(n_images: int, chunk: int, seed: int) -> dict[str, object]:
    """Stream ``n_images`` through feature_spectra (``n_images == 0``: baseline only)."""
    import torch

    import spectral  # noqa: F401  (the baseline includes the package import)
    from spectral.analysis import feature_spectra
    from spectral.models import load_model

    model = load_model("builtin:standard")
    row: dict[str, object] = {"n_images": n_images}
    if n_images == 0:
        row["peak_rss_mib"] = round(peak_rss_mib(), 1)
        return row
    gen = torch.Generator().manual_seed(seed)
    sums: dict[str, dict[str, torch.Tensor]] = {}
    count = 0
    t0 = time.perf_counter()
    for start in range(0, n_images, chunk):
        b = min(chunk, n_images - start)
        clean = torch.rand(b, 3, 32, 32, generator=gen)
        sign = torch.randint(0, 2, clean.shape, generator=gen).to(clean.dtype) * 2 - 1
        adv = (clean + EPS * sign).clamp_(0, 1)
        res = feature_spectra(model, clean, adv, LAYERS, batch_size=BATCH_SIZE)
        del clean, adv, sign
        for n, fs in res.items():
            acc = sums.setdefault(n, {})
            for k in ("clean", "adversarial", "difference"):
                part = getattr(fs, k).to(torch.float64) * fs.count
                acc[k] = part if k not in acc else acc[k] + part
        count += next(iter(res.values())).count
    means = {n: {k: v / count for k, v in acc.items()} for n, acc in sums.items()}
    seconds = time.perf_counter() - t0
    assert count == n_images, (count, n_images)
    row["peak_rss_mib"] = round(peak_rss_mib(), 1)
    row["seconds"] = round(seconds, 2)
    row["spectrum_shapes"] = {n: list(m["clean"].shape) for n, m in means.items()}
    row["mean_power_difference"] = {n: float(m["difference"].mean()) for n, m in means.items()}
    return row


def run_worker(n_images: int, chunk: int, seed: int) -> dict[str, object]:
    cmd = [sys.executable, __file__, "--worker", str(n_images), "--chunk", str(chunk)]
    cmd += ["--seed", str(seed)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--chunk", type=int, default=256, help="images generated at a time")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        print(json.dumps(worker(args.worker, args.chunk, args.seed)))
        return

    import torch

    baseline = run_worker(0, args.chunk, args.seed)
    base = float(baseline["peak_rss_mib"])  # type: ignore[arg-type]
    rows = []
    for n in args.sizes:
        row = run_worker(n, args.chunk, args.seed)
        rows.append(
            {
                "n_images": n,
                "peak_rss_mib": row["peak_rss_mib"],
                "over_baseline_mib": round(float(row["peak_rss_mib"]) - base, 1),  # type: ignore[arg-type]
                "seconds": row["seconds"],
            }
        )
    over = {r["n_images"]: float(r["over_baseline_mib"]) for r in rows}  # type: ignore[arg-type]
    ratio = (
        round(over[10000] / over[1000], 3)
        if {1000, 10000} <= over.keys() and over[1000] > 0
        else None
    )
    shapes = {n: "x".join(map(str, s)) for n, s in row["spectrum_shapes"].items()}  # type: ignore[attr-defined]
    report = {
        "workload": {
            "model": "builtin:standard",
            "layers": LAYERS,
            "batch_size": BATCH_SIZE,
            "image_shape": [3, 32, 32],
            "chunk_images": args.chunk,
            "spectrum_shapes": shapes,
            "adversarial": "clamp(clean + 8/255 * random sign, 0, 1)",
        },
        "environment": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "machine": platform.machine(),
        },
        "baseline_peak_rss_mib": base,
        "rows": rows,
        "ratio_10k_over_1k": ratio,
    }
    text = json.dumps(report, indent=2)
    for r in rows:  # one line per row
        text = text.replace(json.dumps(r, indent=2).replace("\n", "\n    "), json.dumps(r))
    print(text)


if __name__ == "__main__":
    main()
