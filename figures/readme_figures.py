"""Regenerate the README's figures from the built-in default (bundled photographs).

Usage: .venv/bin/python figures/readme_figures.py   (writes figures/*.png next to this file)
"""

from __future__ import annotations

from pathlib import Path

import torch

import spectral as sp
from spectral.data import builtin_patches, builtin_photo
from spectral.plot import (
    comparison_figure,
    new_figure,
    plot_band_energy,
    save_figure,
    summary_figure,
)

HERE = Path(__file__).resolve().parent
DPI = 80


def input_spectra() -> Path:
    names = ("astronaut", "coffee")
    summaries = [sp.spectrum_summary(builtin_photo(n)) for n in names]
    fig = summary_figure(
        summaries, row_labels=list(names), title="log-shifted normalised magnitude spectra"
    )
    return save_figure(fig, HERE / "input_spectra.png", dpi=DPI)


def noise_baseline(eps: float = 8 / 255, seed: int = 0) -> list[Path]:
    clean = builtin_patches(64, size=64, seed=seed)
    g = torch.Generator().manual_seed(seed)
    noise = eps * (torch.randint(0, 2, clean.shape, generator=g) * 2 - 1).float()
    cmp = sp.compare_spectra(clean, (clean + noise).clamp(0, 1))
    fig = comparison_figure(
        cmp, labels=("natural", "noisy"), title="Random sign noise, eps = 8/255 (patch 0)"
    )
    p1 = save_figure(fig, HERE / "noise_spectra.png", dpi=DPI)
    d = cmp.to_dict()["band_energy"]
    fig, axes = new_figure(1, 1, size=(5.0, 3.2))
    plot_band_energy(
        axes[0, 0],
        {"clean": d["clean"], "noisy": d["adversarial"], "perturbation": d["perturbation"]},
        title="Band energy, 64 patches (mean over channels)",
    )
    return [p1, save_figure(fig, HERE / "noise_band_energy.png", dpi=DPI)]


if __name__ == "__main__":
    for p in [input_spectra(), *noise_baseline()]:
        print(f"wrote {p.relative_to(HERE.parent)} ({p.stat().st_size // 1024} KiB)")
