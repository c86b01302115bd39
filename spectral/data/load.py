"""load_dataset: one door for the built-in data, image folders, CIFAR-10 batches, tensor files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from spectral.data.builtin import builtin_dataset
from spectral.data.cifar import load_cifar10
from spectral.data.dataset import ImageDataset, Split, _parse_split
from spectral.data.folders import load_image_folder
from spectral.data.patches import patch_dataset
from spectral.data.resize import ResizeMode
from spectral.data.select import make_pick
from spectral.data.tensors import load_tensor_file
from spectral.errors import SpectralValueError

__all__ = ["load_dataset"]


def load_dataset(
    spec: str | os.PathLike[str],
    split: str | Split = "train",
    *,
    seed: int = 0,
    n_images: int | None = None,
    image_size: int | tuple[int, int] | None = None,
    resize: str | ResizeMode = "resize",
) -> ImageDataset:
    """Load a dataset by spec: ``"builtin"``, ``"patches"``, a directory, or a ``.npz``/``.pt``.

    With ``n_images`` the result equals ``load_dataset(spec, split, seed=seed)
    .subset(n_images, seed=seed)`` (same images, order and labels), but the subset is
    chosen from the labels before any image is decoded: an image folder decodes only
    the chosen files, a CIFAR-10 directory converts only the chosen rows, an ``.npz``
    (``np.savez``) is memory-mapped and a ``.pt`` loaded with ``mmap=True``, the
    built-in data decodes only the chosen JPEGs. (``"patches"`` is generated whole,
    then subset.) With ``image_size`` every image is resized on read
    (:func:`~spectral.data.resize_images`), so an image folder of mixed sizes loads.

    Args:
        spec: ``"builtin"`` (the CIFAR-10 test subset of :func:`builtin_dataset`; test
            split only); ``"patches"`` (:func:`patch_dataset`); to load a local folder
            called ``builtin`` or ``patches``, pass ``"./builtin"``; an ImageFolder
            directory (``root/<class>/*.png``, or with ``root/train/<class>`` and
            ``root/test/<class>``); a CIFAR-10 python-batches directory
            (``data_batch_1..5``, ``test_batch``, ``batches.meta``); a ``.npz`` or
            ``.pt`` file with ``images`` and ``labels`` (and optional ``classes``).
        split: ``"train"`` or ``"test"``.
        seed: seed of the ``n_images`` subset and of the ``"patches"`` task's patch
            positions.
        n_images: load only this many images (a class-balanced seeded subset, see
            :meth:`ImageDataset.subset`); None loads all.
        image_size: resize every image to this ``(H, W)``, or an int for a square (the
            model's input size); None keeps the stored size.
        resize: ``"resize"`` (antialiased bilinear, aspect ratio not kept) or
            ``"crop"`` (shorter side to the size, then centre crop: torchvision's
            ``Resize`` + ``CenterCrop``).

    Returns:
        An :class:`ImageDataset`.

    Raises:
        SpectralValueError: a missing path, unknown spec, bad split, inconsistent data,
            an image folder whose images differ in size when no ``image_size`` is given
            (``"<file>: expected HxW (HxW) like <file>, got hxw; images of different
            sizes need an image size (image_size) to resize each one to"``),
            ``n_images < 1`` (``"n_images: expected an int >= 1, got 0"``), an
            ``image_size`` side below 1, or an unknown ``resize``.
        SpectralTypeError: ``split`` is neither a str nor a :class:`Split`, data of the
            wrong type inside a file (e.g. non-integer labels), or an option of the
            wrong type (``image_size`` neither an int nor a pair of ints).
        ImageReadError: a corrupt or unreadable file inside the data (named in the message).

    Examples:
        >>> ds = load_dataset("builtin", "test")
        >>> len(ds), ds.classes[:2], tuple(ds.images.shape[1:])
        (2000, ('airplane', 'automobile'), (3, 32, 32))
        >>> import shutil, tempfile
        >>> import numpy as np
        >>> folder = Path(tempfile.mkdtemp())
        >>> images = np.zeros((3, 8, 8, 3), dtype=np.uint8)  # channels-last RGB
        >>> np.savez(folder / "toy.npz", images=images, labels=np.array([0, 2, 1]))
        >>> ds = load_dataset(folder / "toy.npz", "test")
        >>> tuple(ds.images.shape), ds.classes
        ((3, 3, 8, 8), ('0', '1', '2'))
        >>> small = load_dataset(folder / "toy.npz", "test", n_images=2, image_size=4)
        >>> tuple(small.images.shape), small.labels.tolist()  # one image per class...
        ((2, 3, 4, 4), [0, 1])
        >>> small.labels.tolist() == ds.subset(2).labels.tolist()  # ...the same as subset(2)
        True
        >>> shutil.rmtree(folder)
    """
    sp = _parse_split(split)
    pick = make_pick(n_images, seed, image_size, resize)
    opts: dict[str, Any] = {
        "n_images": n_images,
        "seed": seed,
        "image_size": image_size,
        "resize": resize,
    }
    if str(spec) == "builtin":
        return builtin_dataset(sp, **opts)
    if str(spec) == "patches":
        ds = patch_dataset(sp, seed=seed)
        ds = ds if n_images is None else ds.subset(n_images, seed=seed)
        return ImageDataset(pick.fit(ds.images), ds.labels, ds.classes, ds.name)
    path = Path(spec)
    if not path.exists():
        raise SpectralValueError(
            f"data: {path}: no such file or directory (expected 'builtin', 'patches', an image "
            "folder, "
            "a CIFAR-10 batches directory, or a .npz/.pt file)"
        )
    if path.is_dir():
        if (path / "batches.meta").exists():
            return load_cifar10(path, sp, **opts)
        if (path / "cifar-10-batches-py" / "batches.meta").exists():
            raise SpectralValueError(
                f"data: {path} holds a CIFAR-10 folder; pass {path / 'cifar-10-batches-py'}"
            )
        return load_image_folder(path, sp, **opts)
    if path.suffix.lower() in (".npz", ".pt", ".pth"):
        return load_tensor_file(path, sp, **opts)
    raise SpectralValueError(
        f"data: {path}: expected a directory or a .npz/.pt file, "
        f"got a {path.suffix or 'plain'} file"
    )
