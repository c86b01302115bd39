"""`spectral calibrate`: confidence and calibration, clean and adversarial, for two models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli._common import (
    AttackOpt,
    DataOpt,
    DeviceOpt,
    EpsOpt,
    ForceOpt,
    FormatOpt,
    ModelOpt,
    ResumeOpt,
    SeedOpt,
    StepsOpt,
    VsOpt,
    VsWeightsOpt,
    WeightsOpt,
    check_attack,
    check_eps,
    check_min,
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
from cli._progress import progress
from cli._tables import calibration_rows


def calibrate(
    model: ModelOpt = "builtin:standard",
    vs: VsOpt = "builtin:adversarial",
    weights: WeightsOpt = None,
    vs_weights: VsWeightsOpt = None,
    data: DataOpt = "builtin",
    attack: AttackOpt = "pgd",
    eps: EpsOpt = 8 / 255,
    steps: StepsOpt = 10,
    n_images: Annotated[int, typer.Option("--n-images", help="Test images.")] = 500,
    n_bins: Annotated[int, typer.Option("--bins", help="Confidence bins.")] = 15,
    out: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path(
        "spectral-calibrate"
    ),
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
    """Accuracy, ECE and over-/under-confidence on clean and adversarial data; diagrams."""
    import spectral as sp
    from spectral.analysis import calibration_analysis
    from spectral.attacks import run_attack
    from spectral.distributed import describe
    from spectral.plot import calibration_figure, save_figure

    with user_errors(), output_dir(out, force, "calibrate", resume=resume) as tmp:
        fmts = parse_formats(figure_format)
        check_eps(eps)
        check_min("--n-images", n_images, 2)
        check_min("--bins", n_bins, 1)
        check_min("--steps", steps, 1)
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
        check_attack(attack, next(iter(nets.values())), eps, steps)
        adversarial = {}
        with progress() as bar:
            task = bar.add_task(f"attack ({attack})", total=len(nets) * len(x))
            for i, (name, net) in enumerate(nets.items()):
                atk = sp.make_attack(attack, net, eps=eps, steps=steps, seed=seed)

                def tick(done: int, _total: int, base: int = i * len(x)) -> None:
                    bar.update(task, completed=base + done)

                adversarial[name] = run_attack(atk, net, x, y, batch_size=batch_size, progress=tick)
        analysis = calibration_analysis(
            nets,
            x,
            y,
            adversarial,
            attack=attack,
            eps=eps,
            n_bins=n_bins,
            seed=seed,
            batch_size=batch_size,
        )
        result = analysis.to_dict() | describe("batches")
        fig = calibration_figure(analysis)
        write_json(tmp / "calibrate.json", result)
        save_figure(fig, tmp / "calibrate.png", formats=fmts)
    stdout.print(
        f"95% intervals (n = {len(x)} images): Wilson for the accuracy, bootstrap over "
        "images for the ECE and the confidences",
        soft_wrap=True,
    )
    for row in calibration_rows(result["models"]):
        name, k, acc, ece, over, under, _ = row
        stdout.print(
            f"{name} {k}: accuracy {acc}, ECE {ece}, over-confidence {over}, "
            f"under-confidence {under}",
            soft_wrap=True,
        )
    stdout.print(f"wrote {out}/calibrate.json, {figure_names('calibrate', fmts)}", soft_wrap=True)
