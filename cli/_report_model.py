"""The model sections of `spectral report`: attack, input and feature-map spectra, blur table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cli._html import Section, Table
from cli._inputs import blur_positions, scaled_sizes
from cli._progress import count_task
from cli._tables import ci_cell

BANDS = ("low", "mid", "high")
PROPORTIONS = ("clean_accuracy", "adversarial_accuracy", "attack_success_rate")


def _bands(v: list[float | None]) -> list[Any]:
    return [None if f is None else round(float(f), 4) for f in v]


def _band_cells(v: dict[str, Any]) -> list[Any]:
    """The perturbation's band fractions, with bootstrap intervals when there are some."""
    ivs = v.get("intervals", {}).get("perturbation_band_energy")
    if not ivs:
        return _bands(v["band_energy"]["perturbation"])
    return [ci_cell(d) for d in ivs.values()]


def default_layers(model: Any) -> list[str]:
    """``first_conv`` and, when there is one, the second Conv2d (the BlurNet "layer 2").

    None for a TorchScript model (it cannot be hooked) or a model without a Conv2d.
    """
    from spectral.models import conv2d_weights, is_scripted

    if is_scripted(model):
        return []
    convs = list(conv2d_weights(model))
    return ["first_conv", *convs[1:2]] if convs else []


def _feature_section(
    model: Any,
    x: Any,
    x_adv: Any,
    layers: list[str],
    out: dict[str, Any],
    sections: list[Section],
    figdir: Path,
    formats: tuple[str, ...],
    bar: Any,
    batch_size: int | None,
) -> None:
    """Figures 2 and 3: feature-map spectra of ``layers``, clean / adversarial / perturbation."""
    from spectral.analysis import feature_spectra
    from spectral.plot import feature_spectra_figure, save_figure

    task = bar.add_task("feature-map spectra", total=1)
    fs = feature_spectra(model, x, x_adv, layers, batch_size=batch_size)
    bar.advance(task)
    out["feature_spectra"] = {k: v.to_dict() for k, v in fs.items()}
    figs = []
    for i, (layer, spec) in enumerate(fs.items()):
        png = figdir / f"fig{2 + min(i, 1)}_{layer.replace('.', '_')}_spectra.png"
        save_figure(feature_spectra_figure(spec, max_rows=6 if i == 0 else 4), png, formats=formats)
        figs.append((png, f"Figure {2 + min(i, 1)}: feature-map spectra of {layer}"))
    sections.append(
        Section(
            "Feature-map spectra",
            [
                f"Mean power spectra of {len(x)} images' feature maps, accumulated batch by batch; "
                "rows are feature maps, columns clean, adversarial and the spectrum of the "
                "perturbation: the difference the attack made in that map."
            ],
            [
                Table(
                    "Band energy of the feature-map perturbation (mean over maps)",
                    ["layer", "shape", *BANDS],
                    [
                        [
                            k,
                            "x".join(map(str, v["shape"])),
                            *_bands(v["band_energy"]["perturbation"]),
                        ]
                        for k, v in out["feature_spectra"].items()
                    ],
                )
            ],
            figs,
        )
    )


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
    formats: tuple[str, ...],
    bar: Any,
    batch_size: int | None = None,
) -> tuple[dict[str, Any], list[Section], dict[str, Any]]:
    """Run the attack-based analyses.

    Returns their JSON part, the report sections, and each model's adversarial examples
    by name (the calibration section reuses them).
    """
    from spectral.analysis import attack_analysis
    from spectral.defenses import blackbox_blur_table
    from spectral.plot import attack_figures, blur_figure, save_figure

    sections: list[Section] = []
    models = {model_name: model} | ({compare_name: compare} if compare is not None else {})
    analysis = attack_analysis(
        models,
        x,
        y,
        attack=attack,
        eps=eps,
        steps=steps,
        seed=seed,
        batch_size=batch_size,
        progress=count_task(bar, f"attack ({attack})"),
    )
    out = analysis.to_dict()
    per_model = analysis.metrics
    adversarial = analysis.adversarial
    x_adv_main = adversarial[model_name]
    for stem, fig in attack_figures(analysis).items():
        save_figure(fig, figdir / f"{stem}.png", formats=formats)

    rows = [
        [
            name,
            *(ci_cell(v["intervals"][k], percent=True) for k in PROPORTIONS),
            v["l2_dissimilarity"],
            *_band_cells(v),
        ]
        for name, v in per_model.items()
    ]
    diff_rows = [
        [
            f"{name} - {model_name}",
            k.replace("_", " "),
            ci_cell(d, percent=True, signed=True),
            d["excludes_zero"],
        ]
        for name, v in per_model.items()
        for k, d in v.get("difference_vs_main", {}).items()
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
                    "Per model (95% intervals: Wilson for the rates, bootstrap over images "
                    f"for the band fractions; n = {len(x)} images)",
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
                ),
                *(
                    [
                        Table(
                            "Differences between models on the same images "
                            "(paired bootstrap 95% intervals over images)",
                            ["models", "metric", "difference", "interval excludes 0"],
                            diff_rows,
                        )
                    ]
                    if diff_rows
                    else []
                ),
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
    if layers:
        _feature_section(
            model, x, x_adv_main, layers, out, sections, figdir, formats, bar, batch_size
        )

    # figure 6: blur black-box table (and adaptive)
    if blur_images:
        n = min(blur_images, len(x))
        task = bar.add_task("blur defenses", total=1)
        sizes = scaled_sizes(int(min(x.shape[-2:])))
        bb, ad = blackbox_blur_table(
            model,
            x[:n],
            y[:n],
            attack=attack,
            eps=eps,
            steps=steps,
            sizes=sizes,
            positions=blur_positions(model),
            seed=seed,
            batch_size=batch_size,
        )
        bar.advance(task)
        out["blur"] = {"blackbox": bb, "adaptive": ad, "n_images": n, "sizes": sizes}
        fig = blur_figure(bb, ad)
        save_figure(fig, figdir / "fig6_blur.png", formats=formats)
        sections.append(
            Section(
                "BlurNet: fixed blur at the input and on layer-1 feature maps",
                [
                    f"{n} images (95% Wilson intervals). Black-box: examples crafted on the "
                    "undefended model, transferred. "
                    "Adaptive: the same attack run through the blur (robustness vs gradient "
                    "masking). Full white-box tables: spectral blur."
                ],
                [
                    Table(
                        "Black-box",
                        ["defense", "accuracy", "attack success rate"],
                        [
                            [
                                r["defense"],
                                *(
                                    ci_cell(r["intervals"][k], percent=True)
                                    for k in ("accuracy", "attack_success_rate")
                                ),
                            ]
                            for r in bb
                        ],
                    ),
                    Table(
                        "Adaptive",
                        ["defense", "adversarial accuracy"],
                        [
                            [
                                r["defense"],
                                ci_cell(r["intervals"]["adversarial_accuracy"], percent=True),
                            ]
                            for r in ad
                        ],
                    ),
                ],
                [(figdir / "fig6_blur.png", "Figure 6: blur defenses")],
            )
        )
    return out, sections, adversarial
