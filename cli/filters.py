"""`spectral filters`: 3x3 filter statistics of two models side by side (Gavrikov & Keuper)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli._common import (
    DeviceOpt,
    ForceOpt,
    FormatOpt,
    ModelOpt,
    SeedOpt,
    VsOpt,
    VsWeightsOpt,
    WeightsOpt,
    figure_names,
    parse_device,
    parse_formats,
    stdout,
    user_errors,
    write_json,
)
from cli._inputs import (
    Inputs,
    ModelDirOpt,
    NormalizeOpt,
    load_nets,
)
from cli._output import output_dir
from cli._tables import FILTER_HEADER


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
    normalize: NormalizeOpt = "none",
    model_dir: ModelDirOpt = None,
    force: ForceOpt = False,
    figure_format: FormatOpt = "png,pdf",
) -> None:
    """Compare the 3x3 conv filters of --model and --vs: table, metric plots, filter grids."""
    from spectral.analysis import filter_analysis
    from spectral.plot import filter_figure, save_figure

    with user_errors(), output_dir(out, force, "filters") as tmp:
        fmts = parse_formats(figure_format)
        dev = parse_device(device)
        inputs = Inputs(normalize, model_dir)
        inputs.check()
        nets = load_nets(model, vs, weights, dev, inputs, vs_weights)
        analysis = filter_analysis(nets)
        table = analysis.rows()
        fig = filter_figure(analysis.layers, analysis.first_layer)
        md = [
            "| " + " | ".join(FILTER_HEADER) + " |",
            "|---|---|---:|" + "---:|" * (len(FILTER_HEADER) - 3),
        ]
        md += [
            f"| {r[0]} | {r[1]} | {r[2]} | " + " | ".join(f"{v:.3f}" for v in r[3:]) + " |"
            for r in table
        ]
        write_json(
            tmp / "filters.json",
            {"seed": seed, "models": list(nets), **analysis.to_dict()},
        )
        (tmp / "filters.md").write_text("\n".join(md) + "\n")
        save_figure(fig, tmp / "filters.png", formats=fmts)
    stdout.print("\n".join(md))
    for name, skipped in analysis.skipped.items():
        if skipped:
            layers = ", ".join(f"{layer} ({why})" for layer, why in skipped.items())
            stdout.print(f"{name}: skipped (not 3x3): {layers}", soft_wrap=True)
    stdout.print(
        f"wrote {out}/filters.json, filters.md, {figure_names('filters', fmts)}", soft_wrap=True
    )
