"""`spectral train`: (re)train a built-in model with a recipe, deterministically for a seed."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated, Any

import typer

from cli._common import (
    DeviceOpt,
    ForceOpt,
    SeedOpt,
    UserError,
    load_data,
    parse_device,
    stdout,
    user_errors,
    write_json,
)
from cli._output import output_dir
from cli._progress import progress
from spectral.train import Recipe

DESCRIPTIONS = {
    Recipe.STANDARD: "SmallCNN trained on clean images",
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
    data: Annotated[
        str,
        typer.Option(
            "--data",
            help="Training data: a CIFAR-10 image folder (train/ and test/ inside), a CIFAR-10 "
            "python-batches dir, .npz/.pt, or 'patches' (the small photograph-patch task).",
        ),
    ],
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
    test_data: Annotated[
        str | None,
        typer.Option("--test-data", help="Evaluation data (default: the test split of --data)."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path("spectral-train"),
    pgd_images: Annotated[
        int,
        typer.Option(
            "--pgd-images", help="PGD-10 evaluation on this many test images (0: all of them)."
        ),
    ] = 0,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            help="Zoo name to install as (default from the recipe: standard, blur-linf-5, ...).",
        ),
    ] = None,
    install: Annotated[
        bool,
        typer.Option("--install", help="Also write the weights into the package's built-in zoo."),
    ] = False,
    seed: SeedOpt = 0,
    device: DeviceOpt = "cpu",
    force: ForceOpt = False,
) -> None:
    """Train a zoo model with a recipe; writes weights and a JSON of final metrics.

    The CIFAR-10 zoo is trained with ``--data <CIFAR-10 folder>`` (the training split is
    not shipped with the package); the metrics are measured on that folder's test split.
    """
    import torch

    from spectral.models import base_arch, install_builtin, load_model, record_metrics
    from spectral.train import builtin_slice_accuracy, train_model

    with user_errors(), output_dir(out, force, "train") as tmp:
        if name is not None and not name.replace("-", "").replace("_", "").isalnum():
            raise UserError(f"--name: expected letters, digits, '-' or '_', got {name!r}")
        if pgd_images < 0:
            raise UserError(f"--pgd-images: expected >= 0, got {pgd_images}")
        if epochs is not None and epochs < 1:
            raise UserError(f"--epochs: expected >= 1, got {epochs}")
        if alpha is not None and not alpha >= 0:
            raise UserError(f"--alpha: expected >= 0, got {alpha}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise UserError(f"--kernel-size: expected an odd int >= 1, got {kernel_size}")
        dev = parse_device(device)
        train_set = load_data(data, "train")
        test_set = load_data(test_data or data, "test", "--test-data" if test_data else "--data")
        with progress() as bar:
            overrides: dict[str, Any] = {"recipe": recipe, "seed": seed, "kernel_size": kernel_size}
            if epochs is not None:
                overrides["epochs"] = epochs
            if alpha is not None:
                overrides["alpha"] = alpha
            if pgd_images:
                overrides["pgd_images"] = pgd_images
            task = bar.add_task(f"train {recipe.value}", total=epochs)

            def on_epoch(epoch: int, total: int, m: dict[str, float]) -> None:
                bar.update(
                    task,
                    total=total,
                    completed=epoch,
                    description=f"train {recipe.value} loss {m['loss']:.3f} "
                    f"acc {m['train_accuracy']:.3f}",
                )

            model, metrics = train_model(
                device=dev,
                on_epoch=on_epoch,
                train_data=train_set,
                test_data=test_set,
                **overrides,
            )
        cfg = metrics["config"]
        if name is None:
            name = zoo_name(recipe, cfg["kernel_size"], cfg["alpha"])
        command = f"spectral train --recipe {recipe.value} --epochs {cfg['epochs']} --seed {seed}"
        command += f" --data {shlex.quote(data)}"
        if test_data is not None:
            command += f" --test-data {shlex.quote(test_data)}"
        if recipe is Recipe.BLUR_LINF:
            command += f" --kernel-size {cfg['kernel_size']} --alpha {cfg['alpha']:g}"
        elif recipe is Recipe.BLUR_TV:
            command += f" --alpha {cfg['alpha']:g}"
        if pgd_images:
            command += f" --pgd-images {pgd_images}"
        if name != zoo_name(recipe, cfg["kernel_size"], cfg["alpha"]):
            command += f" --name {name}"
        if install:
            command += " --install"
        else:
            metrics["builtin_slice"] = builtin_slice_accuracy(model)
        if install:  # the zoo first: the slice check below is of the shipped weights
            edits = []
            if recipe is Recipe.BLUR_LINF:
                options = {"kernel_size": cfg["kernel_size"], "learnable": True}
                edits = [{"position": "first_conv", "options": options}]
            arch = {
                "kind": "SmallCNN",
                "num_classes": len(train_set.classes),
                "width": cfg["width"],
                "blocks": cfg["blocks"],
            }
            if recipe in (Recipe.BLUR_LINF, Recipe.BLUR_TV):
                arch = base_arch()
            install_builtin(
                name,
                model,
                arch=arch,
                description=DESCRIPTIONS[recipe].format(k=cfg["kernel_size"], alpha=cfg["alpha"]),
                metrics=metrics,
                command=command,
                edits=edits,
            )
            # the accuracy check is of the weights as shipped (float16, reloaded)
            metrics["builtin_slice"] = builtin_slice_accuracy(load_model(f"builtin:{name}"))
            record_metrics(name, "builtin_slice", metrics["builtin_slice"])
        torch.save(model.state_dict(), tmp / f"{name}.pt")
        write_json(tmp / "metrics.json", {"model": name, **metrics, "command": command})
    stdout.print(
        f"{name}: clean accuracy {metrics['clean_accuracy']:.3f}, "
        f"PGD-10 accuracy {metrics['pgd10_accuracy']:.3f} (eps {metrics['eps']:.4f}) -> {out}"
        + (" (installed into the zoo)" if install else ""),
        soft_wrap=True,
    )
