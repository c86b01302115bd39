"""Datasets: the built-in patch-recognition task and real data through the same door.

``load_dataset(spec, split=...)`` returns an :class:`ImageDataset` of
``(image (C, H, W) float32 in [0, 1], label int)`` with class names. ``spec`` is
``"builtin"`` or a path: an ImageFolder-style directory (one sub-folder per class),
a CIFAR-10 python-batches directory, or a ``.npz`` / ``.pt`` file holding ``images``
and ``labels`` (see :mod:`spectral.loaders`). Nothing is ever downloaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from spectral.errors import SpectralValueError

__all__ = [
    "BUILTIN_CLASSES",
    "ImageDataset",
    "Split",
    "builtin_dataset",
    "load_dataset",
]


class Split(str, Enum):
    """Which part of a dataset to load."""

    TRAIN = "train"
    TEST = "test"


@dataclass(frozen=True, eq=False)
class ImageDataset(Dataset[tuple[torch.Tensor, int]]):
    """Images ``(N, C, H, W)`` float32 in [0, 1] with integer labels and class names.

    Attributes:
        images: the images.
        labels: ``(N,)`` int64 labels in ``[0, len(classes))``.
        classes: class names, indexed by label.
        name: where the data came from (for reports).
    """

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]
    name: str = ""

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.dtype != torch.float32:
            raise SpectralValueError(
                f"images: expected float32 (N, C, H, W), got {self.images.dtype} "
                f"{tuple(self.images.shape)}"
            )
        if self.labels.dtype != torch.int64:
            raise SpectralValueError(f"labels: expected dtype int64, got {self.labels.dtype}")
        if not all(isinstance(c, str) for c in self.classes):
            raise SpectralValueError(f"classes: expected names (str), got {self.classes!r}")
        if self.labels.shape != (self.images.shape[0],):
            raise SpectralValueError(
                f"labels: expected shape ({self.images.shape[0]},) matching the images, got "
                f"{tuple(self.labels.shape)}"
            )
        if len(self.labels) and (
            int(self.labels.min()) < 0 or int(self.labels.max()) >= len(self.classes)
        ):
            raise SpectralValueError(
                f"labels: expected values in [0, {len(self.classes)}), got "
                f"[{int(self.labels.min())}, {int(self.labels.max())}]"
            )

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.images[i], int(self.labels[i])

    def subset(self, n: int, *, seed: int = 0, stratified: bool = True) -> ImageDataset:
        """The first ``n`` images of a seeded permutation, balanced over classes if asked.

        Raises:
            SpectralValueError: ``n < 1``.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise SpectralValueError(f"n: expected an int >= 1, got {n!r}")
        g = torch.Generator().manual_seed(seed)
        perm = torch.randperm(len(self), generator=g)
        if stratified:
            # interleave classes so any prefix is as balanced as possible
            rank = torch.empty(len(self), dtype=torch.long)
            counts: dict[int, int] = {}
            for pos, i in enumerate(perm.tolist()):
                c = int(self.labels[i])
                rank[pos] = counts.get(c, 0) * len(self.classes) + c
                counts[c] = counts.get(c, 0) + 1
            perm = perm[torch.argsort(rank, stable=True)]
        idx = perm[: min(n, len(self))]
        return ImageDataset(self.images[idx], self.labels[idx], self.classes, self.name)


# ---------------------------------------------------------------------------------------
# the built-in dataset
# ---------------------------------------------------------------------------------------

#: Photographs bundled with scikit-image, one class each (grey ones are replicated to RGB).
BUILTIN_CLASSES: tuple[str, ...] = (
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


@lru_cache(maxsize=len(BUILTIN_CLASSES))
def _photo_rgb(name: str) -> np.ndarray:
    from skimage.transform import rescale

    from spectral.data import builtin_photo

    x = builtin_photo(name)[0].numpy().transpose(1, 2, 0)
    if x.shape[2] == 1:
        x = np.repeat(x, 3, axis=2)
    scale = _SHORT_SIDE / min(x.shape[:2])
    return np.clip(rescale(x, scale, channel_axis=2, anti_aliasing=True), 0.0, 1.0)


def builtin_dataset(split: str | Split = "train", *, seed: int = 0) -> ImageDataset:
    """The built-in patch-recognition task: 32x32 RGB patches of bundled photographs.

    One class per photograph in :data:`BUILTIN_CLASSES`. Each photograph is rescaled to a
    shorter side of 192 px; training patches come from its top 70% of rows and test
    patches from the bottom 30%, so no test pixel was seen in training. Nearly flat
    patches (std < 0.03) are rejected. 600 training and 150 test patches per class,
    positions drawn from ``seed``. A small, honest demo and test task, not a benchmark.

    Args:
        split: ``"train"`` or ``"test"``.
        seed: seed of the patch positions (>= 0; the test split draws from a different
            stream of the same seed).

    Returns:
        An :class:`ImageDataset` with ``classes == BUILTIN_CLASSES``.
    """
    sp = _parse_split(split)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SpectralValueError(f"seed: expected an int >= 0, got {seed!r}")
    rng = np.random.default_rng(seed if sp is Split.TRAIN else seed + 1_000_003)
    n = _PER_CLASS[sp]
    images = np.empty((n * len(BUILTIN_CLASSES), 3, _PATCH, _PATCH), dtype=np.float32)
    labels = np.repeat(np.arange(len(BUILTIN_CLASSES)), n)
    for c, name in enumerate(BUILTIN_CLASSES):
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
            raise SpectralValueError(f"builtin: photo {name!r} has too few textured patches")
    return ImageDataset(
        torch.from_numpy(images),
        torch.from_numpy(labels.astype(np.int64)),
        BUILTIN_CLASSES,
        name=f"builtin ({sp.value}, seed {seed})",
    )


def _parse_split(split: str | Split) -> Split:
    try:
        return Split(split)
    except ValueError:
        raise SpectralValueError(f"split: expected 'train' or 'test', got {split!r}") from None


def load_dataset(
    spec: str | os.PathLike[str], split: str | Split = "train", *, seed: int = 0
) -> ImageDataset:
    """Load a dataset by spec: ``"builtin"``, a directory, or a ``.npz`` / ``.pt`` file.

    Args:
        spec: ``"builtin"`` (to load a local folder called ``builtin``, pass
            ``"./builtin"``); an ImageFolder directory (``root/<class>/*.png``, or with
            ``root/train/<class>`` and ``root/test/<class>``); a CIFAR-10 python-batches
            directory (``data_batch_1..5``, ``test_batch``, ``batches.meta``); a ``.npz``
            or ``.pt`` file with ``images`` and ``labels`` (and optional ``classes``).
        split: ``"train"`` or ``"test"``.
        seed: seed for the built-in dataset's patch positions.

    Returns:
        An :class:`ImageDataset`.

    Raises:
        SpectralValueError: a missing path, unknown spec, bad split, or inconsistent data.
        ImageReadError: a corrupt or unreadable file inside the data (named in the message).
    """
    sp = _parse_split(split)
    if str(spec) == "builtin":
        return builtin_dataset(sp, seed=seed)
    from spectral import loaders

    path = Path(spec)
    if not path.exists():
        raise SpectralValueError(
            f"data: {path}: no such file or directory (expected 'builtin', an image folder, "
            "a CIFAR-10 batches directory, or a .npz/.pt file)"
        )
    if path.is_dir():
        if (path / "batches.meta").exists():
            return loaders.load_cifar10(path, sp)
        if (path / "cifar-10-batches-py" / "batches.meta").exists():
            raise SpectralValueError(
                f"data: {path} holds a CIFAR-10 folder; pass {path / 'cifar-10-batches-py'}"
            )
        return loaders.load_image_folder(path, sp)
    if path.suffix.lower() in (".npz", ".pt", ".pth"):
        return loaders.load_tensor_file(path, sp)
    raise SpectralValueError(
        f"data: {path}: expected a directory or a .npz/.pt file, "
        f"got a {path.suffix or 'plain'} file"
    )
