"""Datasets: the built-in CIFAR-10 test subset and real data through the same door.

``load_dataset(spec, split=...)`` returns an :class:`ImageDataset` of
``(image (C, H, W) float32 in [0, 1], label int)`` with class names. ``spec`` is
``"builtin"`` (2,000 CIFAR-10 test images shipped in the package), ``"patches"`` (a small
photograph-patch task, fast test data) or a path: an ImageFolder-style directory (one
sub-folder per class), a CIFAR-10 python-batches directory, or a ``.npz`` / ``.pt`` file
holding ``images`` and ``labels`` (see :mod:`spectral.loaders`). Nothing is ever downloaded.
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
    "CIFAR10_CLASSES",
    "PATCH_CLASSES",
    "ImageDataset",
    "Split",
    "builtin_dataset",
    "decode_jpeg_pack",
    "load_dataset",
    "make_builtin_subset",
    "patch_dataset",
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

#: CIFAR-10's class names in its label order (Krizhevsky 2009).
CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
#: Class names of the built-in data set (a CIFAR-10 test subset).
BUILTIN_CLASSES = CIFAR10_CLASSES

#: The built-in data: JPEG bytes of a class-balanced CIFAR-10 test subset (see
#: :func:`make_builtin_subset`), decoded on load.
BUILTIN_FILE = Path(__file__).parent / "builtin_data" / "cifar10-test-subset.npz"
BUILTIN_PER_CLASS = 200


def make_builtin_subset(
    test_folder: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    per_class: int = BUILTIN_PER_CLASS,
) -> Path:
    """Pack the first ``per_class`` JPEG files of each class of a CIFAR-10 test folder.

    This is how the shipped built-in data was made (``test_folder`` =
    ``shared/data/cifar10/test``). The original JPEG bytes are stored unchanged, so the
    decoded pixels are exactly those of the folder. Files are taken in sorted order of
    name within each class folder; class folders must be CIFAR-10's ten classes.

    Args:
        test_folder: ``<class>/<image>.jpg`` folder of the CIFAR-10 test split.
        out: the ``.npz`` file to write (replaced atomically).
        per_class: images per class.

    Returns:
        The written file.

    Raises:
        SpectralValueError: missing class folders, or fewer than ``per_class`` images.
    """
    root = Path(test_folder)
    if isinstance(per_class, bool) or not isinstance(per_class, int) or per_class < 1:
        raise SpectralValueError(f"per_class: expected an int >= 1, got {per_class!r}")
    blobs: list[bytes] = []
    names: list[str] = []
    labels: list[int] = []
    for label, name in enumerate(CIFAR10_CLASSES):
        folder = root / name
        files = sorted(f for f in folder.glob("*.jpg") if f.is_file()) if folder.is_dir() else []
        if len(files) < per_class:
            raise SpectralValueError(
                f"{folder}: expected at least {per_class} .jpg files, found {len(files)}"
            )
        for f in files[:per_class]:
            blobs.append(f.read_bytes())
            names.append(f"{name}/{f.name}")
            labels.append(label)
    offsets = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp.npz")
    np.savez(
        tmp,
        jpeg=np.frombuffer(b"".join(blobs), dtype=np.uint8),
        offsets=offsets,
        labels=np.asarray(labels, dtype=np.int64),
        names=np.asarray(names),
        classes=np.asarray(CIFAR10_CLASSES),
    )
    os.replace(tmp, target)
    return target


def decode_jpeg_pack(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Decode a pack written by :func:`make_builtin_subset`.

    Returns:
        ``(images (N, 3, H, W) uint8, labels (N,) int64, names)``.

    Raises:
        SpectralValueError: the file is missing or not such a pack.
    """
    from io import BytesIO

    from PIL import Image

    p = Path(path)
    try:
        with np.load(p, allow_pickle=False) as z:
            jpeg, offsets, labels = z["jpeg"], z["offsets"], z["labels"]
            names = [str(n) for n in z["names"]]
    except (OSError, KeyError, ValueError) as err:
        raise SpectralValueError(f"{p}: not a built-in JPEG pack ({err})") from None
    images = []
    for i in range(len(labels)):
        blob = jpeg[offsets[i] : offsets[i + 1]].tobytes()
        with Image.open(BytesIO(blob)) as im:
            images.append(np.asarray(im.convert("RGB")).transpose(2, 0, 1))
    return np.stack(images), labels.astype(np.int64), names


@lru_cache(maxsize=1)
def _builtin_pixels() -> tuple[np.ndarray, np.ndarray]:
    images, labels, _ = decode_jpeg_pack(BUILTIN_FILE)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def builtin_dataset(split: str | Split = "test") -> ImageDataset:
    """The built-in data: a fixed, class-balanced subset of the CIFAR-10 test set.

    2,000 images (the first 200 files of each class of the JPEG copy of the test split, in
    sorted order), CIFAR-10's class names and label order (:data:`CIFAR10_CLASSES`). The
    original JPEG bytes ship inside the package and are decoded on load, so the pixels are
    exactly those of the JPEG copy (baseline JPEG at quality 75: part of the
    high-frequency content of the original CIFAR-10 pixels is quantised away; say so
    when comparing spectra with published numbers). Nothing is downloaded.

    Args:
        split: ``"test"``; the training set is not shipped (``"train"`` raises and says
            how to point ``--data`` at a CIFAR-10 folder).

    Returns:
        An :class:`ImageDataset` of ``(2000, 3, 32, 32)`` float32 images in [0, 1].

    Raises:
        SpectralValueError: ``split="train"`` or an unknown split.

    Examples:
        >>> ds = builtin_dataset("test")
        >>> len(ds), ds.classes[3], int((ds.labels == 3).sum())
        (2000, 'cat', 200)
    """
    sp = _parse_split(split)
    if sp is Split.TRAIN:
        raise SpectralValueError(
            "builtin: only a 2,000-image CIFAR-10 test subset ships with spectral, not the "
            "training set; pass --data <folder> (a CIFAR-10 image folder with train/ and "
            "test/, or the cifar-10-batches-py folder) to use a training split"
        )
    images, labels = _builtin_pixels()
    x = torch.from_numpy(images.astype(np.float32) / np.float32(255.0))
    return ImageDataset(
        x,
        torch.from_numpy(labels.copy()),
        CIFAR10_CLASSES,
        name="builtin (CIFAR-10 test subset, 2000 JPEG images)",
    )


#: Photographs bundled with scikit-image, one class each (grey ones are replicated to RGB).
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

    from spectral.data import builtin_photo

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


def _parse_split(split: str | Split) -> Split:
    try:
        return Split(split)
    except ValueError:
        raise SpectralValueError(f"split: expected 'train' or 'test', got {split!r}") from None


def load_dataset(
    spec: str | os.PathLike[str], split: str | Split = "train", *, seed: int = 0
) -> ImageDataset:
    """Load a dataset by spec: ``"builtin"``, ``"patches"``, a directory, or a ``.npz``/``.pt``.

    Args:
        spec: ``"builtin"`` (the CIFAR-10 test subset of :func:`builtin_dataset`; test
            split only); ``"patches"`` (:func:`patch_dataset`); to load a local folder
            called ``builtin`` or ``patches``, pass ``"./builtin"``; an ImageFolder
            directory (``root/<class>/*.png``, or with ``root/train/<class>`` and
            ``root/test/<class>``); a CIFAR-10 python-batches directory
            (``data_batch_1..5``, ``test_batch``, ``batches.meta``); a ``.npz`` or
            ``.pt`` file with ``images`` and ``labels`` (and optional ``classes``).
        split: ``"train"`` or ``"test"``.
        seed: seed of the ``"patches"`` task's patch positions.

    Returns:
        An :class:`ImageDataset`.

    Raises:
        SpectralValueError: a missing path, unknown spec, bad split, or inconsistent data.
        ImageReadError: a corrupt or unreadable file inside the data (named in the message).
    """
    sp = _parse_split(split)
    if str(spec) == "builtin":
        return builtin_dataset(sp)
    if str(spec) == "patches":
        return patch_dataset(sp, seed=seed)
    from spectral import loaders

    path = Path(spec)
    if not path.exists():
        raise SpectralValueError(
            f"data: {path}: no such file or directory (expected 'builtin', 'patches', an image "
            "folder, "
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
