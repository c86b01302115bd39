"""`spectral bands`: where in the spectrum two models break.

Filtered-accuracy curves (Wang et al. 2020) and band-limited PGD (Maiya et al. 2021) in one
command: both ask which frequencies a model relies on, on the same images, and one JSON
and one figure hold both answers side by side.
"""

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
    ResumeOpt,
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
from cli._report_bands import check_band_options, parse_numbers, run_bands, summary_lines


def bands(
    model: ModelOpt = "builtin:standard",
    vs: VsOpt = "builtin:adversarial",
    weights: WeightsOpt = None,
    vs_weights: VsWeightsOpt = None,
    data: DataOpt = "builtin",
    n_images: Annotated[
        int, typer.Option("--n-images", help="Test images for the filtered accuracy.")
    ] = 500,
    attack_images: Annotated[
        int,
        typer.Option(
            "--attack-images",
            help="Of those, images attacked by band-limited PGD (0: no attack).",
        ),
    ] = 200,
    radii: Annotated[
        str | None,
        typer.Option(
            "--radii",
            help="Cutoff radii in cycles/pixel, comma-separated; fractions allowed (4/32 is "
            "R = 4 px of a 32-px image). Default 1,2,4,...,16 /32.",
        ),
    ] = None,
    kinds: Annotated[
        str, typer.Option("--kinds", help="Filter kinds: ideal, gaussian, butterworth.")
    ] = "ideal,gaussian",
    boundary: Annotated[
        str,
        typer.Option(
            "--boundary",
            help="Ideal mask ring: strict (keep r < R, Wang et al.) or inclusive (r <= R).",
        ),
    ] = "strict",
    band_list: Annotated[
        str,
        typer.Option(
            "--bands",
            help="Attacked bands: low, mid, high, all (cutoffs 1/8, 1/4 cycles/pixel).",
        ),
    ] = "low,mid,high,all",
    eps: Annotated[
        str,
        typer.Option("--eps", help="Attack budgets, comma-separated (fractions allowed: 8/255)."),
    ] = "4/255,8/255",
    norm: Annotated[str, typer.Option("--norm", help="Budget norm: Linf or L2.")] = "Linf",
    steps: Annotated[int, typer.Option("--steps", help="PGD iterations.")] = 10,
    box: Annotated[
        str,
        typer.Option(
            "--box",
            help="none: x + delta unclipped (exactly band-limited); clip: clipped to [0, 1].",
        ),
    ] = "none",
    out: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path("spectral-bands"),
    seed: SeedOpt = 0,
    device: DeviceOpt = "cpu",
    normalize: NormalizeOpt = "none",
    model_dir: ModelDirOpt = None,
    image_size: ImageSizeOpt = None,
    resize: ResizeOpt = "resize",
    class_map: ClassMapOpt = None,
    batch_size: BatchSizeOpt = None,
    resume: ResumeOpt = False,
    force: ForceOpt = False,
    figure_format: FormatOpt = "png,pdf",
) -> None:
    """Accuracy on low-/high-pass images and under band-limited PGD, --model and --vs."""
    from spectral.analysis import DEFAULT_RADII
    from spectral.plot import bands_figure, save_figure

    with user_errors(), output_dir(out, force, "bands", resume=resume) as tmp:
        fmts = parse_formats(figure_format)
        if n_images < 1:
            raise UserError(f"--n-images: expected >= 1, got {n_images}")
        if attack_images < 0:
            raise UserError(f"--attack-images: expected >= 0, got {attack_images}")
        if steps < 1:
            raise UserError(f"--steps: expected >= 1, got {steps}")
        rads = DEFAULT_RADII if radii is None else parse_numbers(radii, "--radii")
        budgets = parse_numbers(eps, "--eps")
        kind_list = tuple(k.strip().lower() for k in kinds.split(",") if k.strip())
        bands_ = tuple(b.strip().lower() for b in band_list.split(",") if b.strip())
        nrm = check_band_options(
            kinds=kind_list, boundary=boundary, bands=bands_, eps=budgets, norm=norm, box=box
        )
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
            filtered, attacked = run_bands(
                nets,
                x,
                y,
                radii=rads,
                kinds=kind_list,
                boundary=boundary,
                attack_images=attack_images,
                bands=bands_,
                eps=budgets,
                norm=nrm,
                steps=steps,
                box=box,
                seed=seed,
                batch_size=batch_size,
                progress=lambda what: count_task(bar, what),
            )
        from spectral.distributed import describe

        result = {
            "seed": seed,
            "filtered_accuracy": filtered.to_dict(),
            "band_attack": attacked.to_dict() if attacked is not None else None,
        } | describe()
        write_json(tmp / "bands.json", result)
        save_figure(bands_figure(filtered, attacked), tmp / "bands.png", formats=fmts)
    for line in summary_lines(filtered, attacked):
        stdout.print(line, soft_wrap=True)
    stdout.print(f"wrote {out}/bands.json, {figure_names('bands', fmts)}", soft_wrap=True)
