"""Clean vs adversarial figures: input spectra, feature-map spectra, radial and band summaries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from spectral.plot.base import new_figure, set_suptitle
from spectral.plot.spectra import plot_band_energy, plot_radial_profile, plot_spectrum

__all__ = ["attack_figures", "comparison_figure", "feature_spectra_figure"]


def comparison_figure(
    comparison: Any,
    *,
    index: int = 0,
    channel_names: Sequence[str] = ("R", "G", "B"),
    labels: tuple[str, str] = ("natural", "perturbed"),
    title: str | None = None,
) -> Figure:
    """Natural / perturbed / difference spectra per channel for one image (BlurNet figure 1).

    Rows: the clean and perturbed normalised log-magnitude spectra on one shared [0, 1]
    scale, then their difference ``log1p|F(x_adv)| - log1p|F(x)|`` on a symmetric
    diverging scale shared across channels (red: the perturbation added amplitude).

    Args:
        comparison: a :class:`spectral.SpectrumComparison`.
        index: which image of the batch to draw.
        channel_names: column titles.
        labels: names of the clean and the perturbed rows.
        title: figure title.

    Returns:
        The figure.

    Examples:
        >>> from spectral import compare_spectra
        >>> x = torch.rand(2, 3, 8, 8)
        >>> fig = comparison_figure(compare_spectra(x, (x + 0.05).clamp(0, 1)), index=1)
        >>> len(fig.axes)  # 3 rows x 3 channels, each with a colour bar
        18
        >>> [fig.axes[i].get_title() for i in (0, 3, 6)]  # column R of each row
        ['natural: R', 'perturbed: R', 'difference: R']
    """
    clean = comparison.clean[index].detach().cpu()
    adv = comparison.adversarial[index].detach().cpu()
    diff = comparison.difference[index].detach().cpu()
    n_ch = clean.shape[0]
    names = list(channel_names) if n_ch == len(channel_names) else [f"ch{c}" for c in range(n_ch)]
    lim = float(diff.abs().max()) or 1.0
    fig, axes = new_figure(3, n_ch, size=(3.3, 2.9))
    for c in range(n_ch):
        plot_spectrum(axes[0, c], clean[c], title=f"{labels[0]}: {names[c]}", vmin=0, vmax=1)
        plot_spectrum(axes[1, c], adv[c], title=f"{labels[1]}: {names[c]}", vmin=0, vmax=1)
        plot_spectrum(
            axes[2, c],
            diff[c],
            title=f"difference: {names[c]}",
            colorbar_label="difference of log(1 + |F|)",
            cmap="RdBu_r",
            vmin=-lim,
            vmax=lim,
        )
    if title:
        set_suptitle(fig, title)
    return fig


def feature_spectra_figure(
    spectra: Any,
    *,
    channels: Sequence[int] | None = None,
    max_rows: int = 6,
    title: str | None = None,
) -> Figure:
    """Feature-map spectra: one row per feature map, columns clean / adversarial / perturbation.

    Panels show ``log10`` of the mean power (DC in the centre). Clean and adversarial share
    one colour scale per row, so their difference is visible by eye; the difference
    column is the power spectrum of ``maps(x_adv) - maps(x)`` on its own scale.

    Args:
        spectra: a :class:`spectral.features.FeatureSpectra`.
        channels: which feature maps to draw (default: ``max_rows`` evenly spaced ones).
        max_rows: rows when ``channels`` is not given.
        title: figure title.

    Returns:
        The figure.

    Examples:
        >>> from spectral.analysis import feature_spectra
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU())
        >>> x = torch.rand(2, 3, 8, 8)
        >>> fs = feature_spectra(net, x, (x + 0.05).clamp(0, 1), "first_conv")["first_conv"]
        >>> fig = feature_spectra_figure(fs, max_rows=2)  # maps 0 and 3
        >>> len(fig.axes), fig.get_suptitle()
        (12, 'first_conv: log10 mean power of feature maps')
        >>> feature_spectra_figure(fs, channels=[1]).axes[0].get_title()
        'map 1: clean'
    """
    n_ch = int(spectra.clean.shape[0])
    if channels is None:
        k = min(max_rows, n_ch)
        channels = sorted({round(i * (n_ch - 1) / max(k - 1, 1)) for i in range(k)})
    tiny = 1e-12

    def log(t: torch.Tensor) -> np.ndarray:
        return np.asarray(torch.log10(t.detach().cpu().double().clamp_min(tiny)).numpy())

    fig, axes = new_figure(len(channels), 3, size=(3.3, 2.8))
    for row, c in enumerate(channels):
        lc, la, ld = (
            log(spectra.clean[c]),
            log(spectra.adversarial[c]),
            log(spectra.perturbation[c]),
        )
        lo, hi = float(min(lc.min(), la.min())), float(max(lc.max(), la.max()))
        for col, (arr, kind) in enumerate(((lc, "clean"), (la, "adversarial"))):
            plot_spectrum(
                axes[row, col],
                arr,
                title=f"map {c}: {kind}",
                vmin=lo,
                vmax=hi,
                colorbar_label="log10 power",
            )
        plot_spectrum(
            axes[row, 2],
            ld,
            title=f"map {c}: perturbation",
            cmap="viridis",
            colorbar_label="log10 power",
        )
    set_suptitle(fig, title or f"{spectra.layer}: log10 mean power of feature maps")
    return fig


def attack_figures(analysis: Any) -> dict[str, Figure]:
    """Figures 1, 4 and 5 of the report from a :class:`spectral.analysis.AttackAnalysis`.

    Args:
        analysis: a :class:`spectral.analysis.AttackAnalysis` (its main model's
            comparison and radial profiles, and every model's band energies, are drawn).

    Returns:
        ``fig1_input_spectra`` (the main model's image 0: natural / perturbed /
        difference spectra), ``fig4_radial_profiles`` (radial power of the clean batch,
        the adversarial batch and the perturbation, with slopes) and
        ``fig5_band_energy`` (band energies, one panel per model).

    Examples:
        >>> from spectral.analysis import attack_analysis
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48, 3))
        >>> x, y = torch.rand(4, 3, 4, 4), torch.tensor([0, 1, 2, 0])
        >>> figs = attack_figures(attack_analysis({"net": net}, x, y, attack="fgsm", eps=0.1))
        >>> sorted(figs)
        ['fig1_input_spectra', 'fig4_radial_profiles', 'fig5_band_energy']
        >>> figs["fig5_band_energy"].axes[0].get_title(), len(figs["fig1_input_spectra"].axes)
        ('net', 18)
    """
    main = analysis.main
    figs = {
        "fig1_input_spectra": comparison_figure(
            analysis.comparison[main],
            labels=("natural", "perturbed"),
            title=f"{main}, {analysis.attack} eps {analysis.eps:.4g}: input spectra of image 0",
        )
    }
    fig, axes = new_figure(1, 1, size=(5.5, 4.0))
    plot_radial_profile(
        axes[0, 0],
        analysis.radii,
        analysis.radial_power,
        slopes=analysis.radial_slope,
        title=f"Radial power, {main} (mean over images and channels)",
    )
    figs["fig4_radial_profiles"] = fig
    fig, axes = new_figure(1, len(analysis.metrics), size=(4.6, 3.4))
    for i, (name, m) in enumerate(analysis.metrics.items()):
        be = m["band_energy"]
        plot_band_energy(
            axes[0, i], {k: be[k] for k in ("clean", "adversarial", "perturbation")}, title=name
        )
    figs["fig5_band_energy"] = fig
    return figs
