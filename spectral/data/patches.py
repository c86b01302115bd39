"""The photo-patch task: 32x32 patches of the bundled photos, one class per photo (test data)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from spectral.data.builtin import builtin_photo
from spectral.data.dataset import ImageDataset, Split, _parse_split
from spectral.errors import SpectralValueError

__all__ = ["PATCH_CLASSES", "patch_dataset"]


PATCH_CLASSES: tuple[str, ...] = (
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "stereo_motorcycle",
    "brick",
    "grass",
    "gravel",
)


_PATCH = 32


_SHORT_SIDE = 192  # photos are rescaled so patches cover a comparable share of each scene


_TRAIN_FRACTION = 0.7  # top 70% of rows -> train, bottom 30% -> test (disjoint regions)


_PER_CLASS = {Split.TRAIN: 600, Split.TEST: 150}


_MIN_STD = 0.03  # reject nearly flat patches (black sky, borders): they carry no class


@lru_cache(maxsize=len(PATCH_CLASSES))
def _photo_rgb(name: str) -> np.ndarray:
    from skimage.transform import rescale

    x = builtin_photo(name)[0].numpy().transpose(1, 2, 0)
    if x.shape[2] == 1:
        x = np.repeat(x, 3, axis=2)
    scale = _SHORT_SIDE / min(x.shape[:2])
    return np.clip(rescale(x, scale, channel_axis=2, anti_aliasing=True), 0.0, 1.0)


def patch_dataset(split: str | Split = "train", *, seed: int = 0) -> ImageDataset:
    """The photograph-patch task (spec ``"patches"``): 32x32 RGB patches of bundled photos.

    One class per photograph in :data:`PATCH_CLASSES`. A fast, easy task (separable
    largely by colour) kept as quick test and demo data; it is not a benchmark. Each
    photograph is rescaled to a shorter side of 192 px; training patches come from its
    top 70% of rows and test patches from the bottom 30%, so no test pixel was seen in
    training. Nearly flat
    patches (std < 0.03) are rejected. 600 training and 150 test patches per class,
    positions drawn from ``seed``.

    Args:
        split: ``"train"`` or ``"test"``.
        seed: seed of the patch positions (>= 0; the test split draws from a different
            stream of the same seed).

    Returns:
        An :class:`ImageDataset` with ``classes == PATCH_CLASSES``.

    Raises:
        SpectralTypeError: ``split`` is neither a str nor a :class:`Split`.
        SpectralValueError: an unknown ``split``, or ``seed`` not an int >= 0.

    Examples:
        >>> ds = patch_dataset("test")
        >>> len(ds), ds.classes == PATCH_CLASSES, tuple(ds.images.shape[1:])
        (1500, True, (3, 32, 32))
        >>> bool((ds.images.std((1, 2, 3)) >= 0.03).all())  # no nearly flat patch
        True
    """
    sp = _parse_split(split)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SpectralValueError(f"seed: expected an int >= 0, got {seed!r}")
    rng = np.random.default_rng(seed if sp is Split.TRAIN else seed + 1_000_003)
    n = _PER_CLASS[sp]
    images = np.empty((n * len(PATCH_CLASSES), 3, _PATCH, _PATCH), dtype=np.float32)
    labels = np.repeat(np.arange(len(PATCH_CLASSES)), n)
    for c, name in enumerate(PATCH_CLASSES):
        photo = _photo_rgb(name)
        h, w = photo.shape[:2]
        cut = round(h * _TRAIN_FRACTION)
        lo, hi = (0, cut - _PATCH) if sp is Split.TRAIN else (cut, h - _PATCH)
        got = 0
        for _ in range(200 * n):
            top = int(rng.integers(lo, hi + 1))
            left = int(rng.integers(0, w - _PATCH + 1))
            patch = photo[top : top + _PATCH, left : left + _PATCH]
            if patch.std() < _MIN_STD:
                continue
            images[c * n + got] = patch.transpose(2, 0, 1)
            got += 1
            if got == n:
                break
        else:  # pragma: no cover - every bundled photo has enough texture
            raise SpectralValueError(f"patches: photo {name!r} has too few textured patches")
    return ImageDataset(
        torch.from_numpy(images),
        torch.from_numpy(labels.astype(np.int64)),
        PATCH_CLASSES,
        name=f"patches ({sp.value}, seed {seed})",
    )
