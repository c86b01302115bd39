"""`spectral gradients`: input and integrated gradients of two models, and their spectra."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cli._common import (
    DataOpt,
    DeviceOpt,
    ForceOpt,
    ModelOpt,
    SeedOpt,
    UserError,
    VsOpt,
    VsWeightsOpt,
    WeightsOpt,
    count_task,
    load_compared,
    output_dir,
    progress,
    stdout,
    user_errors,
    write_json,
)

GRADIENT_HEADER = [
    "model",
    "map",
    "low",
    "mid",
    "high",
    "slope",
    "mean freq.",
    "edge corr.",
]


def gradient_analysis(
    nets: dict[str, Any], x: Any, y: Any, *, steps: int, show: int, bar: Any
) -> tuple[dict[str, Any], Any]:
    """:func:`spectral.gradients.gradient_spectra` of every model, and the figure."""
    from spectral.analysis.gradients import gradient_spectra
    from spectral.plot.robust import gradient_figure

    results = {}
    for name, net in nets.items():
        tick = count_task(bar, f"gradients {name}")
        results[name] = gradient_spectra(net, x, y, steps=steps, progress=tick)
    out = {
        "n_images": int(x.shape[0]),
        "steps": steps,
        "score": "logit of the true label",
        "baseline": "black image",
        "models": {name: r.to_dict() for name, r in results.items()},
    }
    return out, gradient_figure(x, results, n_images=show)


def gradient_rows(result: dict[str, Any]) -> list[list[Any]]:
    """Table rows: one per model and map kind (gradient, integrated, and the image once)."""
    rows = []
    for i, (name, v) in enumerate(result["models"].items()):
        for kind, s in v["summary"].items():
            if kind == "image" and i:
                continue
            rows.append(
                [
                    "images" if kind == "image" else name,
                    kind,
                    s["low"],
                    s["mid"],
                    s["high"],
                    s["slope"],
                    s["mean_frequency"],
                    s.get("edge_correlation"),
                ]
            )
    return rows


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
    force: ForceOpt = False,
) -> None:
    """Input and integrated gradients: figure next to the images, spectra and smoothness."""
    from spectral.plot.base import save_figure

    with user_errors():
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
            out=out,
            force=force,
        )
        with progress() as bar:
            result, fig = gradient_analysis(nets, x, y, steps=steps, show=show, bar=bar)
        result["seed"] = seed
        with output_dir(out, force) as tmp:
            write_json(tmp / "gradients.json", result)
            save_figure(fig, tmp / "gradients.png")
    for row in gradient_rows(result):
        edge = "" if row[7] is None else f", edge correlation {row[7]:.3f}"
        stdout.print(
            f"{row[0]} {row[1]}: low/mid/high {row[2]:.3f}/{row[3]:.3f}/{row[4]:.3f}, "
            f"slope {row[5]:.2f}, mean frequency {row[6]:.3f}{edge}",
            soft_wrap=True,
        )
    stdout.print(f"wrote {out}/gradients.json, gradients.png", soft_wrap=True)
