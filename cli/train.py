"""`spectral train`: (re)train a built-in model with a recipe, deterministically for a seed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cli._common import (
    DeviceOpt,
    ForceOpt,
    SeedOpt,
    UserError,
    check_out,
    output_dir,
    parse_device,
    progress,
    stdout,
    user_errors,
    write_json,
)
from spectral.train import Recipe

DESCRIPTIONS = {
    Recipe.STANDARD: "SmallCNN trained on clean built-in patches",
    Recipe.ADVERSARIAL: "SmallCNN adversarially trained (FGSM with random start, L-inf 8/255)",
    Recipe.BLUR_LINF: "standard + learned {k}x{k} depthwise blur after conv1, L-inf penalty "
    "alpha={alpha:g}",
    Recipe.BLUR_TV: "standard fine-tuned with a TV penalty on layer-1 feature maps, "
    "alpha_TV={alpha:g}",
}


def zoo_name(recipe: Recipe, kernel_size: int, alpha: float) -> str:
    """The built-in name a recipe installs as: standard, blur-linf-5, blur-tv-1e-4, ..."""
    if recipe is Recipe.BLUR_LINF:
        return f"blur-linf-{kernel_size}"
    if recipe is Recipe.BLUR_TV:
        return "blur-tv-" + f"{alpha:.0e}".replace("e-0", "e-")
    return recipe.value


def train(
    recipe: Annotated[Recipe, typer.Option("--recipe", help="Training recipe.")] = Recipe.STANDARD,
    epochs: Annotated[
        int | None,
        typer.Option("--epochs", help="Passes over the training set (default: per recipe)."),
    ] = None,
    kernel_size: Annotated[
        int, typer.Option("--kernel-size", help="Blur kernel side (blur-linf).")
    ] = 3,
    alpha: Annotated[
        float | None,
        typer.Option("--alpha", help="Penalty strength (blur-linf: 1e-5, blur-tv: 1e-4)."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path("spectral-train"),
    install: Annotated[
        bool,
        typer.Option("--install", help="Also write the weights into the package's built-in zoo."),
    ] = False,
    seed: SeedOpt = 0,
    device: DeviceOpt = "cpu",
    force: ForceOpt = False,
) -> None:
    """Train a built-in model on the built-in data; writes weights and a JSON of final metrics."""
    import torch

    from spectral.models import install_builtin
    from spectral.train import train_model

    with user_errors():
        if epochs is not None and epochs < 1:
            raise UserError(f"--epochs: expected >= 1, got {epochs}")
        if alpha is not None and not alpha >= 0:
            raise UserError(f"--alpha: expected >= 0, got {alpha}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise UserError(f"--kernel-size: expected an odd int >= 1, got {kernel_size}")
        dev = parse_device(device)
        check_out(out, force)
        with progress() as bar:
            overrides: dict[str, Any] = {"recipe": recipe, "seed": seed, "kernel_size": kernel_size}
            if epochs is not None:
                overrides["epochs"] = epochs
            if alpha is not None:
                overrides["alpha"] = alpha
            task = bar.add_task(f"train {recipe.value}", total=epochs)

            def on_epoch(epoch: int, total: int, m: dict[str, float]) -> None:
                bar.update(
                    task,
                    total=total,
                    completed=epoch,
                    description=f"train {recipe.value} loss {m['loss']:.3f} "
                    f"acc {m['train_accuracy']:.3f}",
                )

            model, metrics = train_model(device=dev, on_epoch=on_epoch, **overrides)
        cfg = metrics["config"]
        name = zoo_name(recipe, cfg["kernel_size"], cfg["alpha"])
        command = f"spectral train --recipe {recipe.value} --epochs {cfg['epochs']} --seed {seed}"
        if recipe is Recipe.BLUR_LINF:
            command += f" --kernel-size {cfg['kernel_size']} --alpha {cfg['alpha']:g}"
        elif recipe is Recipe.BLUR_TV:
            command += f" --alpha {cfg['alpha']:g}"
        command += " --install"
        with output_dir(out, force) as tmp:
            torch.save(model.state_dict(), tmp / f"{name}.pt")
            write_json(tmp / "metrics.json", {"model": name, **metrics, "command": command})
        if install:
            edits = []
            if recipe is Recipe.BLUR_LINF:
                options = {"kernel_size": cfg["kernel_size"], "learnable": True}
                edits = [{"position": "first_conv", "options": options}]
            install_builtin(
                name,
                model,
                arch={"kind": "SmallCNN", "num_classes": 10, "width": cfg["width"]},
                description=DESCRIPTIONS[recipe].format(k=cfg["kernel_size"], alpha=cfg["alpha"]),
                metrics=metrics,
                command=command,
                edits=edits,
            )
    stdout.print(
        f"{name}: clean accuracy {metrics['clean_accuracy']:.3f}, "
        f"PGD-10 accuracy {metrics['pgd10_accuracy']:.3f} (eps {metrics['eps']:.4f}) -> {out}"
        + (" (installed into the zoo)" if install else ""),
        soft_wrap=True,
    )
