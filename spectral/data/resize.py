"""Resizing images to a model's input size: antialiased resize, or resize then centre crop."""

from __future__ import annotations

from enum import Enum
from typing import Any

import torch
import torch.nn.functional as F

from spectral._internal.validate import parse_enum
from spectral.errors import SpectralTypeError, SpectralValueError

__all__ = ["ResizeMode", "parse_image_size", "resize_images"]


class ResizeMode(str, Enum):
    """How :func:`resize_images` fits an image to a size."""

    RESIZE = "resize"  # stretch to exactly (H, W): antialiased bilinear
    CROP = "crop"  # scale so the image covers (H, W), then cut out the centre


def parse_image_size(size: Any, name: str = "image_size") -> tuple[int, int]:
    """``size`` as ``(H, W)``: an int ``s`` means ``(s, s)``.

    Raises:
        SpectralTypeError: neither an int nor a pair of ints.
        SpectralValueError: a side below 1.
    """
    pair = (size, size) if isinstance(size, int) and not isinstance(size, bool) else size
    ok = isinstance(pair, (tuple, list)) and len(pair) == 2
    if not ok or any(isinstance(v, bool) or not isinstance(v, int) for v in pair):
        raise SpectralTypeError(f"{name}: expected an int or a pair of ints (H, W), got {size!r}")
    if min(pair) < 1:
        raise SpectralValueError(f"{name}: expected sides >= 1, got {tuple(pair)}")
    return int(pair[0]), int(pair[1])


def _interpolate(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    if tuple(x.shape[-2:]) == (h, w):
        return x
    y = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
    return y.clamp_(0.0, 1.0)


def resize_images(
    x: torch.Tensor, size: int | tuple[int, int], *, mode: str | ResizeMode = "resize"
) -> torch.Tensor:
    """Resize images to ``size``: the step that fits a data set to a model's input size.

    ``"resize"`` stretches every image to exactly ``(H, W)`` with antialiased bilinear
    interpolation (``F.interpolate(..., antialias=True)``) and clamps to ``[0, 1]``.
    ``"crop"`` follows torchvision's ``Resize(size)`` + ``CenterCrop(size)``: the image is
    scaled (antialiased bilinear) by ``max(H / h, W / w)`` so it covers ``(H, W)`` --
    for an int ``size`` that is "shorter side to ``size``", the longer side truncated
    to an int as torchvision does -- and the centre ``(H, W)`` is cut out (top offset
    ``round((h' - H) / 2)``). An image already of size ``(H, W)`` is returned unchanged.

    Args:
        x: images in ``[0, 1]``.
        size: target ``(H, W)``, or an int for a square.
        mode: ``"resize"`` or ``"crop"`` (see :class:`ResizeMode`).

    Returns:
        The resized images, float, on ``x``'s device.

    Raises:
        SpectralTypeError: ``x`` not a float tensor, or a bad ``size`` / ``mode`` type.
        SpectralValueError: ``x`` not ``(B, C, H, W)``, a side below 1, unknown ``mode``.

    Shape:
        - x: :math:`(B, C, h, w)`
        - Output: :math:`(B, C, H, W)`

    Examples:
        >>> x = torch.full((1, 3, 40, 32), 0.25)
        >>> y = resize_images(x, 16)
        >>> tuple(y.shape), round(y.min().item(), 6), round(y.max().item(), 6)  # constant stays
        ((1, 3, 16, 16), 0.25, 0.25)
        >>> x = torch.arange(40.0).view(1, 1, 40, 1).expand(1, 1, 40, 32) / 40
        >>> c = resize_images(x, 32, mode="crop")  # shorter side already 32: the middle rows
        >>> torch.equal(c, x[..., 4:36, :])
        True
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        got = f"{x.dtype} tensor" if isinstance(x, torch.Tensor) else type(x).__name__
        raise SpectralTypeError(f"x: expected a float tensor (B, C, H, W), got {got}")
    if x.ndim != 4:
        raise SpectralValueError(f"x: expected (B, C, H, W), got shape {tuple(x.shape)}")
    th, tw = parse_image_size(size, "size")
    how = parse_enum(mode, ResizeMode, "mode")
    h, w = int(x.shape[-2]), int(x.shape[-1])
    if how is ResizeMode.RESIZE:
        return _interpolate(x, th, tw)
    # scale by max(th / h, tw / w); the binding side gets the target exactly and the other
    # is truncated to an int, as torchvision's Resize(int) does for the longer side
    if th * w >= tw * h:
        nh, nw = th, max(tw, int(th * w / h))
    else:
        nh, nw = max(th, int(tw * h / w)), tw
    y = _interpolate(x, nh, nw)
    top, left = round((nh - th) / 2.0), round((nw - tw) / 2.0)
    return y[..., top : top + th, left : left + tw]
