"""Image-folder data sets (root/<class>/*.png, optional train/ and test/)."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from spectral.data.dataset import ImageDataset, Split, _parse_split
from spectral.data.io import read_image
from spectral.data.resize import ResizeMode
from spectral.data.select import make_pick
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


def load_image_folder(
    root: str | os.PathLike[str],
    split: Split | str,
    *,
    n_images: int | None = None,
    seed: int = 0,
    image_size: int | tuple[int, int] | None = None,
    resize: str | ResizeMode = "resize",
) -> ImageDataset:
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
    dropped). Without ``image_size`` all loaded images must have the same height and
    width; with it, each is resized on read (:func:`~spectral.data.resize_images`).
    Lazy: the files are listed, the ``n_images`` subset is chosen from their labels,
    and only the chosen files are decoded. Channels: if every image
    of the loaded folder is grey the result has ``C = 1``; if any is colour, grey images
    are replicated to ``C = 3``. This is decided per loaded folder, so in the train/test
    layout the two splits can differ in ``C`` if only one of them contains colour
    images.

    Args:
        root: the dataset directory.
        split: ``Split.TRAIN`` / ``"train"`` or ``Split.TEST`` / ``"test"``.
        n_images: load only ``ImageDataset.subset(n_images, seed=seed)`` of the folder
            (same images, order and labels): only those files are decoded (when all of
            them are grey, the other files' headers are read to decide ``C``). None
            loads all, in sorted order.
        seed: seed of that subset.
        image_size: resize every image to this ``(H, W)`` (or square) on read.
        resize: ``"resize"`` or ``"crop"`` (see :func:`~spectral.data.resize_images`).

    Returns:
        An :class:`~spectral.datasets.ImageDataset` named ``"imagefolder:<root> (<split>)"``.

    Raises:
        SpectralValueError: ``root`` is not a directory, has no class folders, a class
            folder holds no images, or the loaded images differ in size and no
            ``image_size`` was given (the message names both files and sizes); unknown
            ``split``; bad ``n_images`` / ``image_size`` / ``resize``.
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
    pick = make_pick(n_images, seed, image_size, resize)
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

    all_labels = torch.tensor([label for _, label in files], dtype=torch.int64)
    idx = pick.indices(all_labels, len(classes)).tolist()
    out: torch.Tensor | None = None  # (n, 3, H, W); cut to one channel if all are grey
    channels, first = 1, files[idx[0]][0]
    for i, j in enumerate(idx):
        x = pick.fit(read_image(files[j][0], transparency="drop"))[0]
        if out is None:
            out = torch.empty((len(idx), 3, *x.shape[1:]), dtype=torch.float32)
        elif x.shape[1:] != out.shape[2:]:
            h, w = out.shape[2:]
            raise SpectralValueError(
                f"{files[j][0]}: expected {h}x{w} (HxW) like {first}, got "
                f"{x.shape[1]}x{x.shape[2]}; images of different sizes need an image size "
                "(image_size) to resize each one to"
            )
        channels = max(channels, int(x.shape[0]))
        out[i] = x.expand(3, *x.shape[1:])
    if out is None:  # unreachable: every class folder holds an image (checked above)
        raise SpectralValueError(f"{base}: no images found")
    if channels == 1 and len(idx) < len(files):
        # the channel count is the whole folder's: colour anywhere gives C = 3
        chosen = set(idx)
        if any(_is_colour(f) for k, (f, _) in enumerate(files) if k not in chosen):
            channels = 3
    images = out if channels == 3 else out[:, :1].clone()
    return ImageDataset(
        images, all_labels[idx], tuple(classes), name=f"imagefolder:{root} ({sp.value})"
    )


_GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "F"})


def _is_colour(path: Path) -> bool:
    """Whether :func:`read_image` gives ``path`` 3 channels, from the file's header only."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.mode not in _GREY_MODES
    except Exception:  # let read_image raise its one-line error
        read_image(path)
        raise
