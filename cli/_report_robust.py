"""The robust-vs-normal sections of `spectral report`: filters, calibration, gradients, heat map.

Each section runs the same `spectral.analysis` function as its own command (`spectral
filters`, `calibrate`, `gradients`, `heatmap`) on the report's models and images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cli._html import Section, Table
from cli._progress import count_task
from cli._tables import (
    CALIBRATION_HEADER,
    FILTER_HEADER,
    GRADIENT_HEADER,
    HEATMAP_HEADER,
    calibration_rows,
    ci_cell,
)


def robust_sections(
    *,
    nets: dict[str, Any],
    x: Any,
    y: Any,
    adversarial: dict[str, Any],
    attack: str,
    eps: float,
    gradient_images: int,
    heatmap_images: int,
    heatmap_eps: float,
    seed: int,
    figdir: Path,
    formats: tuple[str, ...],
    bar: Any,
    batch_size: int | None = None,
) -> tuple[dict[str, Any], list[Section]]:
    """Run the four analyses; return their JSON part and report sections."""
    from spectral.analysis import (
        calibration_analysis,
        filter_analysis,
        gradient_analysis,
        heatmap_analysis,
    )
    from spectral.models import conv2d_weights
    from spectral.plot import (
        calibration_figure,
        filter_figure,
        gradient_figure,
        heatmap_figure,
        save_figure,
    )

    out: dict[str, Any] = {}
    sections: list[Section] = []
    names = " vs ".join(nets)

    with_conv = {name: net for name, net in nets.items() if conv2d_weights(net)}
    text = [
        "Per 3x3 conv layer (Gavrikov & Keuper 2022): sparsity = fraction of filters "
        "whose weights are all below 1% of the layer's largest; variance entropy "
        "(normalised: 0 = all filters alike, 1 = spread over all 9 directions), also "
        "on the non-sparse filters only; orthogonality of the layer's output filters "
        "(1 = orthogonal)."
    ]
    if len(with_conv) < len(nets):
        text.append(
            "Left out (no Conv2d): "
            + ", ".join(name for name in nets if name not in with_conv)
            + "."
        )
    out["filters"] = {}
    tables: list[Table] = []
    figures: list[tuple[Path, str]] = []
    if with_conv:
        filters = filter_analysis(with_conv)
        save_figure(
            filter_figure(filters.layers, filters.first_layer),
            figdir / "filters.png",
            formats=formats,
        )
        out["filters"] = filters.layers
        out["filters_skipped"] = filters.skipped
        for name, skipped in filters.skipped.items():
            if skipped:
                text.append(
                    f"{name}: not 3x3, so not in these statistics: "
                    + ", ".join(f"{layer} ({why})" for layer, why in skipped.items())
                    + "."
                )
        tables = [Table("Per layer", FILTER_HEADER, filters.rows())]
        figures = [(figdir / "filters.png", "Metrics per layer and the first-layer filters")]
    sections.append(Section(f"3x3 filter statistics: {names}", text, tables, figures))

    calibration = calibration_analysis(
        nets,
        x,
        y,
        adversarial,
        attack=attack,
        eps=eps,
        n_bins=15,
        seed=seed,
        batch_size=batch_size,
    )
    save_figure(calibration_figure(calibration), figdir / "calibration.png", formats=formats)
    out["calibration"] = calibration.to_dict()
    sections.append(
        Section(
            "Confidence and calibration, clean and adversarial",
            [
                f"{len(x)} test images and each model's own {attack} examples (eps {eps:.4g}). "
                "Over-confidence = mean confidence of the wrong predictions; under-confidence "
                "= mean (1 - confidence) of the right ones (Grabinski et al. 2022); ECE with "
                "15 equal-width bins. 95% intervals: Wilson for the accuracy (n = "
                f"{len(x)}); bootstrap over images for the ECE (recomputed with the same "
                "bins) and the mean confidences (over-/under-confidence: n = the wrong / "
                "right predictions)."
            ],
            [
                Table(
                    "Per model and data (95% intervals)",
                    CALIBRATION_HEADER,
                    calibration_rows(out["calibration"]["models"]),
                )
            ],
            [(figdir / "calibration.png", "Reliability diagrams and confidence histograms")],
        )
    )

    if gradient_images:
        n = min(gradient_images, len(x))
        grads = gradient_analysis(
            nets,
            x[:n],
            y[:n],
            steps=32,
            batch_size=batch_size,
            progress=count_task(bar, "gradients"),
        )
        save_figure(
            gradient_figure(x[:n], grads.results, n_images=4),
            figdir / "gradients.png",
            formats=formats,
        )
        out["gradients"] = grads.to_dict()
        sections.append(
            Section(
                "Input gradients and integrated gradients",
                [
                    f"{n} images; gradients of the true class's logit, integrated gradients "
                    "from a black baseline in 32 steps. Smoothness is measured: band energy, "
                    "the power-law slope of the radial power (images: about -2, white noise: "
                    "0), the power-weighted mean frequency (lower = smoother), and the "
                    "correlation of |attribution| with the image's edges (higher = more "
                    "image-like)."
                ],
                [Table("Per model and map (means over images)", GRADIENT_HEADER, grads.rows())],
                [(figdir / "gradients.png", "Images, gradients, integrated gradients; spectra")],
            )
        )

    if heatmap_images:
        n = min(heatmap_images, len(x))
        heat = heatmap_analysis(
            nets,
            x[:n],
            y[:n],
            eps=heatmap_eps,
            seed=seed,
            batch_size=batch_size,
            progress=count_task(bar, "heat maps"),
        )
        fig = heatmap_figure(heat.maps, eps=heatmap_eps, clean_error=heat.clean_error)
        save_figure(fig, figdir / "heatmap.png", formats=formats)
        out["heatmap"] = heat.to_dict()
        sections.append(
            Section(
                f"Fourier heat map, L2 eps = {heatmap_eps:g} per channel",
                [
                    f"{n} images, each perturbed by one Fourier basis image at a time (unit L2 "
                    "norm, scaled by eps, random sign per channel, clipped to [0, 1]; Yin et "
                    "al. 2019). Each cell is the error rate under the basis of that frequency, "
                    f"DC in the centre: a count out of the same n = {n} images. Clean error "
                    "with its 95% Wilson interval."
                ],
                [
                    Table(
                        "Error rate (mean over the band's frequencies)",
                        HEATMAP_HEADER,
                        [
                            [
                                r[0],
                                ci_cell(
                                    out["heatmap"]["models"][r[0]]["intervals"]["clean_error"],
                                    r[1],
                                ),
                                *r[2:],
                            ]
                            for r in heat.rows()
                        ],
                    )
                ],
                [(figdir / "heatmap.png", "Fourier heat maps")],
            )
        )
    return out, sections
