"""`spectral filters`: 3x3 filter statistics of two models side by side (Gavrikov & Keuper)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cli._common import (
    DeviceOpt,
    ForceOpt,
    ModelOpt,
    SeedOpt,
    VsOpt,
    VsWeightsOpt,
    WeightsOpt,
    check_out,
    load_models,
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


FILTER_HEADER = ["model", "layer", "n", *(m.replace("_", " ") for m in METRICS)]


def has_3x3_conv(net: Any) -> bool:
    """Whether ``net`` has a ``Conv2d`` with 3x3 kernels (what the statistics need)."""
    from torch import nn

    return any(isinstance(m, nn.Conv2d) and tuple(m.kernel_size) == (3, 3) for m in net.modules())


def filter_analysis(nets: dict[str, Any]) -> tuple[dict[str, Any], list[list[Any]], Any]:
    """Per-layer statistics of every model, the table rows, and the figure."""
    from spectral.analysis.filters import filter_metrics
    from spectral.models.layers import first_conv_name
    from spectral.plot.robust import filter_figure

    rows = {name: filter_metrics(net) for name, net in nets.items()}
    first = {name: net.get_submodule(first_conv_name(net)).weight for name, net in nets.items()}
    table = [
        [name, r["name"], r["n"], *(r[m] for m in METRICS)] for name, rs in rows.items() for r in rs
    ]
    return rows, table, filter_figure(rows, first)


def filters(
    model: ModelOpt = "builtin:standard",
    vs: VsOpt = "builtin:adversarial",
    weights: WeightsOpt = None,
    vs_weights: VsWeightsOpt = None,
    out: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path(
        "spectral-filters"
    ),
    seed: SeedOpt = 0,
    device: DeviceOpt = "cpu",
    force: ForceOpt = False,
) -> None:
    """Compare the 3x3 conv filters of --model and --vs: table, metric plots, filter grids."""
    from spectral.plot.base import save_figure

    with user_errors():
        dev = parse_device(device)
        check_out(out, force)
        nets = load_models(model, vs, weights, dev, vs_weights)
        rows, table, fig = filter_analysis(nets)
        md = ["| " + " | ".join(FILTER_HEADER) + " |", "|---|---|---:|" + "---:|" * len(METRICS)]
        md += [
            f"| {r[0]} | {r[1]} | {r[2]} | " + " | ".join(f"{v:.3f}" for v in r[3:]) + " |"
            for r in table
        ]
        with output_dir(out, force) as tmp:
            write_json(tmp / "filters.json", {"seed": seed, "models": list(nets), "layers": rows})
            (tmp / "filters.md").write_text("\n".join(md) + "\n")
            save_figure(fig, tmp / "filters.png")
    stdout.print("\n".join(md))
    stdout.print(f"wrote {out}/filters.json, filters.md, filters.png", soft_wrap=True)
