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
    VsWeightsOpt,
    WeightsOpt,
    check_fit,
    check_out,
    load_models,
    output_dir,
    parse_device,
    progress,
    stdout,
    user_errors,
    write_json,
)


def check_heatmap_eps(eps: float) -> None:
    """Refuse an L2 ``--heatmap-eps``/``--eps`` that is not a positive finite number."""
    if not 0.0 < eps < float("inf"):
        raise UserError(f"--eps: expected an L2 norm > 0 (Yin et al. use 4 on 32x32), got {eps}")


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
    """Heat map, band means and clean error of every model; and the side-by-side figure."""
    import spectral as sp
    from spectral.heatmap import fourier_heatmap, heatmap_bands
    from spectral.plot import heatmap_figure
    from spectral.spectra import _json_list

    maps, clean_error, per_model = {}, {}, {}
    for name, net in nets.items():
        task = bar.add_task(f"heat map {name}", total=None)

        def tick(done: int, total: int, task: Any = task) -> None:
            bar.update(task, completed=done, total=total)

        heat = fourier_heatmap(net, x, y, eps=eps, seed=seed, batch_size=batch_size, progress=tick)
        maps[name] = heat
        clean_error[name] = 1.0 - sp.accuracy(net, x, y)
        per_model[name] = {
            "clean_error": clean_error[name],
            "mean_error": float(heat.double().mean()),
            "band_error": heatmap_bands(heat),
            "map": _json_list(heat),
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
    vs: Annotated[str, typer.Option("--vs", help="Second model ('' for none).")] = (
        "builtin:adversarial"
    ),
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
    import spectral as sp
    from spectral.plot import save_figure

    with user_errors():
        check_heatmap_eps(eps)
        if n_images < 1:
            raise UserError(f"--n-images: expected >= 1, got {n_images}")
        if batch_size < 0:
            raise UserError(f"--batch-size: expected >= 0 (0: automatic), got {batch_size}")
        dev = parse_device(device)
        check_out(out, force)
        test = sp.load_dataset(data, "test", seed=seed).subset(n_images, seed=seed)
        nets = load_models(model, vs, weights, dev, vs_weights)
        x, y = test.images.to(dev), test.labels.to(dev)
        check_fit(nets, x, y)
        bs = batch_size or (64 if dev.type == "cpu" else 4096)
        with progress() as bar:
            result, fig = heatmap_analysis(nets, x, y, eps=eps, seed=seed, batch_size=bs, bar=bar)
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
