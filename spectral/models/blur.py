"""Blur layers (fixed or learned depthwise kernels) and inserting them into a model."""

from __future__ import annotations

import math
from enum import Enum
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from spectral._internal.validate import check_int, parse_enum
from spectral.errors import SpectralValueError

__all__ = [
    "BlurKind",
    "BlurLayer",
    "Padding",
    "blur2d",
    "blur_kernel",
]


class BlurKind(str, Enum):
    """Shape of a blur kernel."""

    BOX = "box"
    GAUSSIAN = "gaussian"


class Padding(str, Enum):
    """How a blur layer pads its input so the output keeps the input's size."""

    REFLECT = "reflect"  # mirror without repeating the edge: DC gain 1 up to the border
    REPLICATE = "replicate"
    CIRCULAR = "circular"  # periodic: the transfer function holds exactly everywhere
    ZEROS = "zeros"  # darkens borders


def _odd_size(kernel_size: Any) -> int:
    check_int(kernel_size, "kernel_size", 1)
    if kernel_size % 2 == 0:
        raise SpectralValueError(f"kernel_size: expected an odd int >= 1, got {kernel_size}")
    return kernel_size


def _kind(kind: Any) -> BlurKind:
    return parse_enum(kind, BlurKind, "kind")


def _padding(padding: Any) -> Padding:
    return parse_enum(padding, Padding, "padding")


def blur_kernel(
    kernel_size: int = 3,
    *,
    kind: str | BlurKind = "box",
    sigma: float | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """A ``(k, k)`` low-pass kernel that sums to 1 (DC gain 1).

    Args:
        kernel_size: odd side ``k``.
        kind: ``"box"`` (all weights ``1 / k^2``) or ``"gaussian"``.
        sigma: Gaussian width in pixels (default ``0.3 * ((k - 1) / 2 - 1) + 0.8``, as
            OpenCV chooses it for a given size).
        dtype: dtype of the kernel.

    Returns:
        The kernel.

    Raises:
        SpectralValueError: even or non-positive size, unknown kind, ``sigma <= 0``.
        SpectralTypeError: ``kernel_size`` not an int, or ``kind`` neither a str nor a
            :class:`BlurKind`.

    Shape:
        - Output: :math:`(k, k)`

    Examples:
        >>> blur_kernel(3)
        tensor([[0.1111, 0.1111, 0.1111],
                [0.1111, 0.1111, 0.1111],
                [0.1111, 0.1111, 0.1111]])
        >>> g = blur_kernel(5, kind="gaussian", dtype=torch.float64)
        >>> round(g.sum().item(), 12), bool(g[2, 2] > g[0, 0])  # DC gain 1, peak at centre
        (1.0, True)
    """
    k = _odd_size(kernel_size)
    if _kind(kind) is BlurKind.BOX:
        return torch.full((k, k), 1.0 / (k * k), dtype=dtype)
    s = 0.3 * ((k - 1) / 2 - 1) + 0.8 if sigma is None else float(sigma)
    if not (s > 0 and math.isfinite(s)):
        raise SpectralValueError(f"sigma: expected a finite number > 0, got {sigma}")
    r = torch.arange(k, dtype=torch.float64) - (k - 1) / 2
    g = torch.exp(-(r**2) / (2 * s * s))
    g2 = g[:, None] * g[None, :]
    return (g2 / g2.sum()).to(dtype)


def blur2d(
    x: torch.Tensor, weight: torch.Tensor, *, padding: str | Padding = "reflect"
) -> torch.Tensor:
    """Depthwise 2-D convolution of ``x`` ``(B, C, H, W)`` with ``weight`` ``(C, 1, k, k)``.

    The input is padded by ``k // 2`` on each side (``padding`` mode), so the output has
    the input's size. The kernel is applied as a correlation (as ``nn.Conv2d``); for the
    symmetric blur kernels this equals convolution.

    Args:
        x: images to blur.
        weight: one ``k x k`` kernel per channel, ``k`` odd (e.g. :func:`blur_kernel`
            expanded to ``(C, 1, k, k)``); cast to ``x``'s dtype.
        padding: ``"reflect"``, ``"replicate"``, ``"circular"`` or ``"zeros"`` (see
            :class:`Padding`).

    Returns:
        The blurred images, same shape and dtype as ``x``.

    Raises:
        SpectralValueError: ``x`` not 4-D; ``weight`` not ``(C, 1, k, k)`` with odd ``k``
            and ``C`` the channels of ``x``; an unknown padding; images too small for the
            padding (``"reflect"`` needs ``H, W > k // 2``, ``"circular"`` ``>= k // 2``).
        SpectralTypeError: ``padding`` neither a str nor a :class:`Padding`.

    Shape:
        - x: :math:`(B, C, H, W)`
        - weight: :math:`(C, 1, k, k)`
        - Output: :math:`(B, C, H, W)`

    Examples:
        >>> x = torch.zeros(1, 1, 3, 3); x[0, 0, 1, 1] = 9.0  # an impulse of mass 9
        >>> w = blur_kernel(3).expand(1, 1, 3, 3)
        >>> y = blur2d(x, w, padding="zeros")  # the 3x3 box spreads it over all 9 pixels
        >>> y.shape, torch.allclose(y, torch.ones(1, 1, 3, 3))
        (torch.Size([1, 1, 3, 3]), True)
    """
    if x.ndim != 4:
        raise SpectralValueError(f"x: expected (B, C, H, W), got shape {tuple(x.shape)}")
    if weight.ndim != 4:
        raise SpectralValueError(
            f"weight: expected ({x.shape[1]}, 1, k, k) with odd k, got {tuple(weight.shape)}"
        )
    c, one, kh, kw = weight.shape
    if one != 1 or c != x.shape[1] or kh != kw or kh % 2 == 0:
        raise SpectralValueError(
            f"weight: expected ({x.shape[1]}, 1, k, k) with odd k, got {tuple(weight.shape)}"
        )
    mode = _padding(padding)
    p = kh // 2
    if p:
        small = min(x.shape[-2:])
        if (mode is Padding.REFLECT and small <= p) or (mode is Padding.CIRCULAR and small < p):
            need = f"> {p}" if mode is Padding.REFLECT else f">= {p}"
            raise SpectralValueError(
                f"x: {mode.value} padding of {p} needs H, W {need}, got "
                f"{tuple(x.shape[-2:])}; use padding='replicate'"
            )
        pad_mode = "constant" if mode is Padding.ZEROS else mode.value
        x = F.pad(x, (p, p, p, p), mode=pad_mode)
    return F.conv2d(x, weight.to(x.dtype), groups=c)


class BlurLayer(nn.Module):
    """A depthwise blur: ``C`` independent ``k x k`` kernels (``groups = channels``).

    Fixed blur (``learnable=False``) keeps its kernel in a buffer and has no trainable
    parameters. Learnable blur starts from the same kernel and trains ``C * k * k``
    weights (one kernel per channel).

    Args:
        channels: number of channels ``C``.
        kernel_size: odd kernel side (3, 5, 7, ...).
        kind: ``"box"`` or ``"gaussian"`` (the initial kernel when learnable).
        learnable: train the kernels.
        sigma: Gaussian width (see :func:`blur_kernel`).
        padding: ``"reflect"`` (default: no dark borders, output size = input size),
            ``"replicate"``, ``"circular"`` or ``"zeros"``.
        dtype: dtype of the kernel (build float64 layers with ``torch.float64``: casting a
            float32 kernel later keeps its float32 rounding).

    Shape:
        ``(B, C, H, W) -> (B, C, H, W)``

    Examples:
        >>> layer = BlurLayer(3, 5)
        >>> layer(torch.ones(1, 3, 8, 8)).allclose(torch.ones(1, 3, 8, 8))  # DC gain 1
        True
        >>> learned = BlurLayer(3, 5, learnable=True)
        >>> sum(p.numel() for p in layer.parameters()), learned.weight.numel()
        (0, 75)
    """

    weight: torch.Tensor

    def __init__(
        self,
        channels: int,
        kernel_size: int = 3,
        *,
        kind: str | BlurKind = "box",
        learnable: bool = False,
        sigma: float | None = None,
        padding: str | Padding = "reflect",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
            raise SpectralValueError(f"channels: expected an int >= 1, got {channels!r}")
        self.channels = channels
        self.kernel_size = _odd_size(kernel_size)
        self.kind = _kind(kind)
        self.learnable = bool(learnable)
        self.padding = _padding(padding)
        w = blur_kernel(kernel_size, kind=kind, sigma=sigma, dtype=dtype)
        w = w.expand(channels, 1, -1, -1).clone()
        if self.learnable:
            self.weight = nn.Parameter(w)
        else:
            self.register_buffer("weight", w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Blur each channel of ``x``."""
        if x.ndim != 4 or x.shape[1] != self.channels:
            raise SpectralValueError(
                f"x: expected (B, {self.channels}, H, W), got shape {tuple(x.shape)}"
            )
        return blur2d(x, self.weight, padding=self.padding)

    def extra_repr(self) -> str:
        """Kernel size, kind, learnability and padding, for ``print(model)``."""
        return (
            f"{self.channels}, kernel_size={self.kernel_size}, kind={self.kind.value}, "
            f"learnable={self.learnable}, padding={self.padding.value}"
        )
