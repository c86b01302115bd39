"""Data sets stored as .npz / .pt tensor files."""

from __future__ import annotations

import os
import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spectral.data.dataset import ImageDataset, Split
from spectral.data.folders import _as_split
from spectral.data.npzmap import _npz_memmap
from spectral.data.resize import ResizeMode
from spectral.data.select import make_pick
from spectral.errors import ImageReadError, SpectralTypeError, SpectralValueError

__all__ = ["load_tensor_file"]


_SPLIT_KEYS = ("train_images", "train_labels", "test_images", "test_labels")


def _pick_keys(keys: list[str], sp: Split, path: Path) -> tuple[str, str]:
    split_keys = [k for k in _SPLIT_KEYS if k in keys]
    if split_keys:
        wanted = (f"{sp.value}_images", f"{sp.value}_labels")
        missing = [k for k in wanted if k not in keys]
        if missing:
            raise SpectralValueError(
                f"{path}: has per-split keys {split_keys} but not {missing} for the "
                f"{sp.value} split; keys present: {sorted(keys)}"
            )
        return wanted
    missing = [k for k in ("images", "labels") if k not in keys]
    if missing:
        raise SpectralValueError(
            f"{path}: missing key(s) {missing}: expected 'images' and 'labels' (or "
            f"'{sp.value}_images' and '{sp.value}_labels'), keys present: {sorted(keys)}"
        )
    return "images", "labels"


def _read_npz(path: Path, sp: Split) -> tuple[dict[str, Any], str, str]:
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise ImageReadError(f"{path}: not a readable .npz archive ({err})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise SpectralValueError(
            f"{path}: expected an .npz archive of named arrays ('images', 'labels'), got a "
            "single .npy array"
        )
    with archive:
        keys = list(archive.files)
        img_key, lab_key = _pick_keys(keys, sp, path)
        content: dict[str, Any] = {}
        mapped = _npz_memmap(path, img_key)
        if mapped is not None:
            content[img_key] = mapped
        for key in (img_key, lab_key, "classes"):
            if key in keys and key not in content:
                try:
                    content[key] = archive[key]
                except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
                    raise ImageReadError(f"{path}: cannot read array {key!r} ({err})") from None
    return content, img_key, lab_key


def _read_torch(path: Path, sp: Split) -> tuple[dict[str, Any], str, str]:
    try:
        try:  # memory-mapped: indexing reads only the chosen images' pages
            obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:  # legacy (non-zip) format cannot be mapped
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        # torch's message opens with boilerplate about weights_only; keep the specific part
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        detail = " ".join(ln for ln in lines[1:] if not ln.startswith("Check the documentation"))
        detail = detail or (lines[0] if lines else type(err).__name__)
        raise ImageReadError(
            f"{path}: torch.load(weights_only=True) refused it: it is corrupt or holds objects "
            f"other than tensors, numbers, strings and containers ({detail})"
        ) from None
    except (RuntimeError, EOFError, ValueError, OSError) as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ImageReadError(f"{path}: not a readable torch file ({first_line})") from None
    if not isinstance(obj, Mapping):
        raise SpectralTypeError(
            f"{path}: expected a dict with 'images' and 'labels', got {type(obj).__name__}"
        )
    content = {str(k): v for k, v in obj.items()}
    img_key, lab_key = _pick_keys(list(content), sp, path)
    return content, img_key, lab_key


def _as_array(value: Any, path: Path, key: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu()
        if t.dtype == torch.bfloat16:
            t = t.to(torch.float32)
        return t.numpy()
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (list, tuple)):
        try:
            return np.asarray(value)
        except ValueError as err:
            raise SpectralValueError(f"{path}: {key}: not a rectangular array ({err})") from None
    raise SpectralTypeError(
        f"{path}: {key}: expected an array or tensor, got {type(value).__name__}"
    )


def _image_layout(a: np.ndarray, path: Path, key: str) -> str:
    """Check an images array by its shape and dtype only: ``"nhw"``, ``"nchw"`` or ``"nhwc"``."""
    if a.ndim == 3:
        layout = "nhw"  # (N, H, W) grey
    elif a.ndim == 4:
        layout = "nchw"
        if a.shape[1] not in (1, 3):
            if a.shape[3] not in (1, 3):
                raise SpectralValueError(
                    f"{path}: {key}: expected (N, C, H, W) or (N, H, W, C) with C in {{1, 3}}, "
                    f"got shape {a.shape}"
                )
            layout = "nhwc"
    else:
        raise SpectralValueError(
            f"{path}: {key}: expected 3 dims (N, H, W) or 4 dims (N, C, H, W) / (N, H, W, C), "
            f"got {a.ndim} dims, shape {a.shape}"
        )
    if a.size == 0:
        raise SpectralValueError(f"{path}: {key}: holds no images, shape {a.shape}")
    if a.dtype != np.uint8 and a.dtype.kind != "f":
        raise SpectralTypeError(
            f"{path}: {key}: expected uint8 (0..255) or float (0..1) values, got dtype {a.dtype}"
        )
    return layout


def _image_rows(a: np.ndarray, layout: str, idx: np.ndarray, path: Path, key: str) -> torch.Tensor:
    """Rows ``idx`` of a checked images array as float32 ``(k, C, H, W)`` in [0, 1]."""
    r = np.asarray(a[idx])  # reads only these rows of a memory map
    if layout == "nhw":
        r = r[:, None]
    elif layout == "nhwc":
        r = r.transpose(0, 3, 1, 2)
    if r.dtype == np.uint8:
        return torch.from_numpy(np.ascontiguousarray(r)).to(torch.float32).div_(255.0)
    finite = np.isfinite(r)
    if not finite.all():
        n_bad = int(r.size - np.count_nonzero(finite))
        raise SpectralValueError(
            f"{path}: {key}: expected finite values, got {n_bad} NaN or infinite value(s)"
        )
    lo, hi = float(r.min()), float(r.max())
    if lo < 0.0 or hi > 1.0:
        raise SpectralValueError(
            f"{path}: {key}: expected float values in [0, 1] (or uint8 0..255), got values in "
            f"[{lo:.6g}, {hi:.6g}]"
        )
    return torch.from_numpy(np.ascontiguousarray(r, dtype=np.float32))


def _tensor_labels(a: np.ndarray, path: Path, key: str) -> torch.Tensor:
    if a.ndim != 1:
        raise SpectralValueError(f"{path}: {key}: expected shape (N,), got {a.shape}")
    if a.dtype.kind not in "iu":
        note = " (contains NaN)" if a.dtype.kind == "f" and np.isnan(a).any() else ""
        raise SpectralTypeError(
            f"{path}: {key}: expected integer labels, got dtype {a.dtype}{note}"
        )
    if len(a) and a.min() < 0:
        raise SpectralValueError(f"{path}: {key}: expected labels >= 0, got minimum {a.min()}")
    return torch.from_numpy(a.astype(np.int64))


def _tensor_classes(value: Any, n_needed: int, path: Path) -> tuple[str, ...]:
    if value is None:
        return tuple(str(i) for i in range(n_needed))
    if isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "US":
        items: list[Any] = value.tolist()
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        got = f"{value.dtype} array" if isinstance(value, np.ndarray) else type(value).__name__
        raise SpectralTypeError(f"{path}: classes: expected a list of strings, got {got}")
    names = [v.decode("utf-8", errors="replace") if isinstance(v, bytes) else v for v in items]
    bad = [v for v in names if not isinstance(v, str)]
    if bad:
        raise SpectralTypeError(
            f"{path}: classes: expected strings, got {type(bad[0]).__name__} {bad[0]!r:.40}"
        )
    if len(names) < n_needed:
        raise SpectralValueError(
            f"{path}: classes: expected at least {n_needed} names (labels go up to "
            f"{n_needed - 1}), got {len(names)}"
        )
    if len(set(names)) != len(names):
        dup = sorted({v for v in names if names.count(v) > 1})
        raise SpectralValueError(f"{path}: classes: expected unique names, got duplicates {dup}")
    return tuple(names)


def load_tensor_file(
    path: str | os.PathLike[str],
    split: Split | str,
    *,
    n_images: int | None = None,
    seed: int = 0,
    image_size: int | tuple[int, int] | None = None,
    resize: str | ResizeMode = "resize",
) -> ImageDataset:
    """Load images and labels saved as arrays in a ``.npz`` or ``.pt`` / ``.pth`` file.

    The file holds ``images`` and ``labels`` (and optionally ``classes``, a list or
    array of strings; default ``("0", "1", ..., str(max label))``). If it has the keys
    ``train_images`` / ``train_labels`` / ``test_images`` / ``test_labels``, the pair of
    the requested split is used instead of ``images`` / ``labels``. ``.npz`` files are
    read with ``np.load(allow_pickle=False)``, ``.pt`` files with
    ``torch.load(weights_only=True)`` (a dict of tensors, lists and strings); neither
    runs code from the file.

    ``images`` may be uint8 (divided by 255) or float with values in [0, 1], laid out as
    ``(N, C, H, W)`` or ``(N, H, W, C)`` with ``C`` in {1, 3} (channels-first wins when
    both fit), or ``(N, H, W)`` (grey, ``C = 1``). ``labels`` are integers ``>= 0``,
    one per image.

    Lazy: the labels are read first and the ``n_images`` subset is chosen from them;
    only those images are converted to float (and checked for range). ``.npz`` archives
    written by ``np.savez`` are memory-mapped, ``.pt`` files are loaded with
    ``mmap=True``, so the other images are never read into memory (a
    ``np.savez_compressed`` archive is inflated whole, as uint8 if stored so).

    Args:
        path: the ``.npz``, ``.pt`` or ``.pth`` file.
        split: ``Split.TRAIN`` / ``"train"`` or ``Split.TEST`` / ``"test"``.
        n_images: load only ``ImageDataset.subset(n_images, seed=seed)`` of the file
            (same images, order and labels); None loads all, in file order.
        seed: seed of that subset.
        image_size: resize every image to this ``(H, W)`` (or square) with
            :func:`~spectral.data.resize_images`.
        resize: ``"resize"`` or ``"crop"`` (see :func:`~spectral.data.resize_images`).

    Returns:
        An :class:`~spectral.datasets.ImageDataset` named ``"tensors:<path> (<split>)"``.

    Raises:
        ImageReadError: the file is missing, corrupt or not readable as its suffix says.
        SpectralValueError: a key is missing (the message lists the keys present), wrong
            number of dims or channels, no images, NaN / infinite or out-of-range image
            values (of the loaded images), negative labels, label count differing from
            image count, too few or duplicate class names, an unknown suffix or ``split``.
            Every message names the file. Bad ``n_images`` / ``image_size`` / ``resize``.
        SpectralTypeError: images neither uint8 nor float, non-integer labels, class
            names that are not strings, or a ``.pt`` file that does not hold a dict.

    Examples:
        >>> import shutil, tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> images = np.zeros((2, 8, 8), dtype=np.uint8)  # two grey 8x8 images
        >>> np.savez(folder / "toy.npz", images=images, labels=np.array([0, 1]))
        >>> ds = load_tensor_file(folder / "toy.npz", "train")
        >>> tuple(ds.images.shape), ds.classes
        ((2, 1, 8, 8), ('0', '1'))
        >>> shutil.rmtree(folder)
    """
    sp = _as_split(split)
    pick = make_pick(n_images, seed, image_size, resize)
    path = Path(path)
    if not path.is_file():
        got = "a directory" if path.is_dir() else "no such file"
        raise ImageReadError(f"{path}: expected a .npz, .pt or .pth file, got {got}")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        content, img_key, lab_key = _read_npz(path, sp)
    elif suffix in (".pt", ".pth"):
        content, img_key, lab_key = _read_torch(path, sp)
    else:
        raise SpectralValueError(
            f"{path}: expected a .npz, .pt or .pth file, got suffix {suffix or '(none)'!r}"
        )
    raw = _as_array(content[img_key], path, img_key)
    layout = _image_layout(raw, path, img_key)
    labels = _tensor_labels(_as_array(content[lab_key], path, lab_key), path, lab_key)
    if len(labels) != len(raw):
        raise SpectralValueError(
            f"{path}: expected one label per image ({len(raw)} in {img_key!r}), got "
            f"{len(labels)} in {lab_key!r}"
        )
    n_needed = int(labels.max()) + 1 if len(labels) else 0
    classes = _tensor_classes(content.get("classes"), n_needed, path)
    idx = pick.indices(labels, len(classes))
    images = pick.gather(idx.numpy(), lambda rows: _image_rows(raw, layout, rows, path, img_key))
    return ImageDataset(images, labels[idx], classes, name=f"tensors:{path} ({sp.value})")
