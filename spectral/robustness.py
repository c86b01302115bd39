"""Robust vs normal models: 3x3 filter statistics and (over-)confidence.

* :func:`filter_metrics` follows Gavrikov & Keuper (2022), "Adversarial Robustness
  through the Lens of Convolutional Filters" (``shared/seeds/000_*``): per 3x3 conv layer,
  filter sparsity, variance entropy (diversity) and orthogonality.
* :func:`calibration_metrics` follows Grabinski et al. (2022), "Robust Models are less
  Over-Confident" (``shared/seeds/001_*``): accuracy, expected calibration error, and the
  mean confidence of wrong (over-confidence) and right (under-confidence) predictions.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from spectral.errors import SpectralTypeError, SpectralValueError

__all__ = ["calibration_bins", "calibration_metrics", "filter_metrics", "layer_filter_metrics"]

_LOG10_9 = math.log10(9.0)


def _variance_entropy(filters: torch.Tensor) -> float:
    """``-sum p_i log10 p_i`` of the centred filters' singular values, ``p_i = s_i^2 / sum s^2``.

    0 when all filters are the same (no variance); at most ``log10(9)`` for 3x3 filters.
    """
    if filters.shape[0] < 2:
        return 0.0
    centred = filters - filters.mean(0, keepdim=True)
    s2 = torch.linalg.svdvals(centred).square()
    total = s2.sum()
    if total <= 0:
        return 0.0
    p = s2 / total
    p = p[p > 0]
    return float(-(p * torch.log10(p)).sum())


def layer_filter_metrics(weight: torch.Tensor) -> dict[str, Any]:
    """Filter statistics of one conv weight ``(c_out, c_in, 3, 3)``.

    Returns:
        ``n`` (c_out * c_in filters); ``sparsity`` (fraction of filters whose 9 weights all
        have ``|w| < 0.01 * max|W|``; an all-zero layer counts as fully sparse);
        ``variance_entropy`` (base 10, see :func:`_variance_entropy`) and its normalised
        form ``variance_entropy_normalized`` (divided by ``log10(9)``: 0 = all filters
        alike, 1 = variance spread evenly over all 9 directions); the same on the
        non-sparse filters only (``*_nonsparse``; NaN when fewer than two remain);
        ``orthogonality`` = ``1 - sum|W W^T - I| / (c_out (c_out - 1))`` with the rows of
        ``W`` reshaped to ``(c_out, c_in * 9)`` and L2-normalised (1 = orthogonal rows,
        0 = identical rows; NaN when a row is all zero or ``c_out < 2``).

    Raises:
        SpectralValueError: not a ``(c_out, c_in, 3, 3)`` weight, or non-finite.
    """
    if not isinstance(weight, torch.Tensor) or weight.ndim != 4 or weight.shape[-2:] != (3, 3):
        shape = tuple(weight.shape) if isinstance(weight, torch.Tensor) else type(weight).__name__
        raise SpectralValueError(f"weight: expected (c_out, c_in, 3, 3), got {shape}")
    w = weight.detach().to("cpu", torch.float64)
    if not bool(torch.isfinite(w).all()):
        raise SpectralValueError("weight: expected finite values, found NaN/Inf")
    c_out = w.shape[0]
    filters = w.reshape(-1, 9)
    n = filters.shape[0]
    peak = float(w.abs().max())
    sparse = (filters.abs() < 0.01 * peak).all(1) if peak > 0 else torch.ones(n, dtype=torch.bool)
    entropy = _variance_entropy(filters)
    dense = filters[~sparse]
    entropy_dense = _variance_entropy(dense) if dense.shape[0] >= 2 else math.nan
    rows = w.reshape(c_out, -1)
    norms = rows.norm(dim=1, keepdim=True)
    if c_out < 2 or bool((norms == 0).any()):
        orthogonality = math.nan
    else:
        u = rows / norms
        gram = u @ u.T - torch.eye(c_out, dtype=torch.float64)
        orthogonality = 1.0 - float(gram.abs().sum()) / (c_out * (c_out - 1))
    return {
        "n": n,
        "sparsity": float(sparse.double().mean()),
        "variance_entropy": entropy,
        "variance_entropy_normalized": entropy / _LOG10_9,
        "variance_entropy_nonsparse": entropy_dense,
        "variance_entropy_normalized_nonsparse": entropy_dense / _LOG10_9,
        "orthogonality": orthogonality,
    }


def filter_metrics(model: nn.Module) -> list[dict[str, Any]]:
    """Filter statistics of every ``Conv2d`` with 3x3 kernels, in definition order.

    Each row is ``name`` plus the statistics of :func:`layer_filter_metrics`; weights may
    live on any device.

    Raises:
        SpectralTypeError: ``model`` is not an ``nn.Module``.
        SpectralValueError: the model has no 3x3 convolution.

    Examples:
        >>> from spectral.models import SmallCNN
        >>> rows = filter_metrics(SmallCNN(width=4))
        >>> [r["name"] for r in rows][:2], rows[0]["n"]
        (['features.conv1', 'features.conv2'], 12)
    """
    if not isinstance(model, nn.Module):
        raise SpectralTypeError(f"model: expected an nn.Module, got {type(model).__name__}")
    rows = [
        {"name": name, **layer_filter_metrics(m.weight)}
        for name, m in model.named_modules()
        if isinstance(m, nn.Conv2d) and tuple(m.kernel_size) == (3, 3)
    ]
    if not rows:
        raise SpectralValueError("model: has no nn.Conv2d with 3x3 kernels")
    return rows


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


def calibration_bins(
    logits: torch.Tensor, labels: torch.Tensor, *, n_bins: int = 15
) -> list[dict[str, float]]:
    """The reliability diagram: statistics per equal-width confidence bin ``(b/n, (b+1)/n]``.

    Each bin has ``lower``, ``upper``, ``count``, mean ``confidence`` and ``accuracy``
    (both NaN for an empty bin).

    Raises:
        SpectralValueError: as :func:`calibration_metrics`.
    """
    conf, right = _confidences(logits, labels, n_bins)
    idx = (torch.ceil(conf * n_bins) - 1).clamp(0, n_bins - 1).long()
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
