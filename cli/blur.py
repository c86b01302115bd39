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
    SeedOpt,
    StepsOpt,
    UserError,
    WeightsOpt,
    check_eps,
    check_fit,
    check_min,
    load_data,
    load_model_option,
    parse_device,
    parse_formats,
    stdout,
    user_errors,
    write_json,
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
    sizes: Annotated[str, typer.Option("--sizes", help="Blur kernel sizes, e.g. 3,5.")] = "3,5",
    positions: Annotated[
        str, typer.Option("--positions", help="input, first_conv or module names.")
    ] = "input,first_conv",
    n_images: Annotated[int, typer.Option("--n-images", help="Test images used.")] = 100,
    whitebox: Annotated[
        str,
        typer.Option(
            "--whitebox", help="Comma-separated models for the white-box table ('' to skip)."
        ),
    ] = WHITEBOX_DEFAULT,
    wb_images: Annotated[
        int, typer.Option("--whitebox-images", help="Test images for the white-box table.")
    ] = 50,
    rp2_steps: Annotated[int, typer.Option("--rp2-steps", help="RP2 optimisation steps.")] = 50,
    out: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path("spectral-blur"),
    seed: SeedOpt = 0,
    device: DeviceOpt = "cpu",
    force: ForceOpt = False,
    figure_format: FormatOpt = "png,pdf",
) -> None:
    """Evaluate blur defenses: black-box and white-box tables plus adaptive attacks."""
    from spectral.defenses import BlurEvaluation, blackbox_blur_table, whitebox_blur_table
    from spectral.plot import blur_figure, new_figure, plot_defense_bars, save_figure

    with user_errors(), output_dir(out, force, "blur") as tmp:
        fmts = parse_formats(figure_format)
        check_eps(eps)
        check_min("--steps", steps, 1)
        check_min("--rp2-steps", rp2_steps, 1)
        check_min("--n-images", n_images, 2)
        check_min("--whitebox-images", wb_images, 2)
        size_list = _ints(sizes, "--sizes")
        pos_list = [p.strip() for p in positions.split(",") if p.strip()]
        dev = parse_device(device)
        test = load_data(data, "test", seed=seed)
        m = load_model_option(model, "--model", dev, weights)
        sur = load_model_option(surrogate, "--surrogate", dev) if surrogate else None
        # validate positions up front: one clear error before any attack runs
        from spectral.models import insert_blur

        for p in pos_list:
            insert_blur(m, p, kernel_size=size_list[0])
        wb_specs = [s.strip() for s in whitebox.split(",") if s.strip()]
        wb_models = [(s, _alpha_of(s), load_model_option(s, "--whitebox", dev)) for s in wb_specs]
        sub = test.subset(n_images, seed=seed)
        x, y = sub.images.to(dev), sub.labels.to(dev)
        fit = {model: m} | ({surrogate: sur} if sur is not None else {})
        check_fit(fit | {s: net for s, _, net in wb_models}, x, y)
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
                progress=step,
            )
            wb: list[dict[str, Any]] = []
            if wb_models:
                wsub = test.subset(wb_images, seed=seed + 1)
                wb = whitebox_blur_table(
                    [(s.removeprefix("builtin:"), a, mm) for s, a, mm in wb_models],
                    wsub.images.to(dev),
                    wsub.labels.to(dev),
                    num_classes=len(test.classes),
                    eps=eps,
                    steps=steps,
                    rp2_steps=rp2_steps,
                    seed=seed,
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
            "positions": pos_list,
            "n_images": len(x),
            "whitebox_models": wb_specs,
            "whitebox_images": wb_images,
            "rp2_steps": rp2_steps,
            "seed": seed,
            "device": str(dev),
        }
        result = BlurEvaluation(blackbox=bb, adaptive=ad, whitebox=wb, settings=settings)
        write_json(tmp / "blur.json", result.to_dict())
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
