"""`spectral heatmap`: Fourier heat maps of two models side by side (Yin et al. 2019)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from cli._common import (
    DataOpt,
    DeviceOpt,
    ForceOpt,
    FormatOpt,
    ModelOpt,
    SeedOpt,
    UserError,
    VsOpt,
    VsWeightsOpt,
    WeightsOpt,
    check_l2_eps,
    figure_names,
    load_compared,
    parse_formats,
    stdout,
    user_errors,
    write_json,
)
from cli._output import output_dir
from cli._progress import count_task, progress


def heatmap(
    model: ModelOpt = "builtin:standard",
    vs: VsOpt = "builtin:adversarial",
    weights: WeightsOpt = None,
    vs_weights: VsWeightsOpt = None,
    data: DataOpt = "builtin",
    eps: Annotated[
        float, typer.Option("--eps", help="L2 norm of each channel's perturbation.")
    ] = 4.0,
    n_images: Annotated[int, typer.Option("--n-images", help="Test images.")] = 1000,
    batch_size: Annotated[
        int, typer.Option("--batch-size", help="Perturbed images per forward pass (0: auto).")
    ] = 0,
    out: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path(
        "spectral-heatmap"
    ),
    seed: SeedOpt = 0,
    device: DeviceOpt = "cpu",
    force: ForceOpt = False,
    figure_format: FormatOpt = "png,pdf",
) -> None:
    """Error rate under each Fourier basis perturbation, for --model and --vs side by side."""
    from spectral.analysis import heatmap_analysis
    from spectral.metrics import format_interval
    from spectral.plot import heatmap_figure, save_figure

    with user_errors(), output_dir(out, force, "heatmap") as tmp:
        fmts = parse_formats(figure_format)
        check_l2_eps(eps, "--eps")
        if n_images < 1:
            raise UserError(f"--n-images: expected >= 1, got {n_images}")
        if batch_size < 0:
            raise UserError(f"--batch-size: expected >= 0 (0: automatic), got {batch_size}")
        _, nets, x, y = load_compared(
            model=model,
            vs=vs,
            weights=weights,
            vs_weights=vs_weights,
            data=data,
            n_images=n_images,
            seed=seed,
            device=device,
        )
        with progress() as bar:
            analysis = heatmap_analysis(
                nets,
                x,
                y,
                eps=eps,
                seed=seed,
                batch_size=batch_size or None,
                progress=count_task(bar, "heat maps"),
            )
        result = analysis.to_dict() | {"seed": seed}
        fig = heatmap_figure(analysis.maps, eps=eps, clean_error=analysis.clean_error)
        write_json(tmp / "heatmap.json", result)
        save_figure(fig, tmp / "heatmap.png", formats=fmts)
    stdout.print(
        f"error rates on n = {analysis.n_images} images (each map cell: k/n; clean error "
        "with its 95% Wilson interval)",
        soft_wrap=True,
    )
    for row in analysis.rows():
        bands = "/".join("–" if math.isnan(v) else f"{v:.3f}" for v in row[3:6])
        clean = format_interval(analysis.clean_error_interval(row[0]))
        stdout.print(
            f"{row[0]}: clean error {clean}, mean error {row[2]:.3f}, low/mid/high {bands}",
            soft_wrap=True,
        )
    stdout.print(f"wrote {out}/heatmap.json, {figure_names('heatmap', fmts)}", soft_wrap=True)
