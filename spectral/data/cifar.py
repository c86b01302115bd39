"""CIFAR-10 python-batches directories."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spectral.data.dataset import ImageDataset, Split
from spectral.data.folders import _as_split, _require_dir
from spectral.data.resize import ResizeMode
from spectral.data.select import make_pick
from spectral.data.unpickle import _read_pickle
from spectral.errors import SpectralTypeError, SpectralValueError

__all__ = ["load_cifar10"]


_CIFAR_ROW = 3 * 32 * 32


_CIFAR_FILES = {
    Split.TRAIN: tuple(f"data_batch_{i}" for i in range(1, 6)),
    Split.TEST: ("test_batch",),
}


def _str_keys(obj: Any, path: Path, expected: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise SpectralValueError(
            f"{path}: expected a pickled dict with {expected}, got {type(obj).__name__}"
        )
    return {k.decode("latin1") if isinstance(k, bytes) else str(k): v for k, v in obj.items()}


def _cifar_label_names(path: Path) -> tuple[str, ...]:
    meta = _str_keys(_read_pickle(path), path, "'label_names'")
    if "label_names" not in meta:
        raise SpectralValueError(f"{path}: expected key 'label_names', found keys {sorted(meta)}")
    raw = meta["label_names"]
    if not isinstance(raw, (list, tuple)) or not raw:
        raise SpectralValueError(
            f"{path}: label_names: expected a non-empty list of names, got {raw!r:.80}"
        )
    names: list[str] = []
    for item in raw:
        if isinstance(item, bytes):
            item = item.decode("utf-8", errors="replace")
        if not isinstance(item, str):
            raise SpectralTypeError(
                f"{path}: label_names: expected strings, got {type(item).__name__} {item!r:.40}"
            )
        names.append(item)
    return tuple(names)


def _cifar_batch(path: Path, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    batch = _str_keys(_read_pickle(path), path, "'data' and 'labels'")
    missing = [k for k in ("data", "labels") if k not in batch]
    if missing:
        raise SpectralValueError(
            f"{path}: missing key(s) {missing}: expected 'data' and 'labels', found keys "
            f"{sorted(batch)}"
        )
    data = batch["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8:
        got = f"ndarray of {data.dtype}" if isinstance(data, np.ndarray) else type(data).__name__
        raise SpectralTypeError(f"{path}: data: expected a uint8 ndarray, got {got}")
    rows_ok = data.ndim == 1 or (data.ndim == 2 and data.shape[1] == _CIFAR_ROW)
    if not rows_ok or data.size % _CIFAR_ROW:
        raise SpectralValueError(
            f"{path}: data: expected (N, {_CIFAR_ROW}) uint8 rows (a multiple of {_CIFAR_ROW} "
            f"values, 3x32x32 per image), got shape {data.shape}"
        )
    data = data.reshape(-1, _CIFAR_ROW)
    labels = np.asarray(batch["labels"])
    if labels.size == 0:
        labels = labels.astype(np.int64)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise SpectralTypeError(
            f"{path}: labels: expected a list of integers, got {labels.dtype} of shape "
            f"{labels.shape}"
        )
    if len(labels) != len(data):
        raise SpectralValueError(
            f"{path}: expected one label per image ({len(data)} images), got {len(labels)} labels"
        )
    if len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
        raise SpectralValueError(
            f"{path}: labels: expected values in [0, {n_classes}) (batches.meta has "
            f"{n_classes} label names), got [{labels.min()}, {labels.max()}]"
        )
    return data, labels.astype(np.int64)


def load_cifar10(
    root: str | os.PathLike[str],
    split: Split | str,
    *,
    n_images: int | None = None,
    seed: int = 0,
    image_size: int | tuple[int, int] | None = None,
    resize: str | ResizeMode = "resize",
) -> ImageDataset:
    """Load CIFAR-10 from its python-version batch files, read directly with pickle.

    ``root`` is the extracted ``cifar-10-batches-py`` directory. The train split is
    ``data_batch_1`` ... ``data_batch_5`` concatenated in that order, the test split is
    ``test_batch``; class names come from ``batches.meta`` (``label_names``). Each row of
    a batch's ``data`` is 3072 bytes -- the red, green and blue 32x32 planes, each row by
    row -- and becomes one ``(3, 32, 32)`` image divided by 255.

    Security: a pickle file can run arbitrary code when loaded, so only load data you
    trust (the official loader has the same caveat). As a safeguard the files are read
    with a restricted unpickler that builds only containers, strings, numbers and numpy
    arrays; a file that asks for any other global (``os.system``, ``eval``, ...) is
    refused with :class:`~spectral.errors.ImageReadError` before anything runs. Arrays
    are rebuilt from their checked shape, dtype and bytes rather than by numpy's own
    unpickling code, which a corrupted file can crash. This is a safeguard, not a
    licence to load untrusted files.

    Args:
        root: the directory holding the batch files and ``batches.meta``.
        split: ``Split.TRAIN`` / ``"train"`` or ``Split.TEST`` / ``"test"``.
        n_images: load only ``ImageDataset.subset(n_images, seed=seed)`` of the split
            (same images, order and labels); only those rows are converted to float
            (the batches stay as their uint8 bytes meanwhile). None loads all.
        seed: seed of that subset.
        image_size: resize every image to this ``(H, W)`` (or square).
        resize: ``"resize"`` or ``"crop"`` (see :func:`~spectral.data.resize_images`).

    Returns:
        An :class:`~spectral.datasets.ImageDataset` of ``(N, 3, 32, 32)`` images (or
        ``image_size``) named
        ``"cifar10:<root> (<split>)"``.

    Raises:
        ImageReadError: a batch file or ``batches.meta`` is missing, corrupt, not a
            pickle, or refused by the restricted unpickler (the message names it).
        SpectralValueError: a file lacks ``data`` / ``labels`` / ``label_names``, its data
            is not a whole number of 3072-byte rows, the label count differs from the
            image count, or a label is out of range (the message names the file);
            ``root`` is not a directory; unknown ``split``.
        SpectralTypeError: ``data`` is not a uint8 array or ``labels`` are not integers;
            a label name is not a string; ``split`` is neither a str nor a :class:`Split`.

    Examples:
        >>> import pickle, shutil, tempfile
        >>> root = Path(tempfile.mkdtemp())  # a toy batches directory: 2 classes, 3 images
        >>> with open(root / "batches.meta", "wb") as fh:
        ...     pickle.dump({b"label_names": [b"cat", b"dog"]}, fh)
        >>> with open(root / "test_batch", "wb") as fh:
        ...     rows = np.full((3, 3072), 255, dtype=np.uint8)
        ...     pickle.dump({b"data": rows, b"labels": [0, 1, 1]}, fh)
        >>> ds = load_cifar10(root, "test")
        >>> ds.images.shape, ds.classes, ds.labels.tolist(), ds.images.max().item()
        (torch.Size([3, 3, 32, 32]), ('cat', 'dog'), [0, 1, 1], 1.0)
        >>> shutil.rmtree(root)
    """
    sp = _as_split(split)
    pick = make_pick(n_images, seed, image_size, resize)
    root = Path(root)
    _require_dir(root, "a CIFAR-10 batches directory")
    classes = _cifar_label_names(root / "batches.meta")
    parts = [_cifar_batch(root / name, len(classes)) for name in _CIFAR_FILES[sp]]
    datas = [d for d, _ in parts]
    starts = np.cumsum([0] + [len(d) for d in datas])
    labels = torch.from_numpy(np.concatenate([lab for _, lab in parts]))
    idx = pick.indices(labels, len(classes))

    def rows(ix: np.ndarray) -> torch.Tensor:
        part = np.searchsorted(starts, ix, side="right") - 1
        r = np.stack([datas[p][i - starts[p]] for p, i in zip(part, ix, strict=True)])
        return torch.from_numpy(r).reshape(-1, 3, 32, 32).to(torch.float32).div_(255.0)

    return ImageDataset(
        pick.gather(idx.numpy(), rows, (3, 32, 32)),
        labels[idx],
        classes,
        name=f"cifar10:{root} ({sp.value})",
    )
