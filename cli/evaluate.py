"""`spectral evaluate`: clean, PGD and AutoAttack (APGD-CE + APGD-T) accuracy of a model."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated, Any

import typer

from cli._common import (
    DataOpt,
    DeviceOpt,
    EpsOpt,
    ForceOpt,
    ModelOpt,
    ResumeOpt,
    SeedOpt,
    UserError,
    WeightsOpt,
    check_eps,
    parse_device,
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
    load_nets,
    prepare,
)
from cli._output import output_dir
from cli._progress import progress


def evaluate(
    model: ModelOpt = "builtin:adversarial",
    weights: WeightsOpt = None,
    data: DataOpt = "builtin",
    n_images: Annotated[
        int, typer.Option("--n-images", help="Test images (a class-balanced, seeded subset).")
    ] = 1000,
    eps: EpsOpt = 8 / 255,
    pgd_steps: Annotated[
        int, typer.Option("--pgd-steps", help="PGD iterations (step eps/4).")
    ] = 10,
    apgd_steps: Annotated[
        int, typer.Option("--apgd-steps", help="Iterations of APGD-CE and of APGD-T (0: skip).")
    ] = 100,
    record: Annotated[
        bool,
        typer.Option(
            "--record",
            help="Write the result into zoo.json (builtin models only), with this command.",
        ),
    ] = False,
    out: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path(
        "spectral-evaluate"
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
) -> None:
    """Robust accuracy of a model: clean, PGD (L-inf) and AutoAttack's APGD-CE + APGD-T.

    APGD-CE then targeted APGD (DLR loss, every other class) on the survivors, 100
    iterations each by default, as AutoAttack's standard version starts; the result can be
    held next to RobustBench's AutoAttack numbers (which add FAB-T and Square).
    """
    from spectral.attacks import apgd_robust_accuracy, pgd_evaluation
    from spectral.distributed import describe, is_main
    from spectral.metrics import format_interval, proportion_interval, wilson_interval
    from spectral.models import record_metrics

    with user_errors(), output_dir(out, force, "evaluate", resume=resume) as tmp:
        check_eps(eps)
        if n_images < 1:
            raise UserError(f"--n-images: expected >= 1, got {n_images}")
        if pgd_steps < 1:
            raise UserError(f"--pgd-steps: expected >= 1, got {pgd_steps}")
        if apgd_steps < 0:
            raise UserError(f"--apgd-steps: expected >= 0, got {apgd_steps}")
        if record and not model.startswith("builtin:"):
            raise UserError(f"--record: only a builtin: model has a zoo.json entry, got {model!r}")
        inputs = Inputs(normalize, model_dir, image_size, resize, class_map, batch_size)
        inputs.check()
        dev = parse_device(device)
        nets = load_nets(model, "", weights, dev, inputs)
        net = nets[model]
        test, x, y = prepare(nets, data, n_images, seed, dev, inputs)
        result: dict[str, Any] = {"model": model, "data": test.name, "n": len(test), "seed": seed}
        with progress() as bar:
            task = bar.add_task(f"PGD-{pgd_steps}", total=len(test))
            pgd = pgd_evaluation(
                net, test, eps=eps, steps=pgd_steps, seed=seed, batch_size=batch_size
            )
            bar.update(task, completed=len(test))
            result["clean_accuracy"] = pgd["clean_accuracy"]
            result[f"pgd{pgd_steps}_accuracy"] = pgd[f"pgd{pgd_steps}_accuracy"]
            if apgd_steps:
                task = bar.add_task("APGD-CE + APGD-T", total=len(test))

                def tick(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                result["apgd"] = apgd_robust_accuracy(
                    net,
                    x,
                    y,
                    eps=eps,
                    steps=apgd_steps,
                    n_classes=len(test.classes),
                    seed=seed,
                    batch_size=batch_size,
                    progress=tick,
                )
        command = (
            "spectral evaluate "
            + shlex.join(
                [
                    "--model",
                    model,
                    "--data",
                    data,
                    "--n-images",
                    str(n_images),
                    "--eps",
                    f"{eps:.10g}",
                    "--pgd-steps",
                    str(pgd_steps),
                    "--apgd-steps",
                    str(apgd_steps),
                    "--seed",
                    str(seed),
                ]
            )
            + (" --record" if record else "")
        )
        # 95% Wilson intervals with their n, next to the accuracies
        pgd_key = f"pgd{pgd_steps}_accuracy"
        intervals = {
            k: proportion_interval(result[k], len(test)) for k in ("clean_accuracy", pgd_key)
        }
        if apgd_steps:
            a = result["apgd"]
            intervals["apgd_ce_accuracy"] = wilson_interval(a["apgd_ce_correct"], a["n"])
            intervals["apgd_robust_accuracy"] = wilson_interval(a["apgd_t_correct"], a["n"])
        result["intervals"] = {k: iv.to_dict() for k, iv in intervals.items()}
        result.update(eps=eps, command=command)
        result.update(describe("batches"))
        write_json(tmp / "evaluate.json", result)
        if record and is_main():  # under torchrun, rank 0 alone records
            record_metrics(model.removeprefix("builtin:"), "evaluate", result)
    names = {
        "clean_accuracy": "clean",
        pgd_key: f"PGD-{pgd_steps}",
        "apgd_ce_accuracy": "APGD-CE",
        "apgd_robust_accuracy": "APGD-CE+T",
    }
    stdout.print(
        f"{model} on {len(test)} images (eps {eps:.4f}; accuracy, 95% Wilson interval):",
        soft_wrap=True,
    )
    for k, iv in intervals.items():
        stdout.print(f"  {names[k]:<10} {format_interval(iv)}", soft_wrap=True)
    stdout.print(f"-> {out}", soft_wrap=True)
