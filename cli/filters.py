"""`spectral filters`: 3x3 filter statistics of two models side by side (Gavrikov & Keuper)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli._common import (
    DeviceOpt,
    ForceOpt,
    ModelOpt,
    SeedOpt,
    WeightsOpt,
    check_out,
    output_dir,
    parse_device,
    stdout,
    user_errors,
    write_json,
)

METRICS = (
    "sparsity",
    "variance_entropy_normalized",
    "variance_entropy_normalized_nonsparse",
    "orthogonality",
)


def filters(
    model: ModelOpt = "builtin:standard",
    vs: Annotated[str, typer.Option("--vs", help="Model to compare with ('' for none).")] = (
        "builtin:adversarial"
    ),
    weights: WeightsOpt = None,
    out: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path(
        "spectral-filters"
    ),
    seed: SeedOpt = 0,
    device: DeviceOpt = "cpu",
    force: ForceOpt = False,
) -> None:
    """Compare the 3x3 conv filters of --model and --vs: table, metric plots, filter grids."""
    from spectral.blur import first_conv_name
    from spectral.models import load_model
    from spectral.plot import filter_figure, save_figure
    from spectral.robustness import filter_metrics

    with user_errors():
        dev = parse_device(device)
        check_out(out, force)
        specs = [model] + ([vs] if vs else [])
        nets = {model: load_model(model, weights=weights, device=dev)}
        if vs:
            nets[vs] = load_model(vs, device=dev)
        rows = {name: filter_metrics(net) for name, net in nets.items()}
        first = {name: net.get_submodule(first_conv_name(net)).weight for name, net in nets.items()}
        md = ["| model | layer | n | " + " | ".join(m.replace("_", " ") for m in METRICS) + " |"]
        md.append("|---|---|---:|" + "---:|" * len(METRICS))
        for name, rs in rows.items():
            for r in rs:
                vals = " | ".join(f"{r[m]:.3f}" for m in METRICS)
                md.append(f"| {name} | {r['name']} | {r['n']} | {vals} |")
        with output_dir(out, force) as tmp:
            write_json(tmp / "filters.json", {"seed": seed, "models": specs, "layers": rows})
            (tmp / "filters.md").write_text("\n".join(md) + "\n")
            save_figure(filter_figure(rows, first), tmp / "filters.png")
    stdout.print("\n".join(md))
    stdout.print(f"wrote {out}/filters.json, filters.md, filters.png", soft_wrap=True)
