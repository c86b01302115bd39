"""`spectral heatmap`: Fourier heat maps of two models side by side (Yin et al. 2019)."""

from __future__ import annotations

import math
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
    check_l2_eps,
    count_task,
    load_compared,
    output_dir,
    progress,
    stdout,
    user_errors,
    write_json,
)


def heatmap_analysis(
    nets: dict[str, Any],
    x: Any,
    y: Any,
    *,
    eps: float,
    seed: int,
    batch_size: int,
    bar: Any,
) -> tuple[dict[str, Any], Any]:
    """Heat map, band means and clean error of every model; and the side-by-side figure.

    ``batch_size`` 0 picks 64 perturbed images per pass on the CPU (channels-last small
    convs are fastest there) and 4096 on a GPU.
    """
    import spectral as sp
    from spectral._internal.jsonable import json_list
    from spectral.analysis.heatmap import fourier_heatmap, heatmap_bands
    from spectral.plot.robust import heatmap_figure

    maps, clean_error, per_model = {}, {}, {}
    for name, net in nets.items():
        heat = fourier_heatmap(
            net,
            x,
            y,
            eps=eps,
            seed=seed,
            batch_size=batch_size or (64 if x.device.type == "cpu" else 4096),
            progress=count_task(bar, f"heat map {name}"),
        )
        maps[name] = heat
        clean_error[name] = 1.0 - sp.accuracy(net, x, y)
        per_model[name] = {
            "clean_error": clean_error[name],
            "mean_error": float(heat.double().mean()),
            "band_error": heatmap_bands(heat),
            "map": json_list(heat),
        }
    result = {
        "eps": eps,
        "n_images": int(x.shape[0]),
        "layout": "centred: row - H//2 = k_y, col - W//2 = k_x (cycles per image)",
        "models": per_model,
    }
    return result, heatmap_figure(maps, eps=eps, clean_error=clean_error)


def heatmap_rows(result: dict[str, Any]) -> list[list[Any]]:
    """Table rows: model, clean error, mean error over all frequencies, low/mid/high."""
    return [
        [
            name,
            v["clean_error"],
            v["mean_error"],
            v["band_error"]["low"],
            v["band_error"]["mid"],
            v["band_error"]["high"],
        ]
        for name, v in result["models"].items()
    ]


HEATMAP_HEADER = ["model", "clean error", "mean error", "low", "mid", "high"]


def heatmap(
    model: ModelOpt = "builtin:standard",
    vs: VsOpt = "builtin:adversarial",
    weights: WeightsOpt = None,
    vs_weights: VsWeightsOpt = None,
    data: DataOpt = "builtin",
    eps: Annotated[
        float, typer.Option("--eps", help="L2 norm of each channel's perturbation.")
    ] = 4.0,
    n_images: Annotated[int, typer.Option("--n-images", help="Test images.")] = 1000,
    batch_size: Annotated[
        int, typer.Option("--batch-size", help="Perturbed images per forward pass (0: auto).")
    ] = 0,
    out: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path(
        "spectral-heatmap"
    ),
    seed: SeedOpt = 0,
    device: DeviceOpt = "cpu",
    force: ForceOpt = False,
) -> None:
    """Error rate under each Fourier basis perturbation, for --model and --vs side by side."""
    from spectral.plot.base import save_figure

    with user_errors():
        check_l2_eps(eps, "--eps")
        if n_images < 1:
            raise UserError(f"--n-images: expected >= 1, got {n_images}")
        if batch_size < 0:
            raise UserError(f"--batch-size: expected >= 0 (0: automatic), got {batch_size}")
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
            result, fig = heatmap_analysis(
                nets, x, y, eps=eps, seed=seed, batch_size=batch_size, bar=bar
            )
        result["seed"] = seed
        with output_dir(out, force) as tmp:
            write_json(tmp / "heatmap.json", result)
            save_figure(fig, tmp / "heatmap.png")
    for row in heatmap_rows(result):
        bands = "/".join("–" if math.isnan(v) else f"{v:.3f}" for v in row[3:6])
        stdout.print(
            f"{row[0]}: clean error {row[1]:.3f}, mean error {row[2]:.3f}, low/mid/high {bands}",
            soft_wrap=True,
        )
    stdout.print(f"wrote {out}/heatmap.json, heatmap.png", soft_wrap=True)
