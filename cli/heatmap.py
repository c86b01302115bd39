"""`spectral heatmap`: Fourier heat maps of two models side by side (Yin et al. 2019)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from cli._common import (
    DataOpt,
    DeviceOpt,
    ForceOpt,
    FormatOpt,
    ModelOpt,
    ResumeOpt,
    SeedOpt,
    UserError,
    VsOpt,
    VsWeightsOpt,
    WeightsOpt,
    check_l2_eps,
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
    scaled_heatmap_eps,
)
from cli._output import output_dir, work_dir
from cli._progress import count_task, progress
from spectral.errors import SpectralValueError


def parse_freqs(text: str | None) -> list[tuple[int, int]] | None:
    """``'ky,kx;ky,kx'`` -> ``[(ky, kx), ...]``; None stays None.

    Raises:
        UserError: not pairs of integers.
    """
    if text is None:
        return None
    try:
        pairs = [tuple(int(v) for v in part.split(",")) for part in text.split(";") if part.strip()]
    except ValueError:
        pairs = []
    if not pairs or any(len(p) != 2 for p in pairs):
        raise UserError(f"--freqs: expected 'ky,kx;ky,kx;...' with integers, got {text!r}")
    return [(p[0], p[1]) for p in pairs]


def work_estimate(cells: Any, n_images: int, n_models: int) -> str:
    """One line: how many frequency pairs, images and model passes the maps will take."""
    import numpy as np

    from spectral.analysis import heatmap_pairs

    h, w = cells.shape
    full = heatmap_pairs(np.ones((h, w), dtype=bool))
    pairs = heatmap_pairs(cells)
    passes = pairs * n_images * n_models
    return (
        f"heat map: {pairs:,} of {full:,} frequency pairs ({int(cells.sum()):,} of {h * w:,} "
        f"cells) x {n_images:,} images x {n_models} model(s) = {passes:,} image evaluations"
    )


def projected(tick: Callable[[int, int], None]) -> Callable[[int, int], None]:
    """Wrap a progress callback: after the first two passes, print the projected time left.

    The rate is measured between the first and second callbacks, so pairs already done
    in a resumed run and the start-up do not count.
    """
    first: list[float] = []

    def wrapped(done: int, total: int) -> None:
        tick(done, total)
        now = time.monotonic()
        if not first:
            first.extend((done, now))
        elif len(first) == 2 and done > first[0]:
            rate = (now - first[1]) / (done - first[0])
            first.append(rate)
            stdout.print(
                f"projected: about {_duration(rate * (total - done))} left for "
                f"{total - done:,} of {total:,} frequency pairs ({rate * 1000:.0f} ms a pair)",
                soft_wrap=True,
            )

    return wrapped


def _duration(seconds: float) -> str:
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 60} min {s % 60:02d} s" if s >= 60 else f"{s} s"


def heatmap(
    model: ModelOpt = "builtin:standard",
    vs: VsOpt = "builtin:adversarial",
    weights: WeightsOpt = None,
    vs_weights: VsWeightsOpt = None,
    data: DataOpt = "builtin",
    eps: Annotated[
        float | None,
        typer.Option(
            "--eps",
            help="L2 norm of each channel's perturbation (default: Yin et al.'s 4 at 32 px, "
            "scaled by side/32 so the per-pixel amplitude stays the same, 28 at 224 px).",
        ),
    ] = None,
    n_images: Annotated[int, typer.Option("--n-images", help="Test images.")] = 1000,
    out: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path(
        "spectral-heatmap"
    ),
    seed: SeedOpt = 0,
    device: DeviceOpt = "cpu",
    normalize: NormalizeOpt = "none",
    model_dir: ModelDirOpt = None,
    image_size: ImageSizeOpt = None,
    resize: ResizeOpt = "resize",
    class_map: ClassMapOpt = None,
    batch_size: BatchSizeOpt = None,
    step: Annotated[
        int,
        typer.Option(
            "--step", help="Evaluate every k-th frequency on each axis (others left blank)."
        ),
    ] = 1,
    max_radius: Annotated[
        float | None,
        typer.Option(
            "--max-radius",
            help="Evaluate only frequencies with |k| <= R (cycles per image; Nyquist is side/2).",
        ),
    ] = None,
    freqs: Annotated[
        str | None,
        typer.Option(
            "--freqs",
            help="Evaluate only these frequencies (and their mirrors): 'ky,kx;ky,kx;...'.",
        ),
    ] = None,
    resume: ResumeOpt = False,
    checkpoint_every: Annotated[
        float,
        typer.Option(
            "--checkpoint-every", help="Seconds between checkpoints (0: after every pass)."
        ),
    ] = 60.0,
    precision: Annotated[
        str,
        typer.Option(
            "--precision",
            help="float32, or bfloat16 (autocast: fast on GPUs and AMX CPUs, slow elsewhere).",
        ),
    ] = "float32",
    force: ForceOpt = False,
    figure_format: FormatOpt = "png,pdf",
) -> None:
    """Error rate under each Fourier basis perturbation, for --model and --vs side by side.

    Runs sharded under torchrun (each rank takes a block of the images, error counts are
    summed); an interrupted run continues with --resume.
    """
    from spectral.analysis import heatmap_analysis, heatmap_cells
    from spectral.distributed import describe
    from spectral.metrics import format_interval
    from spectral.plot import heatmap_figure, save_figure

    with user_errors(), output_dir(out, force, "heatmap", resume=resume) as tmp:
        fmts = parse_formats(figure_format)
        if eps is not None:
            check_l2_eps(eps, "--eps")
        if n_images < 1:
            raise UserError(f"--n-images: expected >= 1, got {n_images}")
        if step < 1:
            raise UserError(f"--step: expected >= 1, got {step}")
        if max_radius is not None and not 0 <= max_radius < math.inf:
            raise UserError(f"--max-radius: expected a number >= 0, got {max_radius}")
        if not 0 <= checkpoint_every < math.inf:
            raise UserError(f"--checkpoint-every: expected seconds >= 0, got {checkpoint_every}")
        listed = parse_freqs(freqs)
        if precision not in ("float32", "bfloat16"):
            raise UserError(f"--precision: expected float32 or bfloat16, got {precision!r}")
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
        eps = scaled_heatmap_eps(x) if eps is None else eps
        h, w = (int(v) for v in x.shape[-2:])
        try:
            cells = heatmap_cells((h, w), step=step, max_radius=max_radius, frequencies=listed)
        except SpectralValueError as err:
            raise UserError(f"--step/--max-radius/--freqs: {err}") from None
        stdout.print(work_estimate(cells, len(x), len(nets)), soft_wrap=True)
        with progress() as bar:
            analysis = heatmap_analysis(
                nets,
                x,
                y,
                eps=eps,
                seed=seed,
                batch_size=batch_size,
                progress=projected(count_task(bar, "heat maps")),
                step=step,
                max_radius=max_radius,
                frequencies=listed,
                checkpoint_dir=work_dir(out, "heatmap"),
                checkpoint_every=checkpoint_every,
                precision=precision,
            )
        result = analysis.to_dict() | {"seed": seed, "eps": eps} | describe()
        fig = heatmap_figure(analysis.maps, eps=eps, clean_error=analysis.clean_error)
        write_json(tmp / "heatmap.json", result)
        save_figure(fig, tmp / "heatmap.png", formats=fmts)
    stdout.print(
        f"error rates on n = {analysis.n_images} images (each map cell: k/n; clean error "
        "with its 95% Wilson interval)",
        soft_wrap=True,
    )
    for row in analysis.rows():
        bands = "/".join("–" if math.isnan(v) else f"{v:.3f}" for v in row[3:6])
        clean = format_interval(analysis.clean_error_interval(row[0]))
        stdout.print(
            f"{row[0]}: clean error {clean}, mean error {row[2]:.3f}, low/mid/high {bands}",
            soft_wrap=True,
        )
    stdout.print(f"wrote {out}/heatmap.json, {figure_names('heatmap', fmts)}", soft_wrap=True)
