"""`spectral blur`: BlurNet evaluation (black-box and white-box tables, adaptive attacks)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

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
    UserError,
    WeightsOpt,
    check_eps,
    check_min,
    parse_device,
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
    blur_positions,
    load_net,
    prepare,
    scaled_sizes,
)
from cli._output import output_dir
from cli._progress import progress

#: White-box rows by default: the slides' Table 2 (built-in fine-tuned models), then the
#: longer, stronger L-inf fine-tune (do flatter kernels buy robustness?).
WHITEBOX_DEFAULT = (
    "builtin:standard,builtin:blur-linf-3,builtin:blur-linf-5,builtin:blur-linf-7,"
    "builtin:blur-tv-1e-4,builtin:blur-tv-1e-5,builtin:blur-linf-5-strong"
)


def _ints(text: str, option: str) -> list[int]:
    try:
        vals = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UserError(f"{option}: expected comma-separated odd ints, got {text!r}") from None
    if not vals or any(v < 1 or v % 2 == 0 for v in vals):
        raise UserError(f"{option}: expected comma-separated odd ints >= 1, got {text!r}")
    return vals


def _alpha_of(spec: str) -> float:
    from spectral.models import list_models

    name = spec.removeprefix("builtin:")
    for m in list_models():
        if m["name"] == name:
            cfg = m.get("metrics", {}).get("config", {})
            return float(cfg.get("alpha", 0.0)) if name.startswith("blur-") else 0.0
    return float("nan")


def blur(
    model: ModelOpt = "builtin:standard",
    weights: WeightsOpt = None,
    data: DataOpt = "builtin",
    surrogate: Annotated[
        str | None,
        typer.Option(
            "--surrogate", help="Model the transferred examples are crafted on (default: --model)."
        ),
    ] = None,
    attack: AttackOpt = "pgd",
    eps: EpsOpt = 8 / 255,
    steps: StepsOpt = 10,
    sizes: Annotated[
        str,
        typer.Option(
            "--sizes",
            help="Blur kernel sizes, e.g. 3,5 ('auto': 3,5 at 32 px, scaled with the image "
            "side and kept odd, e.g. 21,35 at 224 px).",
        ),
    ] = "auto",
    positions: Annotated[
        str,
        typer.Option(
            "--positions",
            help="Where to blur: input, first_conv, module names (name:k for one call of a "
            "shared module); 'auto': input,first_conv, or input alone for a TorchScript or "
            ".pt2 model.",
        ),
    ] = "auto",
    n_images: Annotated[int, typer.Option("--n-images", help="Test images used.")] = 100,
    whitebox: Annotated[
        str,
        typer.Option(
            "--whitebox",
            help="Models for the white-box table, comma-separated; 'model': --model and its "
            "blurred variants (--positions x --sizes); 'auto': the built-in fine-tuned blur "
            "models for builtin:standard at 32 px, else 'model'; '' to skip.",
        ),
    ] = "auto",
    wb_images: Annotated[
        int, typer.Option("--whitebox-images", help="Test images for the white-box table.")
    ] = 50,
    rp2_steps: Annotated[int, typer.Option("--rp2-steps", help="RP2 optimisation steps.")] = 50,
    out: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path("spectral-blur"),
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
    """Evaluate blur defenses: black-box and white-box tables plus adaptive attacks."""
    from spectral.defenses import BlurEvaluation, blackbox_blur_table, whitebox_blur_table
    from spectral.distributed import describe
    from spectral.plot import blur_figure, new_figure, plot_defense_bars, save_figure

    with user_errors(), output_dir(out, force, "blur", resume=resume) as tmp:
        fmts = parse_formats(figure_format)
        check_eps(eps)
        check_min("--steps", steps, 1)
        check_min("--rp2-steps", rp2_steps, 1)
        check_min("--n-images", n_images, 2)
        check_min("--whitebox-images", wb_images, 2)
        inputs = Inputs(normalize, model_dir, image_size, resize, class_map, batch_size)
        inputs.check()
        dev = parse_device(device)
        m = load_net(model, "--model", dev, weights, inputs)
        pos_list = (
            list(blur_positions(m))
            if positions == "auto"
            else [p.strip() for p in positions.split(",") if p.strip()]
        )
        sur = load_net(surrogate, "--surrogate", dev, None, inputs) if surrogate else None
        fit = {model: m} | ({surrogate: sur} if surrogate and sur is not None else {})
        _, x, y = prepare(fit, data, n_images, seed, dev, inputs)
        side = int(min(x.shape[-2:]))
        size_list = scaled_sizes(side) if sizes == "auto" else _ints(sizes, "--sizes")
        # validate positions up front (one image through each blurred model, which also
        # catches a shared module addressed without ':k'): one clear error before any attack
        import torch

        from spectral.models import insert_blur

        for p in pos_list:
            with torch.no_grad():
                insert_blur(m, p, kernel_size=size_list[0])(x[:1])
        if whitebox == "auto":
            builtin_default = model == "builtin:standard" and side == 32
            whitebox = WHITEBOX_DEFAULT if builtin_default else "model"
        wb_specs = [s.strip() for s in whitebox.split(",") if s.strip()]
        if wb_specs == ["model"]:  # the user's model, and its blurred variants (no retraining)
            wb_models = [(model, float("nan"), m)] + [
                (f"{p} blur {k}x{k}", float("nan"), insert_blur(m, p, kernel_size=k))
                for p in pos_list
                for k in size_list
            ]
        else:
            wb_models = [
                (s, _alpha_of(s), load_net(s, "--whitebox", dev, None, inputs)) for s in wb_specs
            ]
        if wb_models:
            wtest, wx, wy = prepare(
                {s: net for s, _, net in wb_models}, data, wb_images, seed + 1, dev, inputs
            )
        with progress() as bar:
            n_steps = 1 + len(size_list) * len(pos_list) + 1 + 2 * len(wb_models)
            task = bar.add_task("blur evaluation", total=n_steps)

            def step(label: str) -> None:
                bar.update(task, advance=1, description=f"blur: {label}")

            bb, ad = blackbox_blur_table(
                m,
                x,
                y,
                surrogate=sur,
                attack=attack,
                eps=eps,
                steps=steps,
                sizes=size_list,
                positions=pos_list,
                seed=seed,
                batch_size=batch_size,
                progress=step,
            )
            wb: list[dict[str, Any]] = []
            if wb_models:
                wb = whitebox_blur_table(
                    [(s.removeprefix("builtin:"), a, mm) for s, a, mm in wb_models],
                    wx,
                    wy,
                    num_classes=len(wtest.classes),
                    eps=eps,
                    steps=steps,
                    rp2_steps=rp2_steps,
                    seed=seed,
                    batch_size=batch_size,
                    progress=step,
                )
        settings = {
            "model": model,
            "surrogate": surrogate or model,
            "data": data,
            "attack": attack,
            "eps": eps,
            "steps": steps,
            "sizes": size_list,
            "image_size": list(x.shape[-2:]),
            "normalize": normalize,
            "positions": pos_list,
            "n_images": len(x),
            "whitebox_models": wb_specs,
            "whitebox_images": wb_images,
            "rp2_steps": rp2_steps,
            "seed": seed,
            "device": str(dev),
        }
        result = BlurEvaluation(blackbox=bb, adaptive=ad, whitebox=wb, settings=settings)
        write_json(tmp / "blur.json", result.to_dict() | describe("batches"))
        (tmp / "blur.md").write_text(result.markdown())
        fig = blur_figure(bb, ad)
        save_figure(fig, tmp / "blur.png", formats=fmts)
        if wb:
            fig, axes = new_figure(1, 1, size=(7.0, 0.35 * len(wb) + 1.8))
            labelled = [{**r, "row": f"{r['defense']} ({r['attack']})"} for r in wb]
            plot_defense_bars(
                axes[0, 0],
                labelled,
                metrics=("accuracy", "avg_success_rate", "worst_success_rate"),
                label_key="row",
                title="white-box, targeted to every other class",
            )
            save_figure(fig, tmp / "blur_whitebox.png", formats=fmts)
    stdout.print(result.markdown())
    stdout.print(f"wrote {out}/blur.json, blur.md and figures ({', '.join(fmts)})", soft_wrap=True)
