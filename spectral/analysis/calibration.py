"""Calibration of several models on clean and adversarial data (Grabinski et al. 2022)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from spectral._internal.batching import batched_logits, resolve_batch_size
from spectral._internal.validate import check_images, check_int, check_labels, check_model
from spectral.errors import SpectralValueError
from spectral.metrics.calibration import (
    calibration_bins,
    calibration_intervals,
    calibration_metrics,
)

__all__ = ["CALIBRATION_COLUMNS", "CalibrationAnalysis", "calibration_analysis"]

#: The metrics a calibration table shows, in order (keys of :func:`calibration_metrics`).
CALIBRATION_COLUMNS = ("accuracy", "ece", "overconfidence", "underconfidence", "mean_confidence")


@dataclass(frozen=True)
class CalibrationAnalysis:
    """Calibration of each model on clean images and on its own adversarial examples.

    Attributes:
        attack: name of the attack that made the adversarial examples.
        eps: its budget.
        n_images: images per data kind.
        n_bins: equal-width confidence bins.
        metrics: model -> {"clean", "adversarial"} -> :func:`calibration_metrics`, plus
            ``intervals``: metric -> 95 % interval ``to_dict()`` (or ``None``) from
            :func:`~spectral.metrics.calibration.calibration_intervals` (Wilson for the
            accuracy, bootstrap over images for the ECE and the mean confidences).
        bins: model -> data kind -> :func:`calibration_bins` rows (reliability diagram).
        confidences: model -> data kind -> ``(N,)`` top-class probabilities.
    """

    attack: str
    eps: float
    n_images: int
    n_bins: int
    metrics: dict[str, dict[str, dict[str, Any]]]
    bins: dict[str, dict[str, list[dict[str, float]]]] = field(repr=False)
    confidences: dict[str, dict[str, torch.Tensor]] = field(repr=False)

    def rows(self) -> list[list[Any]]:
        """Table rows ``[model, data, *CALIBRATION_COLUMNS]``, one per model and data kind."""
        return [
            [name, kind, *(m[c] for c in CALIBRATION_COLUMNS)]
            for name, per in self.metrics.items()
            for kind, m in per.items()
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: attack, eps, n_images, n_bins and the metrics per model."""
        return {
            "attack": self.attack,
            "eps": self.eps,
            "n_images": self.n_images,
            "n_bins": self.n_bins,
            "models": self.metrics,
        }


def calibration_analysis(
    models: Mapping[str, nn.Module],
    x: torch.Tensor,
    y: torch.Tensor,
    adversarial: Mapping[str, torch.Tensor],
    *,
    attack: str,
    eps: float,
    n_bins: int = 15,
    seed: int = 0,
    batch_size: int | None = None,
) -> CalibrationAnalysis:
    """Calibration of every model on ``x`` and on its own ``adversarial[name]``.

    Args:
        models: name -> classifier on images in ``[0, 1]`` returning logits.
        x: clean images.
        y: their labels.
        adversarial: name -> that model's adversarial examples of ``x`` (same shape).
        attack: the attack's name (recorded).
        eps: the attack's budget (recorded).
        n_bins: equal-width confidence bins (>= 1).
        seed: seed of the bootstrap resampling of the intervals.
        batch_size: images per forward pass; None (default) picks one per model from
            the free memory (:func:`~spectral.metrics.auto_batch_size`).

    Returns:
        A :class:`CalibrationAnalysis`.

    Raises:
        SpectralValueError: no models, a model without adversarial examples, shapes that
            differ, or ``n_bins < 1``.
        SpectralTypeError: a model that is not an ``nn.Module``, a non-int ``n_bins``, or
            image/label tensors of the wrong type.

    Shape:
        - x: :math:`(N, C, H, W)`; y: :math:`(N,)`; each ``adversarial[name]`` like ``x``.

    Examples:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
        >>> x, y = torch.rand(8, 3, 2, 2), torch.arange(8) % 3
        >>> a = calibration_analysis({"net": net}, x, y, {"net": x}, attack="none", eps=0.0)
        >>> a.metrics["net"]["clean"] == a.metrics["net"]["adversarial"]
        True
        >>> a.metrics["net"]["clean"]["intervals"]["accuracy"]["n"]
        8
    """
    if not models:
        raise SpectralValueError("models: expected at least one model, got none")
    check_int(n_bins, "n_bins", 1)
    check_images(x, "x", unit_range=True)
    check_labels(y, x)
    metrics: dict[str, dict[str, dict[str, Any]]] = {}
    bins: dict[str, dict[str, list[dict[str, float]]]] = {}
    confidences: dict[str, dict[str, torch.Tensor]] = {}
    for name, net in models.items():
        check_model(net)
        if name not in adversarial:
            raise SpectralValueError(f"adversarial: expected examples for model {name!r}, got none")
        x_adv = check_images(adversarial[name], f"adversarial[{name!r}]", unit_range=True)
        if x_adv.shape != x.shape:
            raise SpectralValueError(
                f"adversarial[{name!r}]: expected the shape of x {tuple(x.shape)}, "
                f"got {tuple(x_adv.shape)}"
            )
        bs = resolve_batch_size(batch_size, net, x, backward=False)
        logits = {
            "clean": batched_logits(net, x, bs),
            "adversarial": batched_logits(net, x_adv, bs),
        }
        metrics[name] = {}
        for k, z in logits.items():
            ivs = calibration_intervals(z, y, n_bins=n_bins, seed=seed) if len(y) >= 2 else {}
            metrics[name][k] = calibration_metrics(z, y, n_bins=n_bins) | {
                "intervals": {m: None if iv is None else iv.to_dict() for m, iv in ivs.items()}
            }
        bins[name] = {k: calibration_bins(z, y, n_bins=n_bins) for k, z in logits.items()}
        confidences[name] = {k: torch.softmax(z, 1).max(1).values for k, z in logits.items()}
    return CalibrationAnalysis(
        attack=attack,
        eps=float(eps),
        n_images=int(x.shape[0]),
        n_bins=n_bins,
        metrics=metrics,
        bins=bins,
        confidences=confidences,
    )
