"""Regenerate the README's figures from the built-in default (CIFAR-10 subset, photos, zoo).

Usage: .venv/bin/python figures/readme_figures.py   (writes figures/*.png next to this file;
about 8 min on 2 cores, most of it the Fourier heat maps)
"""

from __future__ import annotations

from pathlib import Path

import spectral as sp
from spectral.analysis import attack_analysis, feature_spectra, photo_spectra
from spectral.analysis import noise_baseline as sp_noise_baseline
from spectral.defenses import blackbox_blur_table
from spectral.plot import attack_figures as plot_attack_figures
from spectral.plot import (
    blur_figure,
    feature_spectra_figure,
    noise_figures,
    save_figure,
    summary_figure,
)

HERE = Path(__file__).resolve().parent
DPI = 80


def input_spectra() -> Path:
    photos = photo_spectra(["astronaut", "coffee"])
    fig = summary_figure(
        list(photos.summaries),
        row_labels=list(photos.names),
        title="log-shifted normalised magnitude spectra",
    )
    return save_figure(fig, HERE / "input_spectra.png", dpi=DPI)


def noise_baseline(eps: float = 8 / 255, seed: int = 0) -> list[Path]:
    clean = sp.load_dataset("builtin", "test").subset(64, seed=seed).images
    spectra, bands = noise_figures(
        sp_noise_baseline(clean, eps, seed=seed),
        title="Random sign noise, eps = 8/255 (test image 0)",
    )
    return [
        save_figure(spectra, HERE / "noise_spectra.png", dpi=DPI),
        save_figure(bands, HERE / "noise_band_energy.png", dpi=DPI),
    ]


def attack_figures(n: int = 256, eps: float = 8 / 255, seed: int = 0) -> list[Path]:
    """The report's figures 1, 2, 4, 5 and 6 for builtin:standard under PGD-10."""
    test = sp.load_dataset("builtin", "test").subset(n, seed=seed)
    x, y = test.images, test.labels
    models = {name: sp.load_model(name) for name in ("builtin:standard", "builtin:adversarial")}
    analysis = attack_analysis(models, x, y, attack="pgd", eps=eps, steps=10, seed=seed)
    paths = [
        save_figure(fig, HERE / f"{stem}.png", dpi=DPI)
        for stem, fig in plot_attack_figures(analysis).items()
    ]
    x_adv = analysis.adversarial["builtin:standard"]
    fs = feature_spectra(models["builtin:standard"], x, x_adv, ["first_conv"])["first_conv"]
    paths.append(
        save_figure(
            feature_spectra_figure(fs, max_rows=4), HERE / "fig2_feature_spectra.png", dpi=DPI
        )
    )
    bb, ad = blackbox_blur_table(models["builtin:standard"], x[:100], y[:100], eps=eps, seed=seed)
    paths.append(save_figure(blur_figure(bb, ad), HERE / "fig6_blur.png", dpi=DPI))
    return paths


def robust_figures(n_gradients: int = 256, n_heatmap: int = 300, seed: int = 0) -> list[Path]:
    """Gradients next to the images, and Fourier heat maps, standard vs adversarial."""
    from spectral.plot import gradient_figure, heatmap_figure

    test = sp.load_dataset("builtin", "test", seed=seed)
    models = {k: sp.load_model(f"builtin:{k}") for k in ("standard", "adversarial")}
    g = test.subset(n_gradients, seed=seed)
    grads = {k: sp.gradient_spectra(m, g.images, g.labels) for k, m in models.items()}
    paths = [save_figure(gradient_figure(g.images, grads), HERE / "gradients.png", dpi=DPI)]
    h = test.subset(n_heatmap, seed=seed)
    maps = {k: sp.fourier_heatmap(m, h.images, h.labels, eps=4.0) for k, m in models.items()}
    clean = {k: 1 - sp.accuracy(m, h.images, h.labels) for k, m in models.items()}
    fig = heatmap_figure(maps, eps=4.0, clean_error=clean)
    paths.append(save_figure(fig, HERE / "heatmap.png", dpi=DPI))
    return paths


def band_and_detector_figures(
    n_filtered: int = 200, n_attacked: int = 100, n_detect: int = 250, seed: int = 0
) -> list[Path]:
    """Filtered accuracy and band-limited PGD (both zoo models); the detector's ROC curves."""
    from spectral.analysis import band_attack_analysis, detection_analysis, filtered_accuracy
    from spectral.plot import bands_figure, detection_figure

    test = sp.load_dataset("builtin", "test", seed=seed)
    models = {k: sp.load_model(f"builtin:{k}") for k in ("standard", "adversarial")}
    f = test.subset(n_filtered, seed=seed)
    filtered = filtered_accuracy(models, f.images, f.labels)
    a = test.subset(n_attacked, seed=seed)
    attacked = band_attack_analysis(models, a.images, a.labels, eps=(8 / 255,), seed=seed)
    paths = [save_figure(bands_figure(filtered, attacked), HERE / "bands.png", dpi=DPI)]
    d = test.subset(n_detect, seed=seed)
    det = detection_analysis(
        models["standard"],
        d.images,
        d.labels,
        attacks=("fgsm", "pgd"),
        features=("InputMFS", "InputPFS", "LayerMFS", "LayerPFS"),
        adaptive=False,
        seed=seed,
    )
    paths.append(save_figure(detection_figure(det.roc, det.results), HERE / "detect.png", dpi=DPI))
    return paths


if __name__ == "__main__":
    figures = [input_spectra(), *noise_baseline(), *attack_figures(), *robust_figures()]
    for p in [*figures, *band_and_detector_figures()]:
        print(f"wrote {p.relative_to(HERE.parent)} ({p.stat().st_size // 1024} KiB)")
