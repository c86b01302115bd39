"""Figures of the reference spectra: a data set's mean spectrum, the random-noise baseline."""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure

from spectral.fourier.compare import channel_names
from spectral.plot.attack import comparison_figure
from spectral.plot.base import new_figure
from spectral.plot.spectra import plot_band_energy, spectrum_figure

__all__ = ["dataset_spectrum_figure", "noise_figures"]


def dataset_spectrum_figure(spectrum: Any, *, title: str | None = None) -> Figure:
    """The mean power spectrum (log10, normalised) and its radial profile with slopes.

    Args:
        spectrum: a :class:`spectral.analysis.DatasetSpectrum`.
        title: figure title (default names the image count and size).

    Returns:
        The figure.

    Examples:
        >>> import torch
        >>> from spectral.analysis import dataset_spectrum
        >>> fig = dataset_spectrum_figure(dataset_spectrum(torch.rand(4, 3, 8, 8)))
        >>> fig.get_suptitle()
        'Mean power spectrum of 4 images (8x8, log10, normalised)'
        >>> len(fig.axes)  # 3 channel maps with colour bars, 1 radial profile
        7
    """
    ch = channel_names(int(spectrum.mean_power.shape[0]))
    d = spectrum.to_dict()
    return spectrum_figure(
        [spectrum.normalized_log_power().cpu()],
        row_labels=[f"mean of {spectrum.n_images}"],
        radial=[
            (
                spectrum.radii.cpu(),
                {c: spectrum.radial_power[i].cpu() for i, c in enumerate(ch)},
                d["radial_slope"],
            )
        ],
        colorbar_label="log10 power, normalised",
        title=title
        or f"Mean power spectrum of {spectrum.n_images} images ({d['size']}, log10, normalised)",
    )


def noise_figures(baseline: Any, *, title: str | None = None) -> tuple[Figure, Figure]:
    """The noise baseline's spectra (natural / noisy / difference) and its band energies.

    Args:
        baseline: a :class:`spectral.analysis.NoiseBaseline`.
        title: title of the spectra figure.

    Returns:
        ``(spectra figure, band-energy figure)``.

    Examples:
        >>> import torch
        >>> from spectral.analysis import noise_baseline
        >>> spectra, bands = noise_figures(noise_baseline(torch.full((2, 1, 8, 8), 0.5), 0.1))
        >>> print(spectra.get_suptitle())  # wrapped to the one-channel figure's width
        Random sign noise, eps = 0.1:
        spectra of image 0
        >>> len(spectra.axes), len(bands.axes[0].patches)  # 3 maps + bars, 3 bands x 3 bars
        (6, 9)
    """
    spectra = comparison_figure(
        baseline.comparison,
        labels=("natural", "noisy"),
        title=title or f"Random sign noise, eps = {baseline.eps:.4g}: spectra of image 0",
    )
    d = baseline.comparison.to_dict()["band_energy"]
    fig, axes = new_figure(1, 1, size=(5.5, 3.5))
    plot_band_energy(
        axes[0, 0],
        {"clean": d["clean"], "noisy": d["adversarial"], "perturbation": d["perturbation"]},
        title="Band energy (mean over images and channels)",
    )
    return spectra, fig
