"""Image-folder data sets (root/<class>/*.png, optional train/ and test/)."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from spectral.data.dataset import ImageDataset, Split, _parse_split
from spectral.data.io import read_image
from spectral.errors import ImageReadError, SpectralValueError

__all__ = ["IMAGE_EXTENSIONS", "load_image_folder"]


#: File extensions (compared case-insensitively) that :func:`load_image_folder` reads.
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
)


def _as_split(split: Split | str) -> Split:
    return _parse_split(split)


def _is_hidden(p: Path) -> bool:
    return p.name.startswith(".")


def _entries(folder: Path) -> list[Path]:
    """The non-hidden entries of ``folder``, sorted by name."""
    try:
        return sorted((p for p in folder.iterdir() if not _is_hidden(p)), key=lambda p: p.name)
    except OSError as err:
        raise ImageReadError(f"{folder}: cannot list folder ({err.strerror or err})") from None


def _require_dir(path: Path, what: str) -> None:
    if not path.is_dir():
        got = "a file" if path.exists() else "no such directory"
        raise SpectralValueError(f"{path}: expected {what} (a directory), got {got}")


def _class_names(folder: Path) -> list[str]:
    return [p.name for p in _entries(folder) if p.is_dir()]


def _image_files(folder: Path) -> list[Path]:
    return [p for p in _entries(folder) if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()]


def load_image_folder(root: str | os.PathLike[str], split: Split | str) -> ImageDataset:
    """Load an ImageFolder-style directory: one sub-folder of images per class.

    The layout is ``root/<class>/<image>``, or ``root/train/<class>/<image>`` and
    ``root/test/<class>/<image>`` when both ``root/train`` and ``root/test`` are
    directories (then ``split`` picks one; otherwise the whole folder is returned for
    either split). Class names are the sorted sub-folder names (in the train/test
    layout: the sorted union over both splits, so a label means the same class in each)
    and the label of an image is the index of its folder. Files are read in sorted
    order; hidden entries (names starting with ``.``), files directly in the root and
    files whose extension is not in :data:`IMAGE_EXTENSIONS` are ignored; sub-folders
    inside a class folder are not searched.

    Each image is read with :func:`spectral.io.read_image` (an alpha channel is
    dropped). All images must have the same height and width. Channels: if every image
    of the loaded folder is grey the result has ``C = 1``; if any is colour, grey images
    are replicated to ``C = 3``. This is decided per loaded folder, so in the train/test
    layout the two splits can differ in ``C`` if only one of them contains colour
    images.

    Args:
        root: the dataset directory.
        split: ``Split.TRAIN`` / ``"train"`` or ``Split.TEST`` / ``"test"``.

    Returns:
        An :class:`~spectral.datasets.ImageDataset` named ``"imagefolder:<root> (<split>)"``.

    Raises:
        SpectralValueError: ``root`` is not a directory, has no class folders, a class
            folder holds no images, or the images differ in size (the message names the
            folder or file); unknown ``split``.
        SpectralTypeError: ``split`` is neither a str nor a :class:`Split`.
        ImageReadError: an image file is corrupt or unreadable (the message names it).

    Examples:
        >>> import shutil, tempfile
        >>> from PIL import Image
        >>> root = Path(tempfile.mkdtemp())
        >>> for name, level in (("cat", 51), ("dog", 204)):  # one grey 8x6 image per class
        ...     (root / name).mkdir()
        ...     Image.new("L", (8, 6), level).save(root / name / "a.png")
        >>> ds = load_image_folder(root, "train")
        >>> ds.images.shape, ds.classes, ds.labels.tolist()
        (torch.Size([2, 1, 6, 8]), ('cat', 'dog'), [0, 1])
        >>> [round(v, 4) for v in ds.images[:, 0, 0, 0].tolist()]  # 51 / 255, 204 / 255
        [0.2, 0.8]
        >>> Image.new("RGB", (8, 6), (255, 0, 0)).save(root / "dog" / "b.png")
        >>> load_image_folder(root, "test").images.shape  # one colour image: all get C = 3
        torch.Size([3, 3, 6, 8])
        >>> shutil.rmtree(root)
    """
    sp = _as_split(split)
    root = Path(root)
    _require_dir(root, "an image folder")
    split_layout = (root / "train").is_dir() and (root / "test").is_dir()
    base = root / sp.value if split_layout else root

    present = _class_names(base)
    if not present:
        raise SpectralValueError(
            f"{base}: no class folders found (expected {base}{os.sep}<class>{os.sep}<image>, "
            f"images with extensions {', '.join(sorted(IMAGE_EXTENSIONS))})"
        )
    if split_layout:
        classes = sorted(set(_class_names(root / "train")) | set(_class_names(root / "test")))
    else:
        classes = present

    # list everything first, so folder errors come before the slow part (decoding)
    files: list[tuple[Path, int]] = []
    for label, name in enumerate(classes):
        if name not in present:
            continue  # train/test layout: a class that only the other split has
        found = _image_files(base / name)
        if not found:
            raise SpectralValueError(
                f"{base / name}: class folder holds no images (expected files with extensions "
                f"{', '.join(sorted(IMAGE_EXTENSIONS))})"
            )
        files.extend((f, label) for f in found)

    images: list[torch.Tensor] = []
    first = files[0][0]
    for f, _ in files:
        x = read_image(f, transparency="drop")[0]
        if images and x.shape[1:] != images[0].shape[1:]:
            h, w = images[0].shape[1:]
            raise SpectralValueError(
                f"{f}: expected {h}x{w} (HxW) like {first}, got {x.shape[1]}x{x.shape[2]}"
            )
        images.append(x)

    channels = max(int(x.shape[0]) for x in images)
    h, w = images[0].shape[1:]
    out = torch.empty((len(images), channels, h, w), dtype=torch.float32)
    for i, x in enumerate(images):
        out[i] = x.expand(channels, h, w)  # grey (C=1) replicated when the folder has colour
    labels = torch.tensor([label for _, label in files], dtype=torch.int64)
    return ImageDataset(out, labels, tuple(classes), name=f"imagefolder:{root} ({sp.value})")
