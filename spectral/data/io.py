"""Reading one image file as a float tensor."""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path

import numpy as np
import torch

from spectral._internal.validate import parse_enum
from spectral.errors import ImageReadError

__all__ = ["Transparency", "read_image"]


class Transparency(str, Enum):
    """What to do with an alpha (transparency) channel (RGBA, LA, palette with transparency)."""

    DROP = "drop"  # ignore transparency, keep the colour channels as stored
    WHITE = "white"  # composite over a white background
    BLACK = "black"  # composite over a black background


_MODE_SCALE = {"I;16": 65535.0, "I;16B": 65535.0, "I;16L": 65535.0, "I": 65535.0}


def read_image(
    path: str | os.PathLike[str], *, transparency: str | Transparency = "drop"
) -> torch.Tensor:
    """Read a PNG/JPEG (or any format Pillow reads) as a ``(1, C, H, W)`` float32 tensor.

    Modes are handled explicitly: grey (``L``, ``1``, 16-bit ``I;16``) gives ``C = 1``;
    ``RGB``, ``CMYK``, ``YCbCr`` and palette images give ``C = 3``; an alpha channel
    (``RGBA``, ``LA``, palette transparency) is dropped or composited as ``transparency`` says,
    so ``C`` is 1 or 3, never 2 or 4. Values are scaled to [0, 1] by the bit depth.

    Args:
        path: the image file.
        transparency: ``"drop"``, ``"white"`` or ``"black"`` (see :class:`Transparency`).

    Returns:
        Tensor ``(1, C, H, W)``, float32, in [0, 1].

    Raises:
        ImageReadError: the file is missing, a directory, unreadable, not an image, or
            in an unsupported mode.
        SpectralTypeError: ``transparency`` is neither a str nor a :class:`Transparency`.
        SpectralValueError: unknown ``transparency``.

    Shape:
        - Output: :math:`(1, C, H, W)` with ``C`` 1 (grey) or 3 (colour)

    Examples:
        >>> import shutil, tempfile
        >>> from PIL import Image
        >>> folder = Path(tempfile.mkdtemp())
        >>> Image.new("RGBA", (5, 4), (255, 0, 0, 0)).save(folder / "red.png")  # transparent
        >>> x = read_image(folder / "red.png")
        >>> x.shape, x.dtype, x[0, :, 0, 0].tolist()  # alpha dropped: still red
        (torch.Size([1, 3, 4, 5]), torch.float32, [1.0, 0.0, 0.0])
        >>> read_image(folder / "red.png", transparency="white")[0, :, 0, 0].tolist()
        [1.0, 1.0, 1.0]
        >>> Image.new("L", (5, 4), 255).save(folder / "white.png")
        >>> read_image(folder / "white.png").shape  # grey: one channel
        torch.Size([1, 1, 4, 5])
        >>> shutil.rmtree(folder)
    """
    from PIL import Image, UnidentifiedImageError

    mode_alpha = parse_enum(transparency, Transparency, "transparency")
    p = Path(path)
    if not p.exists():
        raise ImageReadError(f"{p}: no such file")
    if p.is_dir():
        raise ImageReadError(f"{p}: is a directory, expected an image file")
    try:
        with Image.open(p) as im:
            im.load()
            img = im.copy()
    except UnidentifiedImageError:
        raise ImageReadError(f"{p}: not an image Pillow can read (expected PNG or JPEG)") from None
    except PermissionError:
        raise ImageReadError(f"{p}: permission denied") from None
    except (OSError, SyntaxError, ValueError) as err:  # truncated or corrupt data
        raise ImageReadError(f"{p}: cannot decode image ({err})") from None

    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        img = img.convert("RGB")
    if img.mode == "1":
        img = img.convert("L")
    if img.mode in ("PA", "RGBa", "La"):
        img = img.convert("RGBA" if img.mode != "La" else "LA")

    a = np.asarray(img)
    if img.mode in _MODE_SCALE:
        arr = a.astype(np.float32) / _MODE_SCALE[img.mode]
    elif img.mode == "F":
        arr = a.astype(np.float32)
    elif a.dtype == np.uint8:
        arr = a.astype(np.float32) / 255.0
    else:
        raise ImageReadError(f"{p}: unsupported image mode {img.mode!r}")
    if arr.ndim == 2:
        arr = arr[..., None]
    if img.mode in ("RGBA", "LA"):
        colour, alpha_ch = arr[..., :-1], arr[..., -1:]
        if mode_alpha is Transparency.WHITE:
            colour = colour * alpha_ch + (1.0 - alpha_ch)
        elif mode_alpha is Transparency.BLACK:
            colour = colour * alpha_ch
        arr = colour
    arr = np.clip(arr, 0.0, 1.0)
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))[None]
