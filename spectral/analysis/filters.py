"""Statistics of 3x3 convolution filters (Gavrikov & Keuper 2022)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import torch
from torch import nn

from spectral.errors import SpectralTypeError, SpectralValueError
from spectral.models.layers import first_conv_name

__all__ = [
    "FILTER_COLUMNS",
    "FilterAnalysis",
    "filter_analysis",
    "filter_metrics",
    "has_3x3_conv",
    "layer_filter_metrics",
]


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

    Args:
        weight: the conv weight, on any device and of any floating dtype (the statistics
            are computed in float64 on the CPU).

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
        SpectralValueError: not a ``(c_out, c_in, 3, 3)`` weight (also when it is not a
            tensor at all), or non-finite.

    Shape:
        - weight: :math:`(C_{out}, C_{in}, 3, 3)`

    Examples:
        >>> w = torch.zeros(3, 1, 3, 3)
        >>> w[0, 0, 1, 1], w[1, 0, 0, 0], w[2, 0, 2, 2] = 1.0, -1.0, 0.001  # one tiny filter
        >>> m = layer_filter_metrics(w)
        >>> m["n"], round(m["sparsity"], 3), m["orthogonality"]  # one-hot rows: orthogonal
        (3, 0.333, 1.0)
        >>> 0.0 <= m["variance_entropy_normalized"] <= 1.0
        True
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

    Args:
        model: the network whose 3x3 ``nn.Conv2d`` layers are measured.

    Returns:
        One dict per 3x3 conv layer: ``name`` (its module name) and the keys of
        :func:`layer_filter_metrics`.

    Raises:
        SpectralTypeError: ``model`` is not an ``nn.Module``.
        SpectralValueError: the model has no 3x3 convolution, or a 3x3 weight holds
            NaN/Inf.

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


#: The per-layer statistics a filter table shows, in order.
FILTER_COLUMNS = (
    "sparsity",
    "variance_entropy_normalized",
    "variance_entropy_normalized_nonsparse",
    "orthogonality",
)


def has_3x3_conv(model: nn.Module) -> bool:
    """Whether ``model`` has a ``Conv2d`` with 3x3 kernels (what the statistics need).

    Args:
        model: any ``nn.Module`` (itself included in the search).

    Returns:
        ``True`` if :func:`filter_metrics` would find at least one layer.

    Examples:
        >>> import torch
        >>> has_3x3_conv(torch.nn.Conv2d(3, 4, 3)), has_3x3_conv(torch.nn.Conv2d(3, 4, 5))
        (True, False)
    """
    return any(isinstance(m, nn.Conv2d) and tuple(m.kernel_size) == (3, 3) for m in model.modules())


@dataclass(frozen=True)
class FilterAnalysis:
    """3x3 filter statistics of several models, with their first-layer filters.

    Attributes:
        layers: model -> :func:`filter_metrics` rows (one per 3x3 conv layer).
        first_layer: model -> weight of its first conv, ``(out, in, kh, kw)`` (for plots).
    """

    layers: dict[str, list[dict[str, Any]]]
    first_layer: dict[str, torch.Tensor] = field(repr=False)

    def rows(self) -> list[list[Any]]:
        """Table rows ``[model, layer, n, *FILTER_COLUMNS]``."""
        return [
            [name, r["name"], r["n"], *(r[m] for m in FILTER_COLUMNS)]
            for name, rs in self.layers.items()
            for r in rs
        ]

    def to_dict(self) -> dict[str, list[dict[str, Any]]]:
        """JSON-ready: model -> per-layer rows."""
        return self.layers


def filter_analysis(models: Mapping[str, nn.Module]) -> FilterAnalysis:
    """:func:`filter_metrics` of every model, and its first-layer filters.

    Args:
        models: name -> model with at least one 3x3 ``Conv2d``.

    Returns:
        A :class:`FilterAnalysis`.

    Raises:
        SpectralValueError: no models, or a model without a 3x3 ``Conv2d``.
        SpectralTypeError: a model that is not an ``nn.Module``.

    Examples:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.Conv2d(8, 8, 3))
        >>> a = filter_analysis({"net": net})
        >>> [r["name"] for r in a.layers["net"]], tuple(a.first_layer["net"].shape)
        (['0', '1'], (8, 3, 3, 3))
    """
    if not models:
        raise SpectralValueError("models: expected at least one model, got none")
    layers = {name: filter_metrics(net) for name, net in models.items()}
    first = {
        name: cast(nn.Conv2d, net.get_submodule(first_conv_name(net))).weight.detach()
        for name, net in models.items()
    }
    return FilterAnalysis(layers=layers, first_layer=first)
