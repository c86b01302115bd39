"""Report sections (text and tables) for the reference spectra and the papers' claims."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cli._html import Section, Table

BANDS = ("low", "mid", "high")


def fmt_bands(v: list[float | None]) -> list[Any]:
    """Band fractions rounded for a table (None stays None)."""
    return [None if f is None else round(float(f), 4) for f in v]


def photo_section(per_photo: dict[str, Any], figdir: Path) -> Section:
    """Input spectra of the bundled photographs: band energies and slopes per photograph."""
    rows = []
    for n, v in per_photo.items():
        bands = [sum(b[i] for b in v["band_energy"].values()) / 3 for i in range(3)]
        slope = round(sum(v["radial_slope"].values()) / 3, 3)
        rows.append([n, f"{v['height']}x{v['width']}", *fmt_bands(bands), slope])
    return Section(
        "Input spectra of the bundled photographs",
        [
            "Log-shifted, min-max normalised magnitude spectra per colour channel "
            "(DC in the centre), and the radial power profile with its fitted "
            "power-law slope (natural images: about -2).",
        ],
        [
            Table(
                "Per photograph: fraction of non-DC energy per band (mean over "
                "channels) and radial power slope (mean over channels)",
                ["photo", "size", "low", "mid", "high", "slope"],
                rows,
            )
        ],
        [(figdir / "input_spectra.png", "Input spectra (rows: photographs)")],
    )


def dataset_section(d: dict[str, Any], figdir: Path) -> Section:
    """The dataset-scale mean power spectrum: slope per channel."""
    cv = d["mean_coefficient_of_variation"]
    return Section(
        "Dataset-scale mean power spectrum",
        [
            f"The {d['n_images']} analysed test images ({d['size']}, --data {d['data']}), "
            "accumulated batch by batch with SpectrumAccumulator (memory does not "
            "grow with the number of images). Mean over frequencies of the "
            f"per-frequency coefficient of variation: {cv:.3g}.",
        ],
        [
            Table(
                "Radial power-law slope of the mean spectrum",
                ["channel", "slope"],
                [[c, round(v, 3)] for c, v in d["radial_slope"].items()],
            )
        ],
        [(figdir / "dataset_spectrum.png", "Mean power spectrum and radial profile")],
    )


def noise_section(d: dict[str, Any], figdir: Path) -> Section:
    """The random sign-noise baseline: band energies of clean, noisy and the noise."""
    be = d["band_energy"]
    return Section(
        f"Baseline: random sign noise (L-inf eps = {d['eps']:.4g})",
        [
            "Each pixel is moved by +eps or -eps at random (then clipped to [0, 1]). "
            "Such noise is white: its energy spreads over all frequencies, so most "
            "of it lies in the high band. An adversarial perturbation of the same "
            "size is compared against this baseline in the attack sections.",
        ],
        [
            Table(
                "Fraction of non-DC energy per band (mean over images and channels)",
                ["signal", *BANDS],
                [
                    ["clean", *fmt_bands(be["clean"])],
                    ["noisy", *fmt_bands(be["adversarial"])],
                    ["perturbation", *fmt_bands(be["perturbation"])],
                    ["shift (noisy - clean)", *fmt_bands(be["shift"])],
                ],
            )
        ],
        [
            (figdir / "noise_spectra.png", "Rows: natural, noisy, difference"),
            (figdir / "noise_band_energy.png", "Band energies"),
        ],
    )


def papers_section(papers: Any | None) -> Section:
    """The seeds' phenomena: ours | paper | agrees? (or why it was skipped)."""
    if papers is None:
        return Section(
            "The papers' phenomena, measured here",
            ["Skipped: it needs two models (pass --compare-model)."],
            [],
            [],
        )
    return Section(
        "The papers' phenomena, measured here",
        [
            f"Each claim of the source papers, checked on this report's "
            f"numbers: {papers.standard} as the standard model, {papers.robust} "
            "as the robust one. 'yes' means our numbers point the way the "
            "paper reports (no statistical test; see the sections below for "
            "the sample sizes). Nothing was tuned to agree.",
        ],
        [Table("Claims", ["phenomenon", "paper", "ours", "agrees?"], papers.rows())],
        [],
    )
