"""Statistics of 3x3 convolution filters (Gavrikov & Keuper 2022)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from spectral.errors import SpectralTypeError, SpectralValueError
from spectral.models.formats import conv2d_weights
from spectral.models.layers import first_conv_name

__all__ = [
    "FILTER_COLUMNS",
    "FilterAnalysis",
    "filter_analysis",
    "filter_metrics",
    "has_3x3_conv",
    "kernel_frequencies",
    "kernel_spectra",
    "layer_filter_metrics",
    "skipped_convs",
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
    live on any device. TorchScript and ``torch.export`` models are read too (see
    :func:`spectral.models.conv2d_weights`); the other convs are in :func:`skipped_convs`.

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
        {"name": name, **layer_filter_metrics(w)}
        for name, w in conv2d_weights(model).items()
        if tuple(w.shape[-2:]) == (3, 3)
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
    return any(tuple(w.shape[-2:]) == (3, 3) for w in conv2d_weights(model).values())


def skipped_convs(model: nn.Module) -> dict[str, str]:
    """The conv layers the 3x3 statistics leave out, and why (their kernel size).

    Args:
        model: any model (eager, TorchScript or ``torch.export``).

    Returns:
        ``{name: "7x7 kernel"}`` for every ``Conv2d`` whose kernel is not 3x3, in model order.

    Raises:
        SpectralTypeError: ``model`` is not an ``nn.Module``.

    Examples:
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 7), torch.nn.Conv2d(4, 4, 3))
        >>> skipped_convs(net)
        {'0': '7x7 kernel'}
    """
    return {
        name: f"{w.shape[-2]}x{w.shape[-1]} kernel"
        for name, w in conv2d_weights(model).items()
        if tuple(w.shape[-2:]) != (3, 3)
    }


def kernel_frequencies(size: int) -> torch.Tensor:
    """The centred frequency axis of :func:`kernel_spectra`, in cycles/pixel.

    Args:
        size: the padded FFT size.

    Returns:
        ``fftshift(fftfreq(size))``, from ``-0.5`` up to below ``0.5``.

    Shape:
        - Output: :math:`(size,)`

    Examples:
        >>> kernel_frequencies(4).tolist()
        [-0.5, -0.25, 0.0, 0.25]
    """
    return torch.fft.fftshift(torch.fft.fftfreq(size, dtype=torch.float64))


def kernel_spectra(weight: torch.Tensor, *, size: int = 32) -> torch.Tensor:
    """Magnitude frequency responses of conv kernels of any size (7x7 stems, 16x16 patches).

    Each ``k_h x k_w`` kernel is zero-padded to ``size x size`` and transformed; the
    magnitude is centred (``fftshift``), so the axes are :func:`kernel_frequencies` in
    cycles/pixel and DC (the kernel's sum) sits at ``[size // 2, size // 2]``.

    Args:
        weight: conv weight ``(c_out, c_in, k_h, k_w)``.
        size: FFT size, at least the kernel's largest side.

    Returns:
        ``|FFT|`` per filter, float64 on the weight's device.

    Raises:
        SpectralValueError: not a 4-D tensor, or ``size`` smaller than the kernel.

    Shape:
        - weight: :math:`(C_{out}, C_{in}, k_h, k_w)`
        - Output: :math:`(C_{out}, C_{in}, size, size)`

    Examples:
        >>> spec = kernel_spectra(torch.ones(1, 1, 7, 7), size=16)
        >>> tuple(spec.shape), float(spec[0, 0, 8, 8])  # DC: the sum of the 49 weights
        ((1, 1, 16, 16), 49.0)
    """
    if not isinstance(weight, torch.Tensor) or weight.ndim != 4:
        shape = tuple(weight.shape) if isinstance(weight, torch.Tensor) else type(weight).__name__
        raise SpectralValueError(f"weight: expected (c_out, c_in, kh, kw), got {shape}")
    if isinstance(size, bool) or not isinstance(size, int) or size < max(weight.shape[-2:]):
        raise SpectralValueError(
            f"size: expected an int >= the kernel side {max(weight.shape[-2:])}, got {size!r}"
        )
    w = weight.detach().to(torch.float64)
    spec = torch.fft.fft2(w, s=(size, size)).abs()
    return torch.fft.fftshift(spec, dim=(-2, -1))


@dataclass(frozen=True)
class FilterAnalysis:
    """3x3 filter statistics of several models, with their first-layer filters.

    Attributes:
        layers: model -> :func:`filter_metrics` rows (one per 3x3 conv layer).
        first_layer: model -> weight of its first conv, ``(out, in, kh, kw)`` (for plots;
            any kernel size).
        skipped: model -> the conv layers left out of ``layers`` and why
            (:func:`skipped_convs`, e.g. ``{"conv1": "7x7 kernel"}``).
    """

    layers: dict[str, list[dict[str, Any]]]
    first_layer: dict[str, torch.Tensor] = field(repr=False)
    skipped: dict[str, dict[str, str]] = field(default_factory=dict)

    def rows(self) -> list[list[Any]]:
        """Table rows ``[model, layer, n, *FILTER_COLUMNS]``."""
        return [
            [name, r["name"], r["n"], *(r[m] for m in FILTER_COLUMNS)]
            for name, rs in self.layers.items()
            for r in rs
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"layers": model -> per-layer rows, "skipped": model -> {layer: why}}``."""
        return {"layers": self.layers, "skipped": self.skipped}


def filter_analysis(models: Mapping[str, nn.Module]) -> FilterAnalysis:
    """:func:`filter_metrics` of every model, and its first-layer filters.

    A model without 3x3 convolutions (a ViT's patch embedding, a 5x5-only net) gets no
    rows, its convs are all in ``skipped``, and its first-layer filters are still kept.

    Args:
        models: name -> model with at least one ``Conv2d`` (eager, TorchScript or
            ``torch.export``).

    Returns:
        A :class:`FilterAnalysis`.

    Raises:
        SpectralValueError: no models, or a model without a ``Conv2d``.
        SpectralTypeError: a model that is not an ``nn.Module``.

    Examples:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.Conv2d(8, 8, 3))
        >>> a = filter_analysis({"net": net})
        >>> [r["name"] for r in a.layers["net"]], tuple(a.first_layer["net"].shape)
        (['0', '1'], (8, 3, 3, 3))
        >>> a.to_dict()["skipped"]
        {'net': {}}
        >>> vit_stem = torch.nn.Conv2d(3, 8, 16, stride=16)
        >>> b = filter_analysis({"vit": vit_stem})
        >>> b.layers, b.skipped, tuple(b.first_layer["vit"].shape)
        ({'vit': []}, {'vit': {'': '16x16 kernel'}}, (8, 3, 16, 16))
    """
    if not models:
        raise SpectralValueError("models: expected at least one model, got none")
    layers = {
        name: filter_metrics(net) if has_3x3_conv(net) else [] for name, net in models.items()
    }
    first = {name: conv2d_weights(net)[first_conv_name(net)] for name, net in models.items()}
    skipped = {name: skipped_convs(net) for name, net in models.items()}
    return FilterAnalysis(layers=layers, first_layer=first, skipped=skipped)
