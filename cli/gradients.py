"""`spectral gradients`: input and integrated gradients of two models, and their spectra."""

from __future__ import annotations

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
)
from cli._output import output_dir
from cli._progress import count_task, progress


def gradients(
    model: ModelOpt = "builtin:standard",
    vs: VsOpt = "builtin:adversarial",
    weights: WeightsOpt = None,
    vs_weights: VsWeightsOpt = None,
    data: DataOpt = "builtin",
    n_images: Annotated[int, typer.Option("--n-images", help="Test images.")] = 256,
    steps: Annotated[int, typer.Option("--steps", help="Integrated-gradient path points.")] = 32,
    show: Annotated[int, typer.Option("--show", help="Image rows in the figure.")] = 4,
    out: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path(
        "spectral-gradients"
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
    """Input and integrated gradients: figure next to the images, spectra and smoothness."""
    from spectral.analysis import gradient_analysis
    from spectral.distributed import describe
    from spectral.plot import gradient_figure, save_figure

    with user_errors(), output_dir(out, force, "gradients") as tmp:
        fmts = parse_formats(figure_format)
        for option, value in (("--n-images", n_images), ("--steps", steps), ("--show", show)):
            if value < 1:
                raise UserError(f"{option}: expected >= 1, got {value}")
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
        with progress() as bar:
            analysis = gradient_analysis(
                nets,
                x,
                y,
                steps=steps,
                batch_size=batch_size,
                progress=count_task(bar, "gradients"),
            )
        result = analysis.to_dict() | {"seed": seed} | describe()
        fig = gradient_figure(x, analysis.results, n_images=show)
        write_json(tmp / "gradients.json", result)
        save_figure(fig, tmp / "gradients.png", formats=fmts)
    for row in analysis.rows():
        edge = "" if row[7] is None else f", edge correlation {row[7]:.3f}"
        stdout.print(
            f"{row[0]} {row[1]}: low/mid/high {row[2]:.3f}/{row[3]:.3f}/{row[4]:.3f}, "
            f"slope {row[5]:.2f}, mean frequency {row[6]:.3f}{edge}",
            soft_wrap=True,
        )
    stdout.print(f"wrote {out}/gradients.json, {figure_names('gradients', fmts)}", soft_wrap=True)
