"""Report sections that hold the model's numbers against references.

The bundled photographs' spectra, the mean spectrum of the analysed data, and a random
sign-noise perturbation of the same size as the attack's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from cli._html import Section
from cli._progress import count_task
from cli._report_sections import dataset_section, noise_section, photo_section
from spectral.analysis import dataset_spectrum, noise_baseline, photo_spectra
from spectral.fourier import Backend
from spectral.plot import dataset_spectrum_figure, noise_figures, save_figure, summary_figure

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")


def reference_sections(
    *,
    x: torch.Tensor,
    data: str,
    eps: float,
    seed: int,
    backend: Backend,
    device: torch.device,
    figdir: Path,
    formats: tuple[str, ...],
    bar: Any,
) -> tuple[dict[str, Any], list[Section]]:
    """Photo spectra, the dataset spectrum of ``x`` and the noise baseline: JSON and sections."""
    part: dict[str, Any] = {}
    photos = photo_spectra(
        PHOTOS, device=device, backend=backend, progress=count_task(bar, "photo spectra")
    )
    fig = summary_figure(
        list(photos.summaries),
        row_labels=list(PHOTOS),
        title="Bundled photographs: log-shifted normalised magnitude spectra",
    )
    save_figure(fig, figdir / "input_spectra.png", formats=formats)
    part["input_spectra"] = photos.to_dict()

    ds = dataset_spectrum(
        x, batch_size=64, backend=backend, progress=count_task(bar, "dataset spectrum")
    )
    title = (
        f"Mean power spectrum of {ds.n_images} test images "
        f"({ds.to_dict()['size']}, log10, normalised)"
    )
    save_figure(
        dataset_spectrum_figure(ds, title=title), figdir / "dataset_spectrum.png", formats=formats
    )
    part["dataset_spectrum"] = {"data": data, **ds.to_dict()}

    task = bar.add_task("noise baseline", total=1)
    noise = noise_baseline(x[:64], eps, seed=seed, backend=backend)
    bar.advance(task)
    spectra_fig, bands_fig = noise_figures(
        noise, title=f"Random sign noise, eps = {eps:.4g}: spectra of test image 0"
    )
    save_figure(spectra_fig, figdir / "noise_spectra.png", formats=formats)
    save_figure(bands_fig, figdir / "noise_band_energy.png", formats=formats)
    part["noise_baseline"] = noise.to_dict()

    sections = [
        photo_section(part["input_spectra"], figdir),
        dataset_section(part["dataset_spectrum"], figdir),
        noise_section(part["noise_baseline"], figdir),
    ]
    return part, sections
