"""load_dataset: one door for the built-in data, image folders, CIFAR-10 batches, tensor files."""

from __future__ import annotations

import os
from pathlib import Path

from spectral.data.builtin import builtin_dataset
from spectral.data.cifar import load_cifar10
from spectral.data.dataset import ImageDataset, Split, _parse_split
from spectral.data.folders import load_image_folder
from spectral.data.patches import patch_dataset
from spectral.data.tensors import load_tensor_file
from spectral.errors import SpectralValueError

__all__ = ["load_dataset"]


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
        SpectralTypeError: ``split`` is neither a str nor a :class:`Split`, or data of the
            wrong type inside a file (e.g. non-integer labels).
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
        >>> shutil.rmtree(folder)
    """
    sp = _parse_split(split)
    if str(spec) == "builtin":
        return builtin_dataset(sp)
    if str(spec) == "patches":
        return patch_dataset(sp, seed=seed)
    path = Path(spec)
    if not path.exists():
        raise SpectralValueError(
            f"data: {path}: no such file or directory (expected 'builtin', 'patches', an image "
            "folder, "
            "a CIFAR-10 batches directory, or a .npz/.pt file)"
        )
    if path.is_dir():
        if (path / "batches.meta").exists():
            return load_cifar10(path, sp)
        if (path / "cifar-10-batches-py" / "batches.meta").exists():
            raise SpectralValueError(
                f"data: {path} holds a CIFAR-10 folder; pass {path / 'cifar-10-batches-py'}"
            )
        return load_image_folder(path, sp)
    if path.suffix.lower() in (".npz", ".pt", ".pth"):
        return load_tensor_file(path, sp)
    raise SpectralValueError(
        f"data: {path}: expected a directory or a .npz/.pt file, "
        f"got a {path.suffix or 'plain'} file"
    )
