"""Real data from disk: image folders, CIFAR-10 python batches and tensor files.

Each loader returns an :class:`~spectral.datasets.ImageDataset` (images ``(N, C, H, W)``
float32 in [0, 1], int64 labels, class names) and is normally reached through
:func:`spectral.datasets.load_dataset`. Nothing is ever downloaded.

Every problem with the data raises a typed error whose message names the offending file
or folder:

* :class:`~spectral.errors.ImageReadError` -- a file is missing, corrupt or unreadable;
* :class:`~spectral.errors.SpectralValueError` -- the data is readable but inconsistent
  (no classes, mixed sizes, length mismatch, values out of range, missing keys);
* :class:`~spectral.errors.SpectralTypeError` -- an array has the wrong dtype.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spectral.datasets import ImageDataset, Split
from spectral.errors import ImageReadError, SpectralTypeError, SpectralValueError
from spectral.io import read_image

__all__ = [
    "IMAGE_EXTENSIONS",
    "load_cifar10",
    "load_image_folder",
    "load_tensor_file",
]

#: File extensions (compared case-insensitively) that :func:`load_image_folder` reads.
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
)


def _as_split(split: Split | str) -> Split:
    try:
        return Split(split)
    except ValueError:
        raise SpectralValueError(f"split: expected 'train' or 'test', got {split!r}") from None


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


# ---------------------------------------------------------------------------------------
# image folders
# ---------------------------------------------------------------------------------------


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
        ImageReadError: an image file is corrupt or unreadable (the message names it).
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
        x = read_image(f, alpha="drop")[0]
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


# ---------------------------------------------------------------------------------------
# CIFAR-10 python batches
# ---------------------------------------------------------------------------------------

_CIFAR_ROW = 3 * 32 * 32
_CIFAR_FILES = {
    Split.TRAIN: tuple(f"data_batch_{i}" for i in range(1, 6)),
    Split.TEST: ("test_batch",),
}


class _RefusedError(pickle.UnpicklingError):
    """The pickle asks for something outside the allow-list."""


# The restricted unpickler never hands pickle data to numpy's own reconstruction code
# (``ndarray.__setstate__`` and ``dtype.__setstate__`` trust their input: a corrupted or
# crafted state can crash the interpreter). Instead the allow-listed numpy globals are
# mapped to the small stand-ins below, which record and check what the pickle says;
# ``_finish`` then builds real arrays with ``np.frombuffer`` after checking the sizes.

_PLAIN_DTYPES = frozenset({"b1", "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f2", "f4", "f8"})


def _text(value: Any, what: str) -> str:
    if isinstance(value, bytes):  # Python 2 pickles (``encoding="bytes"``)
        value = value.decode("latin1")
    if not isinstance(value, str):
        raise _RefusedError(f"{what}: expected a string, got {type(value).__name__}")
    return value


class _DtypeStub:
    """Stands in for ``numpy.dtype(descr, align, copy)``; plain numeric dtypes only."""

    def __init__(self, descr: Any, align: Any = False, copy: Any = True) -> None:
        self.descr = _text(descr, "dtype")
        if self.descr not in _PLAIN_DTYPES:
            raise _RefusedError(f"dtype {self.descr!r} is not allowed (plain numbers only)")
        self.byteorder = "="

    def __setstate__(self, state: Any) -> None:
        # (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])
        if not isinstance(state, tuple) or len(state) < 5 or any(s is not None for s in state[2:5]):
            raise _RefusedError("dtype state: only plain (non-structured) dtypes are allowed")
        self.byteorder = _text(state[1], "dtype byte order")
        if self.byteorder not in ("<", ">", "|", "="):
            raise _RefusedError(f"dtype byte order {self.byteorder!r}")

    def build(self) -> np.dtype:
        dt = np.dtype(self.descr)
        if self.byteorder == "<":
            return dt.newbyteorder("<")
        return dt.newbyteorder(">") if self.byteorder == ">" else dt


def _shape(value: Any) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, tuple) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in value
    ):
        raise _RefusedError(f"array shape: expected a tuple of sizes, got {value!r:.60}")
    return value


class _ArrayStub:
    """Stands in for an ndarray: ``_reconstruct(ndarray, ...)`` + ``__setstate__``."""

    def __init__(self) -> None:
        self.shape: tuple[int, ...] | None = None
        self.dtype: _DtypeStub | None = None
        self.fortran = False
        self.raw: bytes | bytearray = b""

    def __setstate__(self, state: Any) -> None:
        # (version, shape, dtype, is_fortran, rawdata) or, from old numpy, without version
        if isinstance(state, tuple) and len(state) == 5:
            state = state[1:]
        if not isinstance(state, tuple) or len(state) != 4:
            raise _RefusedError("array state: expected (shape, dtype, is_fortran, data)")
        self.set(*state)

    def set(self, shape: Any, dtype: Any, fortran: Any, raw: Any) -> None:
        if not isinstance(dtype, _DtypeStub):
            raise _RefusedError(f"array dtype: expected numpy.dtype, got {type(dtype).__name__}")
        if not isinstance(raw, (bytes, bytearray)):
            raise _RefusedError(f"array data: expected bytes, got {type(raw).__name__}")
        self.shape, self.dtype, self.fortran, self.raw = _shape(shape), dtype, bool(fortran), raw

    def build(self) -> np.ndarray:
        if self.shape is None or self.dtype is None:
            raise _RefusedError("array without state")
        dt = self.dtype.build()
        count = int(np.prod(self.shape, dtype=np.int64))
        if len(self.raw) != count * dt.itemsize:
            raise _RefusedError(
                f"array data: expected {count * dt.itemsize} bytes for shape {self.shape} "
                f"{dt}, got {len(self.raw)}"
            )
        flat = np.frombuffer(self.raw, dtype=dt, count=count)
        return flat.reshape(self.shape, order="F" if self.fortran else "C").copy()


class _ScalarStub:
    """Stands in for ``numpy.core.multiarray.scalar(dtype, data)`` (e.g. an ``np.int64``)."""

    def __init__(self, dtype: Any, raw: Any = None) -> None:
        if not isinstance(dtype, _DtypeStub) or not isinstance(raw, (bytes, bytearray)):
            raise _RefusedError("numpy scalar: expected (dtype, bytes)")
        self.dtype, self.raw = dtype, raw

    def build(self) -> Any:
        dt = self.dtype.build()
        if len(self.raw) != dt.itemsize:
            raise _RefusedError(f"numpy scalar: expected {dt.itemsize} bytes, got {len(self.raw)}")
        return np.frombuffer(self.raw, dtype=dt, count=1)[0]


def _reconstruct(subtype: Any, shape: Any = (0,), typecode: Any = b"b") -> _ArrayStub:
    if subtype is not _ArrayStub:
        raise _RefusedError("_reconstruct: only numpy.ndarray may be reconstructed")
    return _ArrayStub()


def _frombuffer(buf: Any, dtype: Any, shape: Any, order: Any = "C") -> _ArrayStub:
    stub = _ArrayStub()
    stub.set(shape, dtype, _text(order, "array order") == "F", bytes(buf))
    return stub


_LATIN1 = ("latin1", "latin-1")


def _latin1_encode(text: Any, encoding: Any = "latin1") -> bytes:
    # Python 3 pickles ``bytes`` at protocol 2 as ``_codecs.encode(str, "latin1")``
    if encoding not in _LATIN1 or not isinstance(text, str):
        raise _RefusedError(f"_codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


def _empty_bytes(*args: Any) -> bytes:
    # ... and an empty ``bytes`` as ``bytes()``; ``bytes(n)`` would allocate n bytes
    if args:
        raise _RefusedError("bytes() with arguments")
    return b""


def _bytearray(data: Any = b"", encoding: Any = None) -> bytearray:
    # ``bytearray(str, "latin-1")`` at protocol 2, ``bytearray(bytes)`` at 3 and 4
    if isinstance(data, str) and encoding in _LATIN1:
        return bytearray(data.encode("latin1"))
    if isinstance(data, (bytes, bytearray)) and encoding is None:
        return bytearray(data)
    raise _RefusedError(f"bytearray from {type(data).__name__}")


_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): _ArrayStub,
    ("numpy", "dtype"): _DtypeStub,
    ("_codecs", "encode"): _latin1_encode,
    **{(b, "bytes"): _empty_bytes for b in ("builtins", "__builtin__")},
    **{(b, "bytearray"): _bytearray for b in ("builtins", "__builtin__")},
    **{(f"numpy.{c}.multiarray", "_reconstruct"): _reconstruct for c in ("core", "_core")},
    **{(f"numpy.{c}.multiarray", "scalar"): _ScalarStub for c in ("core", "_core")},
    **{(f"numpy.{c}.numeric", "_frombuffer"): _frombuffer for c in ("core", "_core")},
}


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that builds only containers, strings, numbers and numpy arrays.

    ``find_class`` is the only way a pickle reaches code: every global outside
    :data:`_ALLOWED_GLOBALS` (``os.system``, ``builtins.eval``, ...) is refused, and the
    allowed numpy names resolve to checking stand-ins rather than numpy itself.
    """

    def find_class(self, module: str, name: str) -> Any:
        """Return the stand-in for an allow-listed global; refuse everything else."""
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise _RefusedError(
                f"global {module}.{name} is not allowed (only numpy arrays, numbers, strings "
                "and containers are)"
            ) from None


def _finish(obj: Any) -> Any:
    """Replace the stand-ins in an unpickled object by real numpy arrays and scalars."""
    if isinstance(obj, (_ArrayStub, _ScalarStub, _DtypeStub)):
        return obj.build()
    if isinstance(obj, dict):
        return {_finish(k): _finish(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finish(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_finish(v) for v in obj)
    return obj


def _read_pickle(path: Path) -> Any:
    if not path.is_file():
        raise ImageReadError(
            f"{path}: no such file (a CIFAR-10 python batches directory holds data_batch_1 "
            "... data_batch_5, test_batch and batches.meta)"
        )
    try:
        with path.open("rb") as fh:
            return _finish(_RestrictedUnpickler(fh, encoding="bytes").load())
    except _RefusedError as err:
        raise ImageReadError(f"{path}: refused to unpickle: {err}") from None
    except OSError as err:
        raise ImageReadError(f"{path}: cannot read ({err.strerror or err})") from None
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        KeyError,
        OverflowError,
        RecursionError,
        MemoryError,
    ) as err:
        raise ImageReadError(
            f"{path}: not a readable pickle, corrupt or truncated ({type(err).__name__}: {err})"
        ) from None


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


def load_cifar10(root: str | os.PathLike[str], split: Split | str) -> ImageDataset:
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

    Returns:
        An :class:`~spectral.datasets.ImageDataset` of ``(N, 3, 32, 32)`` images named
        ``"cifar10:<root> (<split>)"``.

    Raises:
        ImageReadError: a batch file or ``batches.meta`` is missing, corrupt, not a
            pickle, or refused by the restricted unpickler (the message names it).
        SpectralValueError: a file lacks ``data`` / ``labels`` / ``label_names``, its data
            is not a whole number of 3072-byte rows, the label count differs from the
            image count, or a label is out of range (the message names the file);
            ``root`` is not a directory; unknown ``split``.
        SpectralTypeError: ``data`` is not a uint8 array or ``labels`` are not integers.
    """
    sp = _as_split(split)
    root = Path(root)
    _require_dir(root, "a CIFAR-10 batches directory")
    classes = _cifar_label_names(root / "batches.meta")
    parts = [_cifar_batch(root / name, len(classes)) for name in _CIFAR_FILES[sp]]
    data = np.concatenate([d for d, _ in parts])
    labels = np.concatenate([lab for _, lab in parts])
    images = torch.from_numpy(data).reshape(-1, 3, 32, 32).to(torch.float32).div_(255.0)
    return ImageDataset(
        images, torch.from_numpy(labels), classes, name=f"cifar10:{root} ({sp.value})"
    )


# ---------------------------------------------------------------------------------------
# tensor files (.npz / .pt)
# ---------------------------------------------------------------------------------------

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
        for key in (img_key, lab_key, "classes"):
            if key in keys:
                try:
                    content[key] = archive[key]
                except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
                    raise ImageReadError(f"{path}: cannot read array {key!r} ({err})") from None
    return content, img_key, lab_key


def _read_torch(path: Path, sp: Split) -> tuple[dict[str, Any], str, str]:
    try:
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


def _tensor_images(a: np.ndarray, path: Path, key: str) -> torch.Tensor:
    if a.ndim == 3:
        a = a[:, None]  # (N, H, W) grey
    elif a.ndim == 4:
        if a.shape[1] not in (1, 3):
            if a.shape[3] not in (1, 3):
                raise SpectralValueError(
                    f"{path}: {key}: expected (N, C, H, W) or (N, H, W, C) with C in {{1, 3}}, "
                    f"got shape {a.shape}"
                )
            a = a.transpose(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
    else:
        raise SpectralValueError(
            f"{path}: {key}: expected 3 dims (N, H, W) or 4 dims (N, C, H, W) / (N, H, W, C), "
            f"got {a.ndim} dims, shape {a.shape}"
        )
    if a.size == 0:
        raise SpectralValueError(f"{path}: {key}: holds no images, shape {a.shape}")
    if a.dtype == np.uint8:
        return torch.from_numpy(np.ascontiguousarray(a)).to(torch.float32).div_(255.0)
    if a.dtype.kind != "f":
        raise SpectralTypeError(
            f"{path}: {key}: expected uint8 (0..255) or float (0..1) values, got dtype {a.dtype}"
        )
    finite = np.isfinite(a)
    if not finite.all():
        n_bad = int(a.size - np.count_nonzero(finite))
        raise SpectralValueError(
            f"{path}: {key}: expected finite values, got {n_bad} NaN or infinite value(s)"
        )
    lo, hi = float(a.min()), float(a.max())
    if lo < 0.0 or hi > 1.0:
        raise SpectralValueError(
            f"{path}: {key}: expected float values in [0, 1] (or uint8 0..255), got values in "
            f"[{lo:.6g}, {hi:.6g}]"
        )
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


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


def load_tensor_file(path: str | os.PathLike[str], split: Split | str) -> ImageDataset:
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

    Args:
        path: the ``.npz``, ``.pt`` or ``.pth`` file.
        split: ``Split.TRAIN`` / ``"train"`` or ``Split.TEST`` / ``"test"``.

    Returns:
        An :class:`~spectral.datasets.ImageDataset` named ``"tensors:<path> (<split>)"``.

    Raises:
        ImageReadError: the file is missing, corrupt or not readable as its suffix says.
        SpectralValueError: a key is missing (the message lists the keys present), wrong
            number of dims or channels, no images, NaN / infinite or out-of-range image
            values, negative labels, label count differing from image count, too few or
            duplicate class names, an unknown suffix or ``split``. Every message names
            the file.
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
    images = _tensor_images(_as_array(content[img_key], path, img_key), path, img_key)
    labels = _tensor_labels(_as_array(content[lab_key], path, lab_key), path, lab_key)
    if len(labels) != len(images):
        raise SpectralValueError(
            f"{path}: expected one label per image ({len(images)} in {img_key!r}), got "
            f"{len(labels)} in {lab_key!r}"
        )
    n_needed = int(labels.max()) + 1 if len(labels) else 0
    classes = _tensor_classes(content.get("classes"), n_needed, path)
    return ImageDataset(images, labels, classes, name=f"tensors:{path} ({sp.value})")
