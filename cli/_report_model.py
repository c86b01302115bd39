"""The model sections of `spectral report`: attack, input and feature-map spectra, blur table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cli._html import Section, Table

BANDS = ("low", "mid", "high")


def _bands(v: list[float | None]) -> list[Any]:
    return [None if f is None else round(float(f), 4) for f in v]


def default_layers(model: Any) -> list[str]:
    """``first_conv`` and, when there is one, the second Conv2d (the BlurNet "layer 2")."""
    from torch import nn

    convs = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    return ["first_conv", *convs[1:2]]


def model_sections(
    *,
    model: Any,
    model_name: str,
    compare: Any | None,
    compare_name: str | None,
    x: Any,
    y: Any,
    attack: str,
    eps: float,
    steps: int,
    layers: list[str],
    blur_images: int,
    seed: int,
    figdir: Path,
    bar: Any,
) -> tuple[dict[str, Any], list[Section], dict[str, Any]]:
    """Run the attack-based analyses.

    Returns their JSON part, the report sections, and each model's adversarial examples
    by name (the calibration section reuses them).
    """
    import spectral as sp
    from spectral.defense import blackbox_blur_table
    from spectral.features import feature_spectra
    from spectral.plot import (
        blur_figure,
        comparison_figure,
        feature_spectra_figure,
        new_figure,
        plot_band_energy,
        plot_radial_profile,
        save_figure,
    )

    out: dict[str, Any] = {}
    sections: list[Section] = []
    models = [(model_name, model)] + ([(compare_name, compare)] if compare is not None else [])
    task = bar.add_task(f"attack ({attack})", total=len(models))
    per_model: dict[str, Any] = {}
    x_adv_main = None
    adversarial: dict[str, Any] = {}
    for name, m in models:
        x_adv = sp.make_attack(attack, m, eps=eps, steps=steps, seed=seed)(x, y)
        adversarial[name] = x_adv
        cmp = sp.compare_spectra(x, x_adv)
        per_model[name] = {
            "clean_accuracy": sp.accuracy(m, x, y),
            "adversarial_accuracy": sp.accuracy(m, x_adv, y),
            "attack_success_rate": sp.attack_success_rate(m, x, x_adv),
            "l2_dissimilarity": sp.l2_dissimilarity(x, x_adv),
            "band_energy": cmp.to_dict()["band_energy"],
        }
        if x_adv_main is None:
            x_adv_main, cmp_main = x_adv, cmp
        bar.advance(task)
    main = per_model[model_name]
    out.update(
        {
            k: main[k]
            for k in (
                "clean_accuracy",
                "adversarial_accuracy",
                "attack_success_rate",
                "l2_dissimilarity",
            )
        }
    )
    out["band_energy"] = {
        k: main["band_energy"][k] for k in ("clean", "adversarial", "perturbation")
    }
    out["models"] = per_model
    assert x_adv_main is not None

    # figure 1: RGB input spectra, natural / perturbed / difference
    save_figure(
        comparison_figure(
            cmp_main,
            labels=("natural", "perturbed"),
            title=f"{model_name}, {attack} eps {eps:.4g}: input spectra of image 0",
        ),
        figdir / "fig1_input_spectra.png",
    )
    # figure 4: radial power profiles of clean, adversarial and perturbation
    radii, p_clean = sp.radial_profile(sp.power_spectrum(x).mean(0, keepdim=True))
    _, p_adv = sp.radial_profile(sp.power_spectrum(x_adv_main).mean(0, keepdim=True))
    _, p_pert = sp.radial_profile(sp.power_spectrum(x_adv_main - x).mean(0, keepdim=True))
    fig, axes = new_figure(1, 1, size=(5.5, 4.0))
    profiles = {
        "clean": p_clean[0].mean(0),
        "adversarial": p_adv[0].mean(0),
        "perturbation": p_pert[0].mean(0),
    }
    slopes = {k: float(sp.powerlaw_slope(radii, v)) for k, v in profiles.items()}
    plot_radial_profile(
        axes[0, 0],
        radii,
        profiles,
        slopes=slopes,
        title="Radial power (mean over images and channels)",
    )
    save_figure(fig, figdir / "fig4_radial_profiles.png")
    out["radial_slope"] = slopes
    # figure 5: band energies per model
    fig, axes = new_figure(1, len(models), size=(4.6, 3.4))
    for i, (name, _) in enumerate(models):
        be = per_model[name]["band_energy"]
        plot_band_energy(
            axes[0, i], {k: be[k] for k in ("clean", "adversarial", "perturbation")}, title=name
        )
    save_figure(fig, figdir / "fig5_band_energy.png")

    rows = [
        [
            name,
            v["clean_accuracy"],
            v["adversarial_accuracy"],
            v["attack_success_rate"],
            v["l2_dissimilarity"],
            *_bands(v["band_energy"]["perturbation"]),
        ]
        for name, v in per_model.items()
    ]
    sections.append(
        Section(
            f"Attack: {attack}, L-inf eps = {eps:.4g}, {steps} steps, {len(x)} test images",
            [
                "Accuracy on clean and adversarial images; attack success rate = fraction of "
                "predictions the attack changed; "
                "L2 dissimilarity = mean ||x - x_adv|| / ||x_adv||. "
                "Band columns: where the perturbation's energy lies (compare the random-noise "
                "baseline below: white noise puts most of it in the high band)."
            ],
            [
                Table(
                    "Per model",
                    [
                        "model",
                        "clean acc.",
                        "adv. acc.",
                        "success rate",
                        "L2 dissim.",
                        "pert. low",
                        "pert. mid",
                        "pert. high",
                    ],
                    rows,
                )
            ],
            [
                (
                    figdir / "fig1_input_spectra.png",
                    "Figure 1: natural / perturbed / difference spectra",
                ),
                (figdir / "fig4_radial_profiles.png", "Figure 4: radial power profiles"),
                (figdir / "fig5_band_energy.png", "Figure 5: band energies per model"),
            ],
        )
    )

    # figures 2 and 3: feature-map spectra
    task = bar.add_task("feature-map spectra", total=1)
    fs = feature_spectra(model, x, x_adv_main, layers)
    bar.advance(task)
    out["feature_spectra"] = {k: v.to_dict() for k, v in fs.items()}
    figs = []
    for i, (layer, spec) in enumerate(fs.items()):
        png = figdir / f"fig{2 + min(i, 1)}_{layer.replace('.', '_')}_spectra.png"
        save_figure(feature_spectra_figure(spec, max_rows=6 if i == 0 else 4), png)
        figs.append((png, f"Figure {2 + min(i, 1)}: feature-map spectra of {layer}"))
    sections.append(
        Section(
            "Feature-map spectra",
            [
                f"Mean power spectra of {len(x)} images' feature maps, accumulated batch by batch; "
                "rows are feature maps, columns clean, adversarial and the spectrum of the "
                "difference the attack made in that map."
            ],
            [
                Table(
                    "Band energy of the feature-map difference (mean over maps)",
                    ["layer", "shape", *BANDS],
                    [
                        [k, "x".join(map(str, v["shape"])), *_bands(v["band_energy"]["difference"])]
                        for k, v in out["feature_spectra"].items()
                    ],
                )
            ],
            figs,
        )
    )

    # figure 6: blur black-box table (and adaptive)
    if blur_images:
        n = min(blur_images, len(x))
        task = bar.add_task("blur defenses", total=1)
        bb, ad = blackbox_blur_table(
            model, x[:n], y[:n], attack=attack, eps=eps, steps=steps, seed=seed
        )
        bar.advance(task)
        out["blur"] = {"blackbox": bb, "adaptive": ad, "n_images": n}
        fig = blur_figure(bb, ad)
        save_figure(fig, figdir / "fig6_blur.png")
        sections.append(
            Section(
                "BlurNet: fixed blur at the input and on layer-1 feature maps",
                [
                    f"{n} images. Black-box: examples crafted on the undefended model, "
                    "transferred. "
                    "Adaptive: the same attack run through the blur (robustness vs gradient "
                    "masking). Full white-box tables: spectral blur."
                ],
                [
                    Table(
                        "Black-box",
                        ["defense", "accuracy", "attack success rate"],
                        [[r["defense"], r["accuracy"], r["attack_success_rate"]] for r in bb],
                    ),
                    Table(
                        "Adaptive",
                        ["defense", "adversarial accuracy"],
                        [[r["defense"], r["adversarial_accuracy"]] for r in ad],
                    ),
                ],
                [(figdir / "fig6_blur.png", "Figure 6: blur defenses")],
            )
        )
    return out, sections, adversarial
