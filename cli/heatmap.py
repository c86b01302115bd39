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
    parse_formats,
    stdout,
    user_errors,
    write_json,
)
from cli._inputs import (
    BatchSizeOpt,
    ClassMapOpt,
    ImageSizeOpt,
    Inputs,
    ModelDirOpt,
    NormalizeOpt,
    ResizeOpt,
    load_compared,
    scaled_heatmap_eps,
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
        float | None,
        typer.Option(
            "--eps",
            help="L2 norm of each channel's perturbation (default: Yin et al.'s 4 at 32 px, "
            "scaled by side/32 so the per-pixel amplitude stays the same, 28 at 224 px).",
        ),
    ] = None,
    n_images: Annotated[int, typer.Option("--n-images", help="Test images.")] = 1000,
    out: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path(
        "spectral-heatmap"
    ),
    seed: SeedOpt = 0,
    device: DeviceOpt = "cpu",
    normalize: NormalizeOpt = "none",
    model_dir: ModelDirOpt = None,
    image_size: ImageSizeOpt = None,
    resize: ResizeOpt = "resize",
    class_map: ClassMapOpt = None,
    batch_size: BatchSizeOpt = None,
    force: ForceOpt = False,
    figure_format: FormatOpt = "png,pdf",
) -> None:
    """Error rate under each Fourier basis perturbation, for --model and --vs side by side."""
    from spectral.analysis import heatmap_analysis
    from spectral.metrics import format_interval
    from spectral.plot import heatmap_figure, save_figure

    with user_errors(), output_dir(out, force, "heatmap") as tmp:
        fmts = parse_formats(figure_format)
        if eps is not None:
            check_l2_eps(eps, "--eps")
        if n_images < 1:
            raise UserError(f"--n-images: expected >= 1, got {n_images}")
        _, nets, x, y = load_compared(
            model=model,
            vs=vs,
            weights=weights,
            vs_weights=vs_weights,
            data=data,
            n_images=n_images,
            seed=seed,
            device=device,
            inputs=Inputs(normalize, model_dir, image_size, resize, class_map, batch_size),
        )
        eps = scaled_heatmap_eps(x) if eps is None else eps
        with progress() as bar:
            analysis = heatmap_analysis(
                nets,
                x,
                y,
                eps=eps,
                seed=seed,
                batch_size=batch_size,
                progress=count_task(bar, "heat maps"),
            )
        result = analysis.to_dict() | {"seed": seed, "eps": eps}
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
