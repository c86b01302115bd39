"""Regularisers for learned blur kernels: L-inf (equal weights) and total variation."""

from __future__ import annotations

import torch

from spectral.errors import SpectralValueError
from spectral.models.blur import BlurLayer

__all__ = ["linf_penalty", "tv_penalty"]


def linf_penalty(weight: torch.Tensor | BlurLayer, alpha: float = 1.0) -> torch.Tensor:
    """``alpha / K * sum_j ||W[j]||_inf`` over the ``K`` depthwise kernels ``W[j]``.

    The L-inf norm of a kernel is its largest absolute weight; pushing it down makes the
    weights of each kernel alike, i.e. a low-pass (box-like) filter.

    Args:
        weight: depthwise weights ``(K, 1, k, k)`` (or ``(K, k, k)``), or a BlurLayer.
        alpha: penalty strength (>= 0).

    Returns:
        A scalar tensor (differentiable).

    Raises:
        SpectralValueError: ``weight`` is not a 3-D or 4-D tensor (or a BlurLayer), or
            ``alpha`` is negative or NaN.

    Shape:
        - weight: :math:`(K, 1, k, k)` or :math:`(K, k, k)`
        - Output: :math:`()`

    Examples:
        >>> w = torch.tensor([[[[1.0, -3.0], [0.5, 2.0]]], [[[0.1, 0.2], [0.0, -0.4]]]])
        >>> linf_penalty(w, alpha=2.0)  # 2 / 2 * (3 + 0.4)
        tensor(3.4000)
        >>> from spectral.models import BlurLayer
        >>> round(linf_penalty(BlurLayer(3, 3)).item(), 4)  # a box kernel: all weights 1/9
        0.1111
    """
    w = weight.weight if isinstance(weight, BlurLayer) else weight
    if not isinstance(w, torch.Tensor) or w.ndim not in (3, 4):
        shape = tuple(w.shape) if isinstance(w, torch.Tensor) else type(w).__name__
        raise SpectralValueError(f"weight: expected (K, 1, k, k) or (K, k, k), got {shape}")
    if not alpha >= 0:
        raise SpectralValueError(f"alpha: expected >= 0, got {alpha}")
    per_kernel = w.reshape(w.shape[0], -1).abs().amax(dim=1)
    return alpha * per_kernel.mean()


def tv_penalty(feature_maps: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """``alpha_TV / (N K) * sum_i sum_k TV(F[i, k])`` of layer-1 feature maps ``F``.

    ``TV(x) = sum |x[i+1, j] - x[i, j]| + |x[i, j+1] - x[i, j]|`` (anisotropic, over the
    differences inside the map). High-frequency spikes such as an RP2 sticker raise it.

    Args:
        feature_maps: ``(N, K, H, W)``.
        alpha: penalty strength (>= 0).

    Returns:
        A scalar tensor (differentiable).

    Raises:
        SpectralValueError: ``feature_maps`` is not a 4-D tensor, or ``alpha`` is
            negative or NaN.

    Shape:
        - feature_maps: :math:`(N, K, H, W)`
        - Output: :math:`()`

    Examples:
        >>> f = torch.tensor([[[[0.0, 1.0], [3.0, 1.0]]]])
        >>> tv_penalty(f)  # rows: |3-0| + |1-1|, columns: |1-0| + |1-3|
        tensor(6.)
        >>> tv_penalty(torch.ones(2, 4, 8, 8), alpha=10.0)  # constant maps: no variation
        tensor(0.)
    """
    if not isinstance(feature_maps, torch.Tensor) or feature_maps.ndim != 4:
        shape = (
            tuple(feature_maps.shape)
            if isinstance(feature_maps, torch.Tensor)
            else type(feature_maps).__name__
        )
        raise SpectralValueError(f"feature_maps: expected (N, K, H, W), got {shape}")
    if not alpha >= 0:
        raise SpectralValueError(f"alpha: expected >= 0, got {alpha}")
    n, k = feature_maps.shape[:2]
    dv = (feature_maps[..., 1:, :] - feature_maps[..., :-1, :]).abs().sum()
    dh = (feature_maps[..., :, 1:] - feature_maps[..., :, :-1]).abs().sum()
    return alpha * (dv + dh) / (n * k)
