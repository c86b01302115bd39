"""`spectral spectrum IMAGE...`: BlurNet-style spectra, radial power and band energies."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli._common import (
    DeviceOpt,
    ForceOpt,
    FormatOpt,
    SeedOpt,
    UserError,
    parse_device,
    parse_formats,
    stdout,
    user_errors,
    write_json,
)
from cli._output import output_dir
from cli._progress import progress
from spectral.data import Transparency
from spectral.errors import SpectralValueError
from spectral.fourier import DEFAULT_CUTOFFS, Backend, check_cutoffs

ROWS_PER_PAGE = 8


def _check_cutoffs(
    cutoffs: tuple[float, float], size: tuple[int, int] | None = None, image: Path | None = None
) -> None:
    """``--cutoffs`` within range and, for an image of ``size``, its bands non-empty.

    Cutoffs given on the command line must leave every band non-empty for every image;
    the defaults only need a non-empty high band (a small image, up to 8x8, has no
    frequency below 1/8 and so an empty default low band).
    """
    try:
        check_cutoffs(cutoffs, size, every_band=tuple(cutoffs) != DEFAULT_CUTOFFS)
    except SpectralValueError as err:
        message = str(err).removeprefix("cutoffs: ")
        where = f" ({image})" if image is not None else ""
        raise UserError(f"--cutoffs{where}: {message}") from None


def spectrum(
    images: Annotated[
        list[Path], typer.Argument(help="Image files (PNG, JPEG; grey, RGB or RGBA).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path(
        "spectral-spectrum"
    ),
    transparency: Annotated[
        Transparency,
        typer.Option(
            "--transparency", help="Alpha channel: drop it, or composite over white/black."
        ),
    ] = Transparency.DROP,
    cutoffs: Annotated[
        tuple[float, float],
        typer.Option(
            "--cutoffs",
            help="Band edges low/mid and mid/high in cycles/pixel: 0 < low < high <= 0.7071 "
            "(0.5 is Nyquist along an axis), each band holding a frequency of every image.",
        ),
    ] = DEFAULT_CUTOFFS,
    backend: Annotated[Backend, typer.Option("--backend", help="FFT backend.")] = Backend.AUTO,
    seed: SeedOpt = 0,
    device: DeviceOpt = "cpu",
    force: ForceOpt = False,
    figure_format: FormatOpt = "png,pdf",
) -> None:
    """Write spectra figures and a JSON of band energies and radial slopes for IMAGE files.

    The figure has one row per image and one column per channel (log-shifted, min-max
    normalised magnitude spectra, as in the BlurNet slides), plus the radial power
    profile. The JSON holds, per image and channel, the low/mid/high fractions of non-DC
    energy and the fitted power-law slope of the radial power spectrum.
    """
    from spectral.data import read_image
    from spectral.fourier import channel_names, powerlaw_slope, spectrum_summary
    from spectral.plot import save_figure, summary_figure

    with user_errors(), output_dir(out, force, "spectrum") as tmp:
        fmts = parse_formats(figure_format)
        import torch

        torch.manual_seed(seed)
        _check_cutoffs(cutoffs)
        dev = parse_device(device)
        tensors = [read_image(p, transparency=transparency) for p in images]
        for p, t in zip(images, tensors, strict=True):
            if min(t.shape[-2:]) < 2:
                raise UserError(f"{p}: expected an image at least 2x2, got {tuple(t.shape[-2:])}")
            _check_cutoffs(cutoffs, (t.shape[2], t.shape[3]), p)
        records, summaries = [], []
        with progress() as bar:
            task = bar.add_task("spectra", total=len(images))
            for p, t in zip(images, tensors, strict=True):
                s = spectrum_summary(t.to(dev), cutoffs=cutoffs, backend=backend)
                names = channel_names(t.shape[1])
                mean_slope = float(powerlaw_slope(s.radii, s.radial_power[0].mean(0)))
                records.append(
                    {
                        "path": str(p),
                        "height": int(t.shape[2]),
                        "width": int(t.shape[3]),
                        "channels": names,
                        "band_energy": dict(zip(names, s.band_energy[0].tolist(), strict=True)),
                        "band_energy_mean": s.band_energy[0].nanmean(0).tolist(),
                        "radial_slope": dict(zip(names, s.slope[0].tolist(), strict=True)),
                        "radial_slope_of_mean_power": mean_slope,
                    }
                )
                summaries.append(s)
                bar.advance(task)

        pages = [
            range(i, min(i + ROWS_PER_PAGE, len(summaries)))
            for i in range(0, len(summaries), ROWS_PER_PAGE)
        ]
        figures: list[str] = []  # every file written, each page in each --format
        for k, rows in enumerate(pages):
            name = "spectrum.png" if len(pages) == 1 else f"spectrum-{k + 1}.png"
            fig = summary_figure(
                [summaries[i] for i in rows],
                row_labels=[images[i].name for i in rows],
                title="log-shifted normalised magnitude spectra",
            )
            save_figure(fig, tmp / name, formats=fmts)
            figures += [str(Path(name).with_suffix(f".{f}")) for f in fmts]
        write_json(
            tmp / "spectrum.json",
            {
                "cutoffs": list(cutoffs),
                "bands": ["low", "mid", "high"],
                "backend": backend.value,
                "figures": figures,
                "images": records,
            },
        )
        stdout.print(f"wrote {out}/spectrum.json and {len(pages)} figure(s) as {', '.join(fmts)}")
