"""The built-in data: a CIFAR-10 test subset shipped with the package, photos, photo patches."""

from __future__ import annotations

import os
from functools import lru_cache
from io import BytesIO
from pathlib import Path

import numpy as np
import torch

from spectral.data.dataset import ImageDataset, Split, _parse_split
from spectral.data.resize import ResizeMode
from spectral.data.select import make_pick
from spectral.errors import SpectralValueError

__all__ = [
    "BUILTIN_CLASSES",
    "BUILTIN_FILE",
    "BUILTIN_PHOTOS",
    "CIFAR10_CLASSES",
    "builtin_dataset",
    "builtin_patches",
    "builtin_photo",
    "decode_jpeg_pack",
    "make_builtin_subset",
]


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

    The photographs are scikit-image's sample images (:data:`BUILTIN_PHOTOS`); of a
    stereo pair only the left image is used.

    Args:
        name: a key of :data:`BUILTIN_PHOTOS`, e.g. ``"chelsea"`` or ``"camera"``.

    Returns:
        The photograph as a batch of one, float32 in [0, 1].

    Raises:
        SpectralValueError: unknown name (the message lists the valid ones).

    Shape:
        - Output: :math:`(1, C, H, W)`, ``C = 3`` for colour and ``C = 1`` for grey photos

    Examples:
        >>> builtin_photo("chelsea").shape
        torch.Size([1, 3, 300, 451])
        >>> x = builtin_photo("camera")  # a grey photo
        >>> x.shape, x.dtype, 0.0 <= x.min().item() <= x.max().item() <= 1.0
        (torch.Size([1, 1, 512, 512]), torch.float32, True)
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
        SpectralValueError: ``n < 1``, a bad size, an unknown photo name, or ``names``
            holding only grey photos.

    Shape:
        - Output: :math:`(n, 3, size, size)`

    Examples:
        >>> p = builtin_patches(4, size=16, names=("chelsea",))
        >>> p.shape, p.dtype
        (torch.Size([4, 3, 16, 16]), torch.float32)
        >>> torch.equal(p, builtin_patches(4, size=16, names=("chelsea",)))  # seeded crops
        True
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
        SpectralValueError: ``per_class`` not an int >= 1, missing class folders, or fewer
            than ``per_class`` images.

    Examples:
        >>> import shutil, tempfile
        >>> from PIL import Image
        >>> root = Path(tempfile.mkdtemp())
        >>> for name in CIFAR10_CLASSES:  # a toy test folder: two images per class
        ...     (root / name).mkdir()
        ...     for i in range(2):
        ...         Image.new("RGB", (32, 32), (20 * i, 0, 0)).save(root / name / f"{i}.jpg")
        >>> pack = make_builtin_subset(root, root / "pack.npz", per_class=1)
        >>> with np.load(pack) as z:
        ...     sorted(z.files), z["labels"].tolist()[:3], str(z["names"][3])
        (['classes', 'jpeg', 'labels', 'names', 'offsets'], [0, 1, 2], 'cat/0.jpg')
        >>> shutil.rmtree(root)
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

    Args:
        path: the ``.npz`` pack, e.g. :data:`BUILTIN_FILE`.

    Returns:
        ``(images (N, 3, H, W) uint8, labels (N,) int64, names)``.

    Raises:
        SpectralValueError: the file is missing or not such a pack.

    Examples:
        >>> import shutil, tempfile
        >>> from PIL import Image
        >>> root = Path(tempfile.mkdtemp())
        >>> for label, name in enumerate(CIFAR10_CLASSES):  # grey level 20 * label
        ...     (root / name).mkdir()
        ...     Image.new("RGB", (32, 32), (20 * label,) * 3).save(root / name / "0.jpg")
        >>> images, labels, names = decode_jpeg_pack(
        ...     make_builtin_subset(root, root / "pack.npz", per_class=1)
        ... )
        >>> images.shape, images.dtype, labels.tolist()[:4], names[-1]
        ((10, 3, 32, 32), dtype('uint8'), [0, 1, 2, 3], 'truck/0.jpg')
        >>> with Image.open(root / "cat" / "0.jpg") as im:  # the same pixels as the file
        ...     np.array_equal(images[3], np.asarray(im.convert("RGB")).transpose(2, 0, 1))
        True
        >>> shutil.rmtree(root)
    """
    p = Path(path)
    try:
        with np.load(p, allow_pickle=False) as z:
            jpeg, offsets, labels = z["jpeg"], z["offsets"], z["labels"]
            names = [str(n) for n in z["names"]]
    except (OSError, KeyError, ValueError) as err:
        raise SpectralValueError(f"{p}: not a built-in JPEG pack ({err})") from None
    return _decode(jpeg, offsets, np.arange(len(labels))), labels.astype(np.int64), names


def _decode(jpeg: np.ndarray, offsets: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """The JPEGs ``idx`` of a pack as ``(len(idx), 3, H, W)`` uint8."""
    from PIL import Image

    images = []
    for i in idx.tolist():
        blob = jpeg[offsets[i] : offsets[i + 1]].tobytes()
        with Image.open(BytesIO(blob)) as im:
            images.append(np.asarray(im.convert("RGB")).transpose(2, 0, 1))
    return np.stack(images)


@lru_cache(maxsize=1)
def _builtin_pack() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The built-in pack's JPEG bytes, offsets and labels (nothing decoded)."""
    with np.load(BUILTIN_FILE, allow_pickle=False) as z:
        jpeg, offsets, labels = z["jpeg"], z["offsets"], z["labels"].astype(np.int64)
    for a in (jpeg, offsets, labels):
        a.setflags(write=False)
    return jpeg, offsets, labels


@lru_cache(maxsize=1)
def _builtin_pixels() -> tuple[np.ndarray, np.ndarray]:
    images, labels, _ = decode_jpeg_pack(BUILTIN_FILE)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def builtin_dataset(
    split: str | Split = "test",
    *,
    n_images: int | None = None,
    seed: int = 0,
    image_size: int | tuple[int, int] | None = None,
    resize: str | ResizeMode = "resize",
) -> ImageDataset:
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
        n_images: decode only the JPEGs of ``ImageDataset.subset(n_images, seed=seed)``
            (same images, order and labels); None loads all 2,000.
        seed: seed of that subset.
        image_size: resize every image to this ``(H, W)`` (or square).
        resize: ``"resize"`` or ``"crop"`` (see :func:`~spectral.data.resize_images`).

    Returns:
        An :class:`ImageDataset` of ``(2000, 3, 32, 32)`` float32 images in [0, 1] (or
        ``n_images`` of them, of size ``image_size``).

    Raises:
        SpectralTypeError: ``split`` is neither a str nor a :class:`Split`.
        SpectralValueError: ``split="train"`` or an unknown split; bad ``n_images`` /
            ``image_size`` / ``resize``.

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
    pick = make_pick(n_images, seed, image_size, resize)
    if n_images is None:
        images, labels = _builtin_pixels()
        x = pick.gather(
            np.arange(len(labels)),
            lambda ix: torch.from_numpy(images[ix].astype(np.float32) / np.float32(255.0)),
        )
        y = torch.from_numpy(labels.copy())
    else:
        jpeg, offsets, all_labels = _builtin_pack()
        y = torch.from_numpy(all_labels.copy())
        idx = pick.indices(y, len(CIFAR10_CLASSES))
        x = pick.gather(
            idx.numpy(),
            lambda ix: torch.from_numpy(
                _decode(jpeg, offsets, ix).astype(np.float32) / np.float32(255.0)
            ),
        )
        y = y[idx]
    return ImageDataset(
        x,
        y,
        CIFAR10_CLASSES,
        name="builtin (CIFAR-10 test subset, 2000 JPEG images)",
    )


#: Photographs bundled with scikit-image, one class each (grey ones are replicated to RGB).
