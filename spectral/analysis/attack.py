"""Attack analysis: accuracy, success, dissimilarity and spectra of clean vs adversarial."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from spectral._internal.batching import attack_in_batches, resolve_batch_size
from spectral._internal.validate import check_images, check_labels
from spectral.errors import SpectralValueError
from spectral.fourier.bands import BAND_NAMES
from spectral.fourier.compare import SpectrumComparison, compare_spectra
from spectral.fourier.radial import powerlaw_slope, radial_profile
from spectral.fourier.spectra import power_spectrum
from spectral.metrics.attack import l2_dissimilarity
from spectral.metrics.classification import predict
from spectral.metrics.uncertainty import (
    bootstrap_interval,
    paired_difference,
    proportion_interval,
)

__all__ = ["AttackAnalysis", "attack_analysis"]


METRICS = ("clean_accuracy", "adversarial_accuracy", "attack_success_rate", "l2_dissimilarity")
PROPORTIONS = ("clean_accuracy", "adversarial_accuracy", "attack_success_rate")


def _per_image(
    model: nn.Module,
    images: torch.Tensor,
    x_adv: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int | None = None,
) -> dict[str, torch.Tensor]:
    """0/1 per image: clean correct, adversarial correct, prediction changed."""
    before = predict(model, images, batch_size=batch_size)
    after = predict(model, x_adv, batch_size=batch_size)
    y = labels.to(before.device)
    return {
        "clean_accuracy": (before == y).double().cpu(),
        "adversarial_accuracy": (after == y).double().cpu(),
        "attack_success_rate": (before != after).double().cpu(),
    }


def _band_intervals(fractions: torch.Tensor, seed: int) -> dict[str, Any] | None:
    """Bootstrap 95% intervals over images of each band's mean fraction (``(B, C, 3)`` in).

    Images whose fractions are undefined (a zero perturbation) are left out, as the
    reported means leave them out; None when fewer than two images remain.
    """
    per_image = fractions.to(torch.float64).nanmean(1)  # (B, 3): mean over channels
    keep = torch.isfinite(per_image).all(1)
    if int(keep.sum()) < 2:
        return None
    return {
        band: bootstrap_interval(per_image[keep, j], seed=seed).to_dict()
        for j, band in enumerate(BAND_NAMES)
    }


def _difference(a: torch.Tensor, b: torch.Tensor, seed: int) -> dict[str, Any]:
    """This model minus the main one on the same images, with a paired bootstrap interval."""
    iv = paired_difference(a, b, seed=seed)
    return {**iv.to_dict(), "excludes_zero": iv.excludes(0.0)}


@dataclass(frozen=True)
class AttackAnalysis:
    """An attack on several models (the first one is the main model).

    Attributes:
        attack: attack name; ``eps``, ``steps`` its budget and iterations.
        metrics: model -> ``clean_accuracy``, ``adversarial_accuracy``,
            ``attack_success_rate``, ``l2_dissimilarity``, ``band_energy`` (the
            :meth:`SpectrumComparison.to_dict` band means), ``n_images``, ``intervals``
            (the three proportions' 95 % Wilson intervals) and, for every model after the
            first, ``difference_vs_main`` (this model minus the first on the same images,
            with a paired bootstrap 95 % interval and whether it excludes 0).
        adversarial: model -> its adversarial examples ``(B, C, H, W)``.
        comparison: model -> :class:`SpectrumComparison` of clean vs adversarial.
        radii: ring radii in cycles/pixel of the main model's radial profiles.
        radial_power: ``clean`` / ``adversarial`` / ``perturbation`` -> ``(n_bins,)`` radial
            power of the main model's batch, mean over images and channels.
        radial_slope: the power-law slopes of those profiles.
    """

    attack: str
    eps: float
    steps: int
    metrics: dict[str, dict[str, Any]]
    adversarial: dict[str, torch.Tensor]
    comparison: dict[str, SpectrumComparison]
    radii: torch.Tensor
    radial_power: dict[str, torch.Tensor]
    radial_slope: dict[str, float]

    @property
    def main(self) -> str:
        """Name of the main (first) model."""
        return next(iter(self.metrics))

    def to_dict(self) -> dict[str, Any]:
        """The report's JSON part: the main model's numbers at the top, then per model."""
        main = self.metrics[self.main]
        return {
            **{k: main[k] for k in METRICS},
            "band_energy": {
                k: main["band_energy"][k] for k in ("clean", "adversarial", "perturbation")
            },
            "models": self.metrics,
            "radial_slope": self.radial_slope,
        }


def attack_analysis(
    models: Mapping[str, nn.Module],
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    attack: str = "pgd",
    eps: float = 8 / 255,
    steps: int = 10,
    seed: int = 0,
    batch_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> AttackAnalysis:
    """Attack each model on ``images`` and compare clean and adversarial spectra.

    Args:
        models: name -> classifier; the first is the main model, whose batch the radial
            profiles describe.
        images: ``(B, C, H, W)`` test images in [0, 1].
        labels: ``(B,)`` their labels.
        attack: a :func:`spectral.make_attack` name.
        eps: L-inf budget.
        steps: attack iterations.
        seed: attack seed.
        batch_size: images per attack call and per forward pass; None (default) picks
            one per model from the free memory (:func:`~spectral.metrics.auto_batch_size`).
            The attack is reseeded for every batch, so random starts are drawn per
            batch: a deterministic attack (``fgsm``, ``pgd`` without random start)
            gives the same result for any batch size.
        progress: called with ``(models done, models)`` after each attack.

    Returns:
        An :class:`AttackAnalysis`.

    Raises:
        SpectralValueError: no models, or what :func:`spectral.make_attack` and the
            metrics raise: an unknown attack name, ``eps <= 0``, ``steps < 1``, images
            that are not ``(B, C, H, W)``, hold NaN/Inf or are outside ``[0, 1]``, or
            labels that do not match the images (checked before any attack runs).
        SpectralTypeError: a model that is not an ``nn.Module``, an option of the wrong
            type, or images that are not float32/float64.

    Shape:
        - images: :math:`(B, C, H, W)`
        - labels: :math:`(B,)`
        - ``adversarial[name]``: :math:`(B, C, H, W)`, like ``images``
        - ``radii`` and each ``radial_power[kind]``: :math:`(n_{bins},)`

    Examples:
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48, 3))
        >>> x, y = torch.rand(4, 3, 4, 4), torch.tensor([0, 1, 2, 0])
        >>> a = attack_analysis({"net": net}, x, y, attack="fgsm", eps=0.1)
        >>> a.main, tuple(a.adversarial["net"].shape), sorted(a.radial_power)
        ('net', (4, 3, 4, 4), ['adversarial', 'clean', 'perturbation'])
        >>> bool((a.adversarial["net"] - x).abs().max() <= 0.1 + 1e-6)  # within the budget
        True
        >>> m = a.metrics["net"]
        >>> 0.0 <= m["attack_success_rate"] <= 1.0, m["l2_dissimilarity"] > 0
        (True, True)
    """
    from spectral.attacks.factory import make_attack

    if not models:
        raise SpectralValueError("models: expected at least one model")
    check_images(images, "images", unit_range=True)
    check_labels(labels, images, "labels")
    metrics: dict[str, dict[str, Any]] = {}
    per_image: dict[str, dict[str, torch.Tensor]] = {}
    adversarial: dict[str, torch.Tensor] = {}
    comparison: dict[str, SpectrumComparison] = {}
    for i, (name, m) in enumerate(models.items()):
        bs = resolve_batch_size(batch_size, m, images, backward=True)
        atk = make_attack(attack, m, eps=eps, steps=steps, seed=seed)
        x_adv = attack_in_batches(atk, images, labels, bs)
        cmp = compare_spectra(images, x_adv)
        adversarial[name], comparison[name] = x_adv, cmp
        # one prediction per batch; the rates are the means of the per-image outcomes
        per_image[name] = _per_image(m, images, x_adv, labels, bs)
        metrics[name] = {
            **{k: float(per_image[name][k].mean()) for k in PROPORTIONS},
            "l2_dissimilarity": l2_dissimilarity(images, x_adv),
            "band_energy": cmp.to_dict()["band_energy"],
            "n_images": len(images),
        }
        metrics[name]["intervals"] = {
            k: proportion_interval(metrics[name][k], len(images)).to_dict() for k in PROPORTIONS
        }
        metrics[name]["intervals"]["perturbation_band_energy"] = _band_intervals(
            cmp.band_energy_perturbation, seed
        )
        if i > 0:
            main = per_image[next(iter(models))]
            metrics[name]["difference_vs_main"] = {
                k: _difference(per_image[name][k], main[k], seed) for k in PROPORTIONS
            }
        if progress is not None:
            progress(i + 1, len(models))
    x_adv = adversarial[next(iter(models))]
    radii = torch.empty(0)
    profiles: dict[str, torch.Tensor] = {}
    for kind, batch in (
        ("clean", images),
        ("adversarial", x_adv),
        ("perturbation", x_adv - images),
    ):
        radii, prof = radial_profile(power_spectrum(batch).mean(0, keepdim=True))
        profiles[kind] = prof[0].mean(0)
    return AttackAnalysis(
        attack=attack,
        eps=eps,
        steps=steps,
        metrics=metrics,
        adversarial=adversarial,
        comparison=comparison,
        radii=radii,
        radial_power=profiles,
        radial_slope={k: float(powerlaw_slope(radii, v)) for k, v in profiles.items()},
    )
