"""`spectral train`: (re)train a built-in model with a recipe, deterministically for a seed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
}


def train(
    recipe: Annotated[Recipe, typer.Option("--recipe", help="Training recipe.")] = Recipe.STANDARD,
    epochs: Annotated[int, typer.Option("--epochs", help="Passes over the training set.")] = 20,
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
        if epochs < 1:
            raise UserError(f"--epochs: expected >= 1, got {epochs}")
        dev = parse_device(device)
        check_out(out, force)
        with progress() as bar:
            task = bar.add_task(f"train {recipe.value}", total=epochs)

            def on_epoch(epoch: int, total: int, m: dict[str, float]) -> None:
                bar.update(
                    task,
                    completed=epoch,
                    description=f"train {recipe.value} loss {m['loss']:.3f} "
                    f"acc {m['train_accuracy']:.3f}",
                )

            model, metrics = train_model(
                recipe=recipe, epochs=epochs, seed=seed, device=dev, on_epoch=on_epoch
            )
        command = (
            f"spectral train --recipe {recipe.value} --epochs {epochs} --seed {seed} --install"
        )
        with output_dir(out, force) as tmp:
            torch.save(model.state_dict(), tmp / f"{recipe.value}.pt")
            write_json(tmp / "metrics.json", {"model": recipe.value, **metrics, "command": command})
        if install:
            cfg = metrics["config"]
            install_builtin(
                recipe.value,
                model,
                arch={"kind": "SmallCNN", "num_classes": 10, "width": cfg["width"]},
                description=DESCRIPTIONS[recipe],
                metrics={k: v for k, v in metrics.items() if k != "config"} | {"config": cfg},
                command=command,
            )
    stdout.print(
        f"{recipe.value}: clean accuracy {metrics['clean_accuracy']:.3f}, "
        f"PGD-10 accuracy {metrics['pgd10_accuracy']:.3f} (eps {metrics['eps']:.4f}) -> {out}"
        + (" (installed into the zoo)" if install else ""),
        soft_wrap=True,
    )
