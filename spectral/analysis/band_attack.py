"""Robust accuracy under band-limited PGD, per band and budget (Maiya et al. 2021)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from spectral._internal.batching import attack_in_batches, batched_logits, resolve_batch_size
from spectral._internal.validate import (
    check_choice,
    check_float,
    check_images,
    check_int,
    check_labels,
    check_model,
)
from spectral.distributed import all_reduce_max, local, shard_of, summed_fractions
from spectral.errors import SpectralTypeError, SpectralValueError
from spectral.fourier.bandpass import band_mask, parse_band
from spectral.fourier.bands import DEFAULT_CUTOFFS, check_cutoffs
from spectral.metrics.uncertainty import proportion_interval

__all__ = ["DEFAULT_ATTACK_BANDS", "BandAttackAnalysis", "band_attack_analysis", "band_label"]

#: The bands attacked by default: the three of :func:`spectral.band_energy` and all of them.
DEFAULT_ATTACK_BANDS: tuple[str, ...] = ("low", "mid", "high", "all")


def band_label(band: Any) -> str:
    """A band's name as given, or ``"lo-hi"`` (cycles/pixel) for an annulus.

    Examples:
        >>> band_label("low"), band_label((0.1, 0.2)), band_label((0.3, float("inf")))
        ('low', '0.1-0.2', '0.3-inf')
    """
    if isinstance(band, str):
        return band.strip().lower()
    lo, hi = parse_band(band)
    return f"{lo:g}-{hi:g}"


@dataclass(frozen=True)
class BandAttackAnalysis:
    """Robust accuracy of several models under :class:`spectral.attacks.BandPGD`.

    Attributes:
        bands: band labels (:func:`band_label`).
        ranges: each band's annulus ``(lo, hi)`` in cycles/pixel (``lo <= r < hi``).
        eps: budgets, in the ``norm``.
        norm: ``"Linf"`` or ``"L2"``.
        steps: PGD iterations.
        step_fraction: the PGD step as a fraction of ``eps``.
        box: ``"none"`` (``x + delta`` unclipped, exactly band-limited) or ``"clip"``.
        n_images: images per accuracy.
        clean_accuracy: model -> clean accuracy.
        robust_accuracy: model -> band -> accuracy per budget.
        out_of_band: model -> band -> largest fraction of a perturbation's energy outside
            its band, over images and budgets (~1e-14 with ``box="none"``).
    """

    bands: tuple[str, ...]
    ranges: tuple[tuple[float, float], ...]
    eps: tuple[float, ...]
    norm: str
    steps: int
    step_fraction: float
    box: str
    n_images: int
    clean_accuracy: dict[str, float]
    robust_accuracy: dict[str, dict[str, list[float]]]
    out_of_band: dict[str, dict[str, float]]

    def rows(self) -> list[list[Any]]:
        """Table rows ``[model, band, accuracy at each eps...]``, clean first per model."""
        rows: list[list[Any]] = []
        for name, per_band in self.robust_accuracy.items():
            rows.append([name, "clean", *([self.clean_accuracy[name]] * len(self.eps))])
            rows.extend([name, b, *accs] for b, accs in per_band.items())
        return rows

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: settings and, per model, clean and per-band robust accuracies.

        Accuracies are counts out of ``n_images``; intervals are 95 % Wilson.
        """

        def iv(p: float) -> dict[str, Any]:
            return proportion_interval(p, self.n_images).to_dict()

        return {
            "attack": "bandpgd",
            "bands": list(self.bands),
            "ranges": [[lo, hi if math.isfinite(hi) else None] for lo, hi in self.ranges],
            "eps": list(self.eps),
            "norm": self.norm,
            "steps": self.steps,
            "step_fraction": self.step_fraction,
            "box": self.box,
            "n_images": self.n_images,
            "models": {
                name: {
                    "clean_accuracy": self.clean_accuracy[name],
                    "clean_interval": iv(self.clean_accuracy[name]),
                    "robust_accuracy": per_band,
                    "robust_intervals": {b: [iv(a) for a in accs] for b, accs in per_band.items()},
                    "max_out_of_band_energy": self.out_of_band[name],
                }
                for name, per_band in self.robust_accuracy.items()
            },
        }


def _outside(delta: torch.Tensor, band: tuple[float, float]) -> float:
    """Largest fraction, over images, of the perturbation energy outside ``band``."""
    h, w = delta.shape[-2:]
    m = torch.from_numpy(band_mask(h, w, band)).to(delta.device, torch.float64)
    d = delta.double()
    out = torch.fft.irfft2(torch.fft.rfft2(d) * (1 - m), s=(h, w))
    total = d.square().flatten(1).sum(1)
    frac = out.square().flatten(1).sum(1) / total.clamp_min(1e-300)
    return float(frac[total > 0].max()) if bool((total > 0).any()) else 0.0


def band_attack_analysis(
    models: Mapping[str, nn.Module],
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    bands: Sequence[Any] = DEFAULT_ATTACK_BANDS,
    eps: Sequence[float] = (4 / 255, 8 / 255),
    norm: str = "Linf",
    steps: int = 10,
    step_fraction: float = 0.25,
    cutoffs: tuple[float, float] = DEFAULT_CUTOFFS,
    box: str = "none",
    seed: int = 0,
    batch_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BandAttackAnalysis:
    """Robust accuracy of each model under band-limited PGD, per band and budget.

    Each model is attacked by its own :class:`spectral.attacks.BandPGD` (white box,
    ``make_attack("bandpgd", ...)``) in every band at every budget, on the same images.
    A band the model barely uses cannot hurt it (an attack confined to frequencies a
    low-pass model discards fails); Maiya et al. (2021) and Sharma et al. (2019) find
    low-frequency attacks stay effective against adversarially trained models.

    Args:
        models: name -> classifier on images in ``[0, 1]`` returning logits.
        images: test images in ``[0, 1]``.
        labels: their labels.
        bands: band names (``"low"``, ``"mid"``, ``"high"``, ``"all"``) or annuli
            ``(lo, hi)`` in cycles/pixel.
        eps: budgets (> 0; at most 1 for L-inf).
        norm: ``"Linf"`` or ``"L2"``.
        steps: PGD iterations (>= 1).
        step_fraction: the PGD step as a fraction of each budget (> 0).
        cutoffs: edges of the named bands (those of :func:`spectral.band_energy`).
        box: ``"none"`` or ``"clip"`` (see :class:`spectral.attacks.BandPGD`).
        seed: seed of the random starts.
        batch_size: images per attack call (None: sized from memory).
        progress: called with ``(done, total)`` attacks (model x band x budget).

    Returns:
        A :class:`BandAttackAnalysis`.

    Raises:
        SpectralValueError: no models, bad images, labels, bands, budgets or options.
        SpectralTypeError: a model that is not an ``nn.Module``, a progress that is not
            callable.

    Shape:
        - images: :math:`(N, C, H, W)`; labels: :math:`(N,)`

    Examples:
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 3))
        >>> x, y = torch.rand(4, 3, 8, 8), torch.tensor([0, 1, 2, 0])
        >>> a = band_attack_analysis({"net": net}, x, y, bands=("low", "high"), eps=(0.1,),
        ...                          steps=2, cutoffs=(0.2, 0.3))
        >>> sorted(a.robust_accuracy["net"]), a.out_of_band["net"]["high"] < 1e-10
        (['high', 'low'], True)
    """
    from spectral.attacks.factory import make_attack

    if not models:
        raise SpectralValueError("models: expected at least one model, got none")
    check_images(images, "images", unit_range=True)
    check_labels(labels, images)
    cut = check_cutoffs(cutoffs)
    if isinstance(bands, str) or not bands:
        raise SpectralValueError(f"bands: expected a non-empty list of bands, got {bands!r}")
    ranges = tuple(parse_band(b, cut) for b in bands)
    h, w = images.shape[-2:]
    for r in ranges:
        band_mask(h, w, r)  # an empty band fails here, before any attack
    labels_ = tuple(band_label(b) for b in bands)
    if isinstance(eps, int | float) or not eps:
        raise SpectralValueError(f"eps: expected a non-empty list of budgets, got {eps!r}")
    budgets = tuple(check_float(e, "eps") for e in eps)
    check_choice(norm, "norm", ("Linf", "L2"))
    check_int(steps, "steps", 1)
    frac = check_float(step_fraction, "step_fraction")
    check_choice(box, "box", ("none", "clip"))
    if progress is not None and not callable(progress):
        raise SpectralTypeError(f"progress: expected a callable, got {type(progress).__name__}")
    n = int(images.shape[0])
    total, done = len(models) * len(ranges) * len(budgets), 0
    clean: dict[str, float] = {}
    robust: dict[str, dict[str, list[float]]] = {}
    leak: dict[str, dict[str, float]] = {}
    # under torch.distributed each rank attacks its shard of the images (the seeded
    # BandPGD draws each image's start from the image itself); correct counts are summed
    # and the out-of-band energy is the largest over the ranks
    _, x_mine, y_mine = shard_of(images, labels)
    counts: list[int] = []
    worsts: list[float] = []
    for net in models.values():
        check_model(net)
        bs = resolve_batch_size(batch_size, net, x_mine, backward=True)
        counts.append(int((batched_logits(net, x_mine, bs).argmax(1) == y_mine).sum()))
        for band in ranges:
            worst = 0.0
            for e in budgets:
                atk = make_attack(
                    "bandpgd",
                    net,
                    eps=e,
                    steps=steps,
                    step_size=frac * e,
                    seed=seed,
                    band=band,
                    norm=norm,
                    cutoffs=cut,
                    box=box,
                )
                with local():  # already this rank's shard
                    adv = attack_in_batches(atk, x_mine, y_mine, bs)
                pred = batched_logits(net, adv, bs).argmax(1)
                counts.append(int((pred == y_mine).sum()))
                worst = max(worst, _outside(adv - x_mine, band))
                done += 1
                if progress is not None:
                    progress(done, total)
            worsts.append(worst)
    rates = iter(summed_fractions(counts, n))
    leaks = iter(all_reduce_max(torch.tensor(worsts, dtype=torch.float64)).tolist())
    for name in models:
        clean[name] = next(rates)
        robust[name] = {label: [next(rates) for _ in budgets] for label in labels_}
        leak[name] = {label: next(leaks) for label in labels_}
    return BandAttackAnalysis(
        bands=labels_,
        ranges=ranges,
        eps=budgets,
        norm=norm,
        steps=steps,
        step_fraction=frac,
        box=box,
        n_images=n,
        clean_accuracy=clean,
        robust_accuracy=robust,
        out_of_band=leak,
    )
