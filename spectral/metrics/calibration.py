"""Confidence calibration: reliability bins, ECE, over- and under-confidence."""

from __future__ import annotations

import math

import torch

from spectral.errors import SpectralValueError
from spectral.metrics.uncertainty import (
    Interval,
    bootstrap_interval,
    bootstrap_statistic,
    wilson_interval,
)

__all__ = ["calibration_bins", "calibration_intervals", "calibration_metrics"]


def _confidences(
    logits: torch.Tensor, labels: torch.Tensor, n_bins: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Validated ``(confidence, right)`` of softmax predictions, float64 on the CPU."""
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or logits.shape[0] == 0:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise SpectralValueError(f"logits: expected a non-empty (N, K) tensor, got {shape}")
    if not isinstance(labels, torch.Tensor) or labels.shape != (logits.shape[0],):
        shape = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise SpectralValueError(f"labels: expected shape ({logits.shape[0]},), got {shape}")
    if labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise SpectralValueError(f"labels: expected integer labels, got {labels.dtype}")
    if int(labels.min()) < 0 or int(labels.max()) >= logits.shape[1]:
        raise SpectralValueError(
            f"labels: expected values in [0, {logits.shape[1]}), got "
            f"[{int(labels.min())}, {int(labels.max())}]"
        )
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise SpectralValueError(f"n_bins: expected an int >= 1, got {n_bins!r}")
    z = logits.detach().to("cpu", torch.float64)
    if not bool(torch.isfinite(z).all()):
        raise SpectralValueError("logits: expected finite values, found NaN/Inf")
    conf, pred = torch.softmax(z, dim=1).max(dim=1)
    return conf, pred == labels.to("cpu")


def _bin_index(conf: torch.Tensor, n_bins: int) -> torch.Tensor:
    """The bin ``b`` of each confidence, ``conf in (b/n, (b+1)/n]``."""
    return (torch.ceil(conf * n_bins) - 1).clamp(0, n_bins - 1).long()


def calibration_bins(
    logits: torch.Tensor, labels: torch.Tensor, *, n_bins: int = 15
) -> list[dict[str, float]]:
    """The reliability diagram: statistics per equal-width confidence bin ``(b/n, (b+1)/n]``.

    Each bin has ``lower``, ``upper``, ``count``, mean ``confidence`` and ``accuracy``
    (both NaN for an empty bin).

    Args:
        logits: ``(N, K)`` model outputs.
        labels: ``(N,)`` true classes.
        n_bins: number of equal-width confidence bins on ``(0, 1]``.

    Returns:
        ``n_bins`` dicts, lowest bin first; confidence = the largest softmax probability.

    Raises:
        SpectralValueError: as :func:`calibration_metrics` (shapes that do not match,
            non-integer labels or labels out of range, NaN/Inf logits, ``n_bins < 1``).

    Shape:
        - logits: :math:`(N, K)`
        - labels: :math:`(N,)`

    Examples:
        >>> logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0]])
        >>> bins = calibration_bins(logits, torch.tensor([0, 1, 1]), n_bins=2)
        >>> [(b["lower"], b["upper"], b["count"]) for b in bins]
        [(0.0, 0.5, 0), (0.5, 1.0, 3)]
        >>> round(bins[1]["confidence"], 4), round(bins[1]["accuracy"], 4)
        (0.8808, 0.6667)
    """
    conf, right = _confidences(logits, labels, n_bins)
    idx = _bin_index(conf, n_bins)
    out = []
    for b in range(n_bins):
        sel = idx == b
        n = int(sel.sum())
        out.append(
            {
                "lower": b / n_bins,
                "upper": (b + 1) / n_bins,
                "count": n,
                "confidence": float(conf[sel].mean()) if n else math.nan,
                "accuracy": float(right[sel].double().mean()) if n else math.nan,
            }
        )
    return out


def calibration_metrics(
    logits: torch.Tensor, labels: torch.Tensor, *, n_bins: int = 15
) -> dict[str, float]:
    """Accuracy, ECE and over-/under-confidence of softmax predictions.

    Args:
        logits: ``(N, K)`` model outputs.
        labels: ``(N,)`` true classes.
        n_bins: equal-width confidence bins on ``(0, 1]`` for the ECE.

    Returns:
        ``accuracy``; ``ece`` = ``sum_b |B_b| / N * |acc(B_b) - conf(B_b)|`` (L1);
        ``overconfidence`` = mean confidence of the wrong predictions (NaN if none);
        ``underconfidence`` = mean ``1 - confidence`` of the right predictions (NaN if
        none); ``mean_confidence``. Confidence = the largest softmax probability.

    Raises:
        SpectralValueError: shapes that do not match, labels out of range, NaN, bad n_bins.

    Shape:
        - logits: :math:`(N, K)`
        - labels: :math:`(N,)`

    Examples:
        >>> logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0]])
        >>> m = calibration_metrics(logits, torch.tensor([0, 1, 1]))
        >>> round(m["accuracy"], 4), round(m["overconfidence"], 4)
        (0.6667, 0.8808)
    """
    conf, right = _confidences(logits, labels, n_bins)
    n = len(conf)
    ece = math.fsum(
        b["count"] / n * abs(b["accuracy"] - b["confidence"])
        for b in calibration_bins(logits, labels, n_bins=n_bins)
        if b["count"]
    )
    wrong = ~right
    return {
        "accuracy": float(right.double().mean()),
        "ece": ece,
        "overconfidence": float(conf[wrong].mean()) if bool(wrong.any()) else math.nan,
        "underconfidence": float((1 - conf[right]).mean()) if bool(right.any()) else math.nan,
        "mean_confidence": float(conf.mean()),
    }


def calibration_intervals(
    logits: torch.Tensor,
    labels: torch.Tensor,
    *,
    n_bins: int = 15,
    seed: int = 0,
    n_resamples: int = 2000,
) -> dict[str, Interval | None]:
    """95 % intervals of the numbers of :func:`calibration_metrics`.

    ``accuracy``: Wilson score interval on the ``N`` images. ``ece``: percentile
    bootstrap over images; each resample recomputes the ECE with the same bins.
    ``mean_confidence``: bootstrap of the mean over all images. ``overconfidence`` and
    ``underconfidence``: bootstrap of the mean over the wrong (right) predictions, with
    ``n`` = their number, given which images were wrong; ``None`` when fewer than two.

    Args:
        logits: ``(N, K)`` model outputs, ``N >= 2``.
        labels: ``(N,)`` true classes.
        n_bins: equal-width confidence bins on ``(0, 1]`` for the ECE.
        seed: seed of the resampling.
        n_resamples: bootstrap resamples (>= 100).

    Returns:
        Metric name -> :class:`~spectral.metrics.uncertainty.Interval` (or ``None``);
        each estimate equals the value of :func:`calibration_metrics`.

    Raises:
        SpectralValueError: as :func:`calibration_metrics`, or fewer than 2 images.

    Shape:
        - logits: :math:`(N, K)`
        - labels: :math:`(N,)`

    Examples:
        >>> logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0], [0.0, 1.0]])
        >>> iv = calibration_intervals(logits, torch.tensor([0, 1, 1, 1]))
        >>> iv["accuracy"].n, iv["accuracy"].method, iv["overconfidence"]
        (4, 'wilson', None)
        >>> iv["ece"].low <= iv["ece"].estimate <= iv["ece"].high
        True
    """
    conf, right = _confidences(logits, labels, n_bins)
    n = len(conf)
    if n < 2:
        raise SpectralValueError(f"logits: expected at least 2 images for intervals, got {n}")
    bins = _bin_index(conf, n_bins)
    gap = right.double() - conf

    def ece(idx: torch.Tensor) -> torch.Tensor:
        per_bin = torch.zeros(idx.shape[0], n_bins, dtype=torch.float64)
        per_bin.scatter_add_(1, bins[idx], gap[idx])
        return per_bin.abs().sum(1) / n

    def mean_of(v: torch.Tensor) -> Interval | None:
        return bootstrap_interval(v, n_resamples=n_resamples, seed=seed) if len(v) >= 2 else None

    return {
        "accuracy": wilson_interval(int(right.sum()), n),
        "ece": bootstrap_statistic(n, ece, n_resamples=n_resamples, seed=seed),
        "overconfidence": mean_of(conf[~right]),
        "underconfidence": mean_of(1 - conf[right]),
        "mean_confidence": mean_of(conf),
    }
