"""Where in the spectrum the models break: the `spectral bands` pieces and the report section.

Filtered-accuracy curves (Wang et al. 2020) and band-limited PGD (Maiya et al. 2021), run
by `spectral bands` and by `spectral report --band-images N` with the same functions.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

from cli._common import UserError
from cli._html import Section, Table
from spectral.errors import SpectralError

#: The report's radii in cycles/pixel: 1, 2, 4, 8, 12, 16 pixels of a 32-pixel spectrum.
REPORT_RADII = tuple(r / 32 for r in (1, 2, 4, 8, 12, 16))


def parse_numbers(text: str, option: str) -> tuple[float, ...]:
    """Comma-separated positive numbers, fractions allowed (``4/255``); one line if bad."""
    vals = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            v = float(Fraction(part))
        except (ValueError, ZeroDivisionError):
            raise UserError(
                f"{option}: expected comma-separated numbers > 0 (fractions like 8/255 "
                f"allowed), got {part!r}"
            ) from None
        if not v > 0:
            raise UserError(f"{option}: expected numbers > 0, got {part!r}")
        vals.append(v)
    if not vals:
        raise UserError(f"{option}: expected at least one number, got {text!r}")
    return tuple(vals)


def check_band_options(
    *,
    kinds: tuple[str, ...],
    boundary: str,
    bands: tuple[str, ...],
    eps: tuple[float, ...],
    norm: str,
    box: str,
) -> str:
    """Validate the options before any work (one line naming the option); the norm."""
    from spectral.fourier import Boundary, FilterKind, parse_band

    known = [k.value for k in FilterKind]
    if not kinds or any(k not in known for k in kinds):
        raise UserError(f"--kinds: expected some of {', '.join(known)}, got {','.join(kinds)!r}")
    if boundary not in [b.value for b in Boundary]:
        raise UserError(f"--boundary: expected strict or inclusive, got {boundary!r}")
    for b in bands:
        try:
            parse_band(b)
        except SpectralError:
            raise UserError(f"--bands: expected low, mid, high or all, got {b!r}") from None
    if not bands:
        raise UserError("--bands: expected at least one band, got none")
    norms = {"linf": "Linf", "l2": "L2"}
    if norm.strip().lower() not in norms:
        raise UserError(f"--norm: expected Linf or L2, got {norm!r}")
    nrm = norms[norm.strip().lower()]
    if nrm == "Linf" and max(eps) > 1:
        raise UserError(
            f"--eps: expected L-inf budgets <= 1 (images are in [0, 1]; pass 8/255), "
            f"got {max(eps):g}"
        )
    if box not in ("none", "clip"):
        raise UserError(f"--box: expected none or clip, got {box!r}")
    return nrm


def run_bands(
    nets: dict[str, Any],
    x: Any,
    y: Any,
    *,
    radii: tuple[float, ...],
    kinds: tuple[str, ...],
    boundary: str,
    attack_images: int,
    bands: tuple[str, ...],
    eps: tuple[float, ...],
    norm: str,
    steps: int,
    box: str,
    seed: int,
    batch_size: int | None,
    progress: Callable[[str], Callable[[int, int], None]],
) -> tuple[Any, Any]:
    """Filtered accuracy on all of ``x``; band-limited PGD on the first ``attack_images``."""
    from spectral.analysis import band_attack_analysis, filtered_accuracy

    filtered = filtered_accuracy(
        nets,
        x,
        y,
        radii=radii,
        kinds=kinds,
        boundary=boundary,
        batch_size=batch_size,
        progress=progress("filtered accuracy"),
    )
    attacked = None
    if attack_images:
        n = min(attack_images, len(x))
        attacked = band_attack_analysis(
            nets,
            x[:n],
            y[:n],
            bands=bands,
            eps=eps,
            norm=norm,
            steps=steps,
            box=box,
            seed=seed,
            batch_size=batch_size,
            progress=progress("band-limited PGD"),
        )
    return filtered, attacked


def _has_bins(h: int, w: int, band: str) -> bool:
    """Whether a named band holds a frequency of ``h x w`` images."""
    from spectral.fourier import band_mask

    try:
        band_mask(h, w, band)
    except SpectralError:
        return False
    return True


def _pct(v: float) -> str:
    return f"{100 * v:.1f}"


def _eps_name(e: float, norm: str) -> str:
    return f"{e * 255:.3g}/255" if norm == "Linf" else f"{e:.3g}"


def filtered_rows(filtered: Any) -> tuple[list[str], list[list[Any]]]:
    """Header and rows: model, filter, pass, accuracy (%) per radius in pixels."""
    header = ["model", "filter", "image", *(f"R={r:g}" for r in filtered.radii_pixels())]
    rows = [[m, k, p.replace("pass", "-pass"), *map(_pct, a)] for m, p, k, *a in filtered.rows()]
    return header, rows


def attack_rows(attacked: Any) -> tuple[list[str], list[list[Any]]]:
    """Header and rows: model, band, accuracy (%) per budget."""
    header = ["model", "band", *(f"eps {_eps_name(e, attacked.norm)}" for e in attacked.eps)]
    return header, [[m, b, *map(_pct, a)] for m, b, *a in attacked.rows()]


def summary_lines(filtered: Any, attacked: Any) -> list[str]:
    """The terminal summary of `spectral bands`: one line per model and curve / band."""
    lines = [
        f"accuracy (%) on n = {filtered.n_images} filtered images ({filtered.boundary} ideal "
        "masks), radii in pixels:"
    ]
    header, rows = filtered_rows(filtered)
    lines.append("  " + " | ".join(header))
    lines += ["  " + " | ".join(str(c) for c in r) for r in rows]
    if attacked is not None:
        lines.append(
            f"robust accuracy (%) under band-limited PGD-{attacked.steps} ({attacked.norm}), "
            f"n = {attacked.n_images}:"
        )
        header, rows = attack_rows(attacked)
        lines.append("  " + " | ".join(header))
        lines += ["  " + " | ".join(str(c) for c in r) for r in rows]
    return lines


def bands_section(
    *,
    nets: dict[str, Any],
    x: Any,
    y: Any,
    band_images: int,
    seed: int,
    figdir: Path,
    formats: tuple[str, ...],
    bar: Any,
    batch_size: int | None = None,
) -> tuple[dict[str, Any], list[Section]]:
    """The report's section: filtered accuracy and band-limited PGD on ``band_images``.

    Kept cheap (about 1.3 CPU-seconds per image: 50 CPU-s for the default 40): six
    radii (1, 2, 4, 8, 12, 16 pixels of a 32-pixel spectrum) with the ideal strict
    mask, and L-inf band-limited PGD-10 at 8/255 in the low, mid and high bands;
    `spectral bands` runs more.
    """
    from cli._progress import count_task
    from spectral.plot import bands_figure, save_figure

    if not band_images:
        return {}, []
    n = min(band_images, len(x))
    h, w = (int(v) for v in x.shape[-2:])
    bands = tuple(b for b in ("low", "mid", "high") if _has_bins(h, w, b))
    filtered, attacked = run_bands(
        nets,
        x[:n],
        y[:n],
        radii=REPORT_RADII,
        kinds=("ideal",),
        boundary="strict",
        attack_images=n if bands else 0,
        bands=bands,
        eps=(8 / 255,),
        norm="Linf",
        steps=10,
        box="none",
        seed=seed,
        batch_size=batch_size,
        progress=lambda what: count_task(bar, what),
    )
    save_figure(bands_figure(filtered, attacked), figdir / "bands.png", formats=formats)
    fh, fr = filtered_rows(filtered)
    tables = [Table("Accuracy (%) on filtered images, R in pixels", fh, fr)]
    if attacked is not None:
        ah, ar = attack_rows(attacked)
        tables.append(Table("Robust accuracy (%) under band-limited PGD", ah, ar))
    missing = [b for b in ("low", "mid", "high") if b not in bands]
    note = (
        [f"Not attacked: the {', '.join(missing)} band(s) hold no frequency of {h}x{w} images."]
        if missing
        else []
    )
    section = Section(
        "Where in the spectrum the models break",
        [
            f"{n} images. Left: accuracy on the low-frequency component (ideal mask r < R, "
            "strict as in Wang et al. 2020) and on the high-frequency component (the rest, "
            "no DC), fed unclipped. Wang et al. find "
            "standard CIFAR-10 models keep much accuracy on high-pass images humans cannot "
            "read, adversarially trained ones lose it. Right: PGD-10 (L-inf 8/255, step "
            "eps/4) whose perturbation is projected onto one band at every step and scaled "
            "(not clipped) into the budget, so it has no energy outside the band; the image "
            "x + delta is not clipped. Scaling by the largest value makes it weaker than "
            "plain PGD at the same eps (compare the attack above). Bands: low r < 1/8, "
            "mid 1/8 <= r < 1/4, high r >= 1/4 cycles/pixel. Maiya et al. 2021 and Sharma "
            "et al. 2019: low-frequency attacks remain effective against adversarially "
            "trained models.",
            *note,
        ],
        tables,
        [(figdir / "bands.png", "Filtered-accuracy curves and band-limited PGD")],
    )
    part = {
        "filtered_accuracy": filtered.to_dict(),
        "band_attack": attacked.to_dict() if attacked is not None else None,
    }
    return {"band_robustness": part}, [section]
