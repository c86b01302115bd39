"""Built-in images: the photographs bundled inside scikit-image (no downloads, ever)."""

from __future__ import annotations

import numpy as np
import torch

from spectral.errors import SpectralValueError

__all__ = ["BUILTIN_PHOTOS", "builtin_patches", "builtin_photo"]

# name -> scikit-image loader; every one reads a file shipped in the scikit-image wheel.
BUILTIN_PHOTOS: dict[str, str] = {
    "astronaut": "astronaut",
    "chelsea": "chelsea",
    "coffee": "coffee",
    "rocket": "rocket",
    "hubble_deep_field": "hubble_deep_field",
    "immunohistochemistry": "immunohistochemistry",
    "retina": "retina",
    "stereo_motorcycle": "stereo_motorcycle",
    "camera": "camera",
    "brick": "brick",
    "grass": "grass",
    "gravel": "gravel",
    "moon": "moon",
    "coins": "coins",
}


def builtin_photo(name: str) -> torch.Tensor:
    """Load a bundled photograph as ``(1, C, H, W)`` float32 in [0, 1] (C = 3, or 1 if grey).

    Raises:
        SpectralValueError: unknown name (the message lists the valid ones).

    Examples:
        >>> builtin_photo("chelsea").shape
        torch.Size([1, 3, 300, 451])
    """
    if name not in BUILTIN_PHOTOS:
        raise SpectralValueError(
            f"photo: expected one of {', '.join(BUILTIN_PHOTOS)}, got {name!r}"
        )
    import skimage.data

    a = getattr(skimage.data, BUILTIN_PHOTOS[name])()
    if isinstance(a, tuple):  # stereo_motorcycle -> (left, right, disparity)
        a = a[0]
    a = np.asarray(a)
    if a.ndim == 2:
        a = a[..., None]
    t = torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1))).float() / 255.0
    return t[None]


def builtin_patches(
    n: int, *, size: int = 64, seed: int = 0, names: tuple[str, ...] | None = None
) -> torch.Tensor:
    """Random ``size x size`` RGB crops from the colour photographs, deterministic for ``seed``.

    Args:
        n: number of patches (spread round-robin over the photographs).
        size: patch side in pixels.
        seed: seed of the crop positions.
        names: photographs to crop from (default: all colour ones).

    Returns:
        ``(n, 3, size, size)`` float32 in [0, 1].

    Raises:
        SpectralValueError: ``n < 1``, a bad size, or a grey/unknown photo name.
    """
    if n < 1:
        raise SpectralValueError(f"n: expected >= 1 patches, got {n}")
    photos = [builtin_photo(k) for k in (names or tuple(BUILTIN_PHOTOS))]
    photos = [p for p in photos if p.shape[1] == 3]
    if not photos:
        raise SpectralValueError("names: expected at least one colour (RGB) photograph")
    smallest = min(min(p.shape[-2:]) for p in photos)
    if not 2 <= size <= smallest:
        raise SpectralValueError(f"size: expected 2 <= size <= {smallest}, got {size}")
    g = torch.Generator().manual_seed(seed)
    out = torch.empty(n, 3, size, size)
    for i in range(n):
        p = photos[i % len(photos)]
        h, w = p.shape[-2:]
        top = int(torch.randint(0, h - size + 1, (1,), generator=g))
        left = int(torch.randint(0, w - size + 1, (1,), generator=g))
        out[i] = p[0, :, top : top + size, left : left + size]
    return out
