"""Real-data loaders (image folders, CIFAR-10 batches, tensor files) and the built-in dataset.

Every test writes small real files into ``tmp_path`` and checks that values round-trip
exactly, that the layout conventions hold, and that each kind of broken input raises the
right typed error naming the offending file or folder.
"""

from __future__ import annotations

import os
import pickle
import random
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

import spectral.data as loaders
from spectral.data import (
    BUILTIN_CLASSES,
    BUILTIN_FILE,
    CIFAR10_CLASSES,
    PATCH_CLASSES,
    ImageDataset,
    Split,
    builtin_dataset,
    decode_jpeg_pack,
    load_dataset,
    make_builtin_subset,
    patch_dataset,
)
from spectral.errors import ImageReadError, SpectralError, SpectralTypeError, SpectralValueError

TRAIN, TEST = Split.TRAIN, Split.TEST


def check_dataset(ds: ImageDataset, n: int, c: int, h: int, w: int) -> None:
    assert isinstance(ds, ImageDataset)
    assert ds.images.shape == (n, c, h, w)
    assert ds.images.dtype == torch.float32
    assert ds.labels.shape == (n,)
    assert ds.labels.dtype == torch.int64
    assert bool(((ds.images >= 0) & (ds.images <= 1)).all())


def as_uint8(x: torch.Tensor) -> np.ndarray:
    """Undo the /255 scaling; exact for images that came from uint8."""
    y = (x * 255).round()
    assert torch.equal(y / 255, x), "values are not k/255"
    return y.to(torch.uint8).numpy()


def save_image(path: Path, a: np.ndarray, **kw: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a).save(path, **kw)
    return path


# ---------------------------------------------------------------------------------------
# image folders
# ---------------------------------------------------------------------------------------


def test_image_folder_round_trip(tmp_path: Path, rng: np.random.Generator) -> None:
    imgs = {n: rng.integers(0, 256, size=(6, 5, 3), dtype=np.uint8) for n in range(3)}
    save_image(tmp_path / "dog" / "b.png", imgs[0])
    save_image(tmp_path / "cat" / "b.png", imgs[1])
    save_image(tmp_path / "cat" / "a.PNG", imgs[2])  # extensions are case-insensitive
    # ignored: hidden files and folders, non-image files, stray files at the class level
    save_image(tmp_path / "cat" / ".hidden.png", imgs[0])
    save_image(tmp_path / ".thumbs" / "x.png", imgs[0])
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    (tmp_path / "README.txt").write_text("stray file")
    save_image(tmp_path / "stray.png", imgs[0])

    ds = loaders.load_image_folder(tmp_path, TRAIN)
    check_dataset(ds, 3, 3, 6, 5)
    assert ds.classes == ("cat", "dog")
    assert ds.labels.tolist() == [0, 0, 1]
    # sorted by file name within each sorted class: cat/a.PNG, cat/b.png, dog/b.png
    for i, k in enumerate([2, 1, 0]):
        np.testing.assert_array_equal(as_uint8(ds.images[i]), imgs[k].transpose(2, 0, 1))
    assert ds.name == f"imagefolder:{tmp_path} (train)"
    # without train/ and test/ sub-folders the whole folder is either split
    other = loaders.load_image_folder(tmp_path, TEST)
    assert torch.equal(other.images, ds.images) and torch.equal(other.labels, ds.labels)
    assert other.name.endswith("(test)")


def test_image_folder_jpeg_bmp_and_string_split(tmp_path: Path) -> None:
    flat = np.zeros((8, 8, 3), dtype=np.uint8)
    flat[...] = (200, 40, 90)
    save_image(tmp_path / "a" / "x.jpg", flat, quality=95)
    save_image(tmp_path / "b" / "y.BMP", flat)
    ds = loaders.load_image_folder(str(tmp_path), "test")
    check_dataset(ds, 2, 3, 8, 8)
    expected = torch.tensor([200, 40, 90], dtype=torch.float32)[:, None, None] / 255
    np.testing.assert_allclose(ds.images[0].numpy(), expected.expand(3, 8, 8), atol=4 / 255)
    np.testing.assert_array_equal(ds.images[1].numpy(), expected.expand(3, 8, 8).numpy())


def test_grey_replicated_when_folder_has_colour(tmp_path: Path, rng: np.random.Generator) -> None:
    grey = rng.integers(0, 256, size=(4, 7), dtype=np.uint8)
    rgb = rng.integers(0, 256, size=(4, 7, 3), dtype=np.uint8)
    save_image(tmp_path / "g" / "grey.png", grey)
    save_image(tmp_path / "r" / "rgb.png", rgb)
    ds = loaders.load_image_folder(tmp_path, TRAIN)
    check_dataset(ds, 2, 3, 4, 7)
    for c in range(3):
        np.testing.assert_array_equal(as_uint8(ds.images[0, c]), grey)
    np.testing.assert_array_equal(as_uint8(ds.images[1]), rgb.transpose(2, 0, 1))


def test_all_grey_keeps_one_channel(tmp_path: Path, rng: np.random.Generator) -> None:
    a, b = (rng.integers(0, 256, size=(3, 4), dtype=np.uint8) for _ in range(2))
    save_image(tmp_path / "x" / "1.png", a)
    save_image(tmp_path / "y" / "1.tif", b)
    ds = loaders.load_image_folder(tmp_path, TRAIN)
    check_dataset(ds, 2, 1, 3, 4)
    np.testing.assert_array_equal(as_uint8(ds.images[0, 0]), a)
    np.testing.assert_array_equal(as_uint8(ds.images[1, 0]), b)


def test_alpha_is_dropped(tmp_path: Path, rng: np.random.Generator) -> None:
    rgba = rng.integers(0, 256, size=(5, 5, 4), dtype=np.uint8)
    rgba[..., 3] = 0  # fully transparent: the stored colour must survive
    save_image(tmp_path / "a" / "t.png", rgba)
    ds = loaders.load_image_folder(tmp_path, TRAIN)
    check_dataset(ds, 1, 3, 5, 5)
    np.testing.assert_array_equal(as_uint8(ds.images[0]), rgba[..., :3].transpose(2, 0, 1))


def test_train_test_subfolders(tmp_path: Path) -> None:
    def img(v: int) -> np.ndarray:
        return np.full((4, 4, 3), v, dtype=np.uint8)

    save_image(tmp_path / "train" / "a" / "1.png", img(10))
    save_image(tmp_path / "train" / "b" / "1.png", img(20))
    save_image(tmp_path / "train" / "c" / "1.png", img(30))
    save_image(tmp_path / "test" / "a" / "1.png", img(110))
    save_image(tmp_path / "test" / "c" / "1.png", img(130))  # no "b" in test
    tr = loaders.load_image_folder(tmp_path, TRAIN)
    te = loaders.load_image_folder(tmp_path, TEST)
    assert tr.classes == te.classes == ("a", "b", "c")
    assert tr.labels.tolist() == [0, 1, 2]
    assert te.labels.tolist() == [0, 2]  # "c" keeps label 2 although test has no "b"
    assert as_uint8(tr.images)[:, 0, 0, 0].tolist() == [10, 20, 30]
    assert as_uint8(te.images)[:, 0, 0, 0].tolist() == [110, 130]


def test_only_train_folder_is_a_class(tmp_path: Path) -> None:
    # train/ without test/ is not the split layout: "train" is then a class name
    save_image(tmp_path / "train" / "1.png", np.zeros((2, 2), np.uint8))
    save_image(tmp_path / "other" / "1.png", np.zeros((2, 2), np.uint8))
    assert loaders.load_image_folder(tmp_path, TEST).classes == ("other", "train")


def test_image_folder_empty_root(tmp_path: Path) -> None:
    (tmp_path / "stray.png").write_bytes(b"")
    with pytest.raises(SpectralValueError, match="no class folders") as info:
        loaders.load_image_folder(tmp_path, TRAIN)
    assert str(tmp_path) in str(info.value)


def test_image_folder_empty_split_folder(tmp_path: Path) -> None:
    save_image(tmp_path / "train" / "a" / "1.png", np.zeros((2, 2), np.uint8))
    (tmp_path / "test").mkdir()
    with pytest.raises(SpectralValueError, match="no class folders") as info:
        loaders.load_image_folder(tmp_path, TEST)
    assert str(tmp_path / "test") in str(info.value)


def test_image_folder_class_without_images(tmp_path: Path) -> None:
    save_image(tmp_path / "a" / "1.png", np.zeros((2, 2), np.uint8))
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images here")
    with pytest.raises(SpectralValueError, match="holds no images") as info:
        loaders.load_image_folder(tmp_path, TRAIN)
    assert str(tmp_path / "empty") in str(info.value)


def test_image_folder_corrupt_image(tmp_path: Path) -> None:
    save_image(tmp_path / "a" / "1.png", np.zeros((2, 2), np.uint8))
    bad = tmp_path / "a" / "2.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n but then garbage")
    with pytest.raises(ImageReadError) as info:
        loaders.load_image_folder(tmp_path, TRAIN)
    assert str(bad) in str(info.value)


def test_image_folder_mixed_sizes(tmp_path: Path) -> None:
    first = save_image(tmp_path / "a" / "1.png", np.zeros((4, 5, 3), np.uint8))
    odd = save_image(tmp_path / "b" / "1.png", np.zeros((4, 6, 3), np.uint8))
    with pytest.raises(SpectralValueError) as info:
        loaders.load_image_folder(tmp_path, TRAIN)
    msg = str(info.value)
    assert msg.startswith(str(odd)) and str(first) in msg
    assert "expected 4x5" in msg and "got 4x6" in msg


@pytest.mark.parametrize("make", ["missing", "file"])
def test_image_folder_root_not_a_directory(tmp_path: Path, make: str) -> None:
    root = tmp_path / "data"
    if make == "file":
        root.write_text("x")
    with pytest.raises(SpectralValueError) as info:
        loaders.load_image_folder(root, TRAIN)
    assert str(root) in str(info.value)


def test_bad_split_is_rejected(tmp_path: Path) -> None:
    save_image(tmp_path / "a" / "1.png", np.zeros((2, 2), np.uint8))
    for fn in (loaders.load_image_folder, loaders.load_cifar10, loaders.load_tensor_file):
        with pytest.raises(SpectralValueError, match="split"):
            fn(tmp_path, "validation")


# ---------------------------------------------------------------------------------------
# CIFAR-10 python batches
# ---------------------------------------------------------------------------------------

CIFAR_NAMES = [
    b"airplane",
    b"automobile",
    b"bird",
    b"cat",
    b"deer",
    b"dog",
    b"frog",
    b"horse",
    b"ship",
    b"truck",
]
_RECONSTRUCT = np.zeros(1).__reduce__()[0]  # numpy's ndarray reconstructor, any version


class Py2Dtype:
    """Pickles like a numpy dtype pickled by Python 2 (byte strings)."""

    def __init__(self, dt: np.dtype) -> None:
        self.dt = dt

    def __reduce__(self) -> tuple[Any, ...]:
        order = self.dt.byteorder.encode()
        return (np.dtype, (self.dt.str[1:].encode(), 0, 1), (3, order, None, None, None, -1, -1, 0))


class Py2Array:
    """Pickles like a numpy array pickled by Python 2 (as in the official CIFAR files)."""

    def __init__(self, a: np.ndarray) -> None:
        self.a = a

    def __reduce__(self) -> tuple[Any, ...]:
        state = (1, self.a.shape, Py2Dtype(self.a.dtype), False, self.a.tobytes())
        return (_RECONSTRUCT, (np.ndarray, (0,), b"b"), state)


def py2_pickle(obj: Any) -> bytes:
    """Protocol 2 with numpy 1.x module names, byte-string keys and dtype codes."""
    return pickle.dumps(obj, protocol=2).replace(
        b"numpy._core.multiarray", b"numpy.core.multiarray"
    )


def write_batch(path: Path, data: Any, labels: Any, **extra: Any) -> None:
    batch = {b"batch_label": b"a batch", b"labels": labels, b"data": data, **extra}
    path.write_bytes(py2_pickle(batch))


@pytest.fixture
def cifar(tmp_path: Path, rng: np.random.Generator) -> tuple[Path, dict[str, Any]]:
    """A CIFAR-10 python directory: 5 train batches of 4 images, a test batch of 3."""
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    meta = {b"num_cases_per_batch": 4, b"label_names": CIFAR_NAMES, b"num_vis": 3072}
    (root / "batches.meta").write_bytes(py2_pickle(meta))
    truth: dict[str, Any] = {}
    for name, n in [*((f"data_batch_{i}", 4) for i in range(1, 6)), ("test_batch", 3)]:
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n).tolist()
        write_batch(root / name, Py2Array(data), labels, filenames=[b"x.png"] * n)
        truth[name] = (data, labels)
    return root, truth


def test_py2_style_pickle_is_what_numpy_reads() -> None:
    # the emulation of the official files is faithful: numpy itself reads it back
    a = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072)
    raw = py2_pickle({b"data": Py2Array(a)})
    assert b"numpy.core.multiarray\n_reconstruct" in raw and b"numpy._core" not in raw
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        back = pickle.loads(raw, encoding="bytes")  # trusted: made just above
    np.testing.assert_array_equal(back[b"data"], a)


def test_cifar_train_round_trip(cifar: tuple[Path, dict[str, Any]]) -> None:
    root, truth = cifar
    ds = loaders.load_cifar10(root, TRAIN)
    check_dataset(ds, 20, 3, 32, 32)
    data = np.concatenate([truth[f"data_batch_{i}"][0] for i in range(1, 6)])
    labels = [lab for i in range(1, 6) for lab in truth[f"data_batch_{i}"][1]]
    np.testing.assert_array_equal(as_uint8(ds.images), data.reshape(20, 3, 32, 32))
    assert ds.labels.tolist() == labels
    assert ds.classes == tuple(n.decode() for n in CIFAR_NAMES)
    assert ds.name == f"cifar10:{root} (train)"


def test_cifar_test_split(cifar: tuple[Path, dict[str, Any]]) -> None:
    root, truth = cifar
    ds = loaders.load_cifar10(str(root), "test")
    check_dataset(ds, 3, 3, 32, 32)
    np.testing.assert_array_equal(as_uint8(ds.images).reshape(3, 3072), truth["test_batch"][0])
    assert ds.labels.tolist() == truth["test_batch"][1]
    assert ds.name.endswith("(test)")


def test_cifar_row_major_channel_layout(tmp_path: Path) -> None:
    # one bright value at a known position of each 3072-byte row lands at [c, y, x]
    root = tmp_path / "c"
    root.mkdir()
    (root / "batches.meta").write_bytes(py2_pickle({b"label_names": CIFAR_NAMES}))
    spots = [(0, 0, 0), (1, 5, 7), (2, 31, 30)]
    data = np.zeros((3, 3072), dtype=np.uint8)
    for k, (c, y, x) in enumerate(spots):
        data[k, c * 1024 + y * 32 + x] = 255
    write_batch(root / "test_batch", Py2Array(data), [0, 1, 2])
    ds = loaders.load_cifar10(root, TEST)
    for k, (c, y, x) in enumerate(spots):
        assert ds.images[k, c, y, x].item() == 1.0
        assert ds.images[k].sum().item() == 1.0


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_cifar_modern_pickles(tmp_path: Path, protocol: int) -> None:
    # batches written by Python 3 (str or bytes keys, numpy ints as labels) also load
    root = tmp_path / "c"
    root.mkdir()
    meta = {"label_names": ["a", "b", "c"]}
    (root / "batches.meta").write_bytes(pickle.dumps(meta, protocol=protocol))
    data = np.arange(2 * 3072).astype(np.uint8).reshape(2, 3072)
    batch = {b"data": data, "labels": [np.int64(2), 0]}
    (root / "test_batch").write_bytes(pickle.dumps(batch, protocol=protocol))
    ds = loaders.load_cifar10(root, TEST)
    assert ds.classes == ("a", "b", "c")
    assert ds.labels.tolist() == [2, 0]
    np.testing.assert_array_equal(as_uint8(ds.images).reshape(2, 3072), data)


def test_cifar_missing_batch(cifar: tuple[Path, dict[str, Any]]) -> None:
    root, _ = cifar
    (root / "data_batch_3").unlink()
    with pytest.raises(ImageReadError, match="no such file") as info:
        loaders.load_cifar10(root, TRAIN)
    assert str(root / "data_batch_3") in str(info.value)
    loaders.load_cifar10(root, TEST)  # the test split does not need it


def test_cifar_missing_meta(cifar: tuple[Path, dict[str, Any]]) -> None:
    root, _ = cifar
    (root / "batches.meta").unlink()
    with pytest.raises(ImageReadError) as info:
        loaders.load_cifar10(root, TEST)
    assert str(root / "batches.meta") in str(info.value)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_cifar_corrupt_batch(cifar: tuple[Path, dict[str, Any]], damage: str) -> None:
    root, _ = cifar
    path = root / "data_batch_2"
    raw = path.read_bytes()
    path.write_bytes(
        {"garbage": b"\x00 not a pickle", "truncated": raw[:-100], "empty": b""}[damage]
    )
    with pytest.raises(ImageReadError) as info:
        loaders.load_cifar10(root, TRAIN)
    assert str(path) in str(info.value)


def test_cifar_meta_without_label_names(cifar: tuple[Path, dict[str, Any]]) -> None:
    root, _ = cifar
    (root / "batches.meta").write_bytes(py2_pickle({b"num_vis": 3072}))
    with pytest.raises(SpectralValueError, match="label_names") as info:
        loaders.load_cifar10(root, TEST)
    assert str(root / "batches.meta") in str(info.value) and "num_vis" in str(info.value)


@pytest.mark.parametrize(
    ("data", "labels", "error", "words"),
    [
        (np.zeros((4, 3000), np.uint8), [0] * 4, SpectralValueError, "multiple of 3072"),
        (np.zeros(3072 * 4 + 1, np.uint8), [0] * 4, SpectralValueError, "multiple of 3072"),
        (np.zeros((4, 3072), np.uint8), [0] * 3, SpectralValueError, "one label per image"),
        (np.zeros((4, 3072), np.uint8), [0, 1, 2, 10], SpectralValueError, "[0, 10)"),
        (np.zeros((4, 3072), np.uint8), [0, -1, 2, 3], SpectralValueError, "[0, 10)"),
        (np.zeros((4, 3072), np.float32), [0] * 4, SpectralTypeError, "uint8"),
        (np.zeros((4, 3072), np.uint8), [0.5] * 4, SpectralTypeError, "integers"),
    ],
    ids=[
        "row-length",
        "flat-length",
        "label-count",
        "label-high",
        "label-negative",
        "dtype",
        "float-labels",
    ],
)
def test_cifar_bad_batch(
    cifar: tuple[Path, dict[str, Any]],
    data: np.ndarray,
    labels: list[Any],
    error: type[Exception],
    words: str,
) -> None:
    root, _ = cifar
    path = root / "data_batch_4"
    write_batch(path, Py2Array(data), labels)
    with pytest.raises(error) as info:
        loaders.load_cifar10(root, TRAIN)
    msg = str(info.value)
    assert str(path) in msg and words in msg


def test_cifar_flat_data_is_accepted(cifar: tuple[Path, dict[str, Any]]) -> None:
    root, truth = cifar
    data, labels = truth["test_batch"]
    write_batch(root / "test_batch", Py2Array(data.reshape(-1)), labels)
    ds = loaders.load_cifar10(root, TEST)
    np.testing.assert_array_equal(as_uint8(ds.images).reshape(3, 3072), data)


def test_cifar_batch_missing_key(cifar: tuple[Path, dict[str, Any]]) -> None:
    root, _ = cifar
    path = root / "test_batch"
    path.write_bytes(py2_pickle({b"data": Py2Array(np.zeros((1, 3072), np.uint8))}))
    with pytest.raises(SpectralValueError, match="labels") as info:
        loaders.load_cifar10(root, TEST)
    assert str(path) in str(info.value) and "'data'" in str(info.value)


class Payload:
    """A pickle that calls ``func(*args)`` when loaded."""

    def __init__(self, func: Any, *args: Any) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.func, self.args)


def test_restricted_unpickler_refuses_os_system(cifar: tuple[Path, dict[str, Any]]) -> None:
    root, _ = cifar
    path = root / "test_batch"
    marker = root / "pwned"
    path.write_bytes(pickle.dumps({b"data": Payload(os.system, f"touch {marker}")}, protocol=2))
    with pytest.raises(ImageReadError, match=r"refused.*system") as info:
        loaders.load_cifar10(root, TEST)
    assert str(path) in str(info.value)
    assert not marker.exists()


def test_restricted_unpickler_payload_is_live_but_not_run(tmp_path: Path) -> None:
    # a harmless payload proves the file really runs code under plain pickle ...
    made = tmp_path / "made-by-pickle"
    raw = pickle.dumps(Payload(os.mkdir, str(made)), protocol=2)
    pickle.loads(raw)  # trusted here: it only creates a folder in tmp_path
    assert made.is_dir()
    made.rmdir()
    # ... and that the restricted unpickler refuses the very same bytes
    root = tmp_path / "c"
    root.mkdir()
    (root / "batches.meta").write_bytes(raw)
    with pytest.raises(ImageReadError, match="refused") as info:
        loaders.load_cifar10(root, TEST)
    assert str(root / "batches.meta") in str(info.value)
    assert not made.exists()


@pytest.mark.parametrize(
    "evil",
    [
        Payload(eval, "1 + 1"),
        Payload(__import__, "os"),
        Payload(np.dtype, "O"),  # object dtype: would unpickle arbitrary objects
        Payload(_RECONSTRUCT, list, (0,), b"b"),  # only ndarray may be reconstructed
    ],
    ids=["eval", "import", "object-dtype", "reconstruct-other-type"],
)
def test_restricted_unpickler_refuses_other_payloads(tmp_path: Path, evil: Payload) -> None:
    path = tmp_path / "batches.meta"
    path.write_bytes(pickle.dumps({b"label_names": evil}, protocol=2))
    with pytest.raises(ImageReadError, match="refused") as info:
        loaders.load_cifar10(tmp_path, TEST)
    assert str(path) in str(info.value)


class StatefulPayload:
    """``func(*args)`` followed by ``__setstate__(state)`` when loaded."""

    def __init__(self, func: Any, args: tuple[Any, ...], state: Any) -> None:
        self.reduced = (func, args, state)

    def __reduce__(self) -> tuple[Any, ...]:
        return self.reduced


class BadStateDtype:
    """A uint8 dtype whose pickled state has the wrong layout (as after a one-byte flip)."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (np.dtype, (b"u1", 0, 1), (3, b"|", None, -1, -1, 0))


class BadStateArray:
    def __reduce__(self) -> tuple[Any, ...]:
        state = (1, (2, 3072), BadStateDtype(), False, bytes(2 * 3072))
        return (_RECONSTRUCT, (np.ndarray, (0,), b"b"), state)


def test_restricted_unpickler_checks_dtype_state(cifar: tuple[Path, dict[str, Any]]) -> None:
    # numpy's own dtype.__setstate__ accepts this state and the interpreter then crashes
    # (segfault, numpy 2.4); the loader's stand-ins refuse it instead
    root, _ = cifar
    path = root / "test_batch"
    path.write_bytes(py2_pickle({b"data": BadStateArray(), b"labels": [0, 1]}))
    with pytest.raises(ImageReadError, match="dtype state") as info:
        loaders.load_cifar10(root, TEST)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("state", "words"),
    [
        ((1, (2, 3072), Py2Dtype(np.dtype(np.uint8)), False, bytes(100)), "expected 6144 bytes"),
        ((1, (2, -1), Py2Dtype(np.dtype(np.uint8)), False, b""), "shape"),
        ((1, (2, 3072), Py2Dtype(np.dtype(np.uint8)), False, [1, 2]), "expected bytes"),
    ],
    ids=["short-data", "negative-shape", "object-data"],
)
def test_restricted_unpickler_checks_array_state(
    cifar: tuple[Path, dict[str, Any]], state: tuple[Any, ...], words: str
) -> None:
    root, _ = cifar
    path = root / "test_batch"
    raw = pickle.dumps(
        {b"data": StatefulPayload(_RECONSTRUCT, (np.ndarray, (0,), b"b"), state)}, protocol=2
    )
    path.write_bytes(raw)
    with pytest.raises(ImageReadError, match=words) as info:
        loaders.load_cifar10(root, TEST)
    assert str(path) in str(info.value)


def test_restricted_unpickler_survives_corrupted_batches(
    cifar: tuple[Path, dict[str, Any]],
) -> None:
    # mutated copies of a real batch either load or raise a typed error: never another
    # exception, and never a crash inside numpy's reconstruction code
    root, _ = cifar
    path = root / "test_batch"
    good = path.read_bytes()
    rnd = random.Random(0)
    outcomes = {"loaded": 0, "refused": 0}
    for _ in range(300):
        raw = bytearray(good)
        for _ in range(rnd.randint(1, 4)):
            raw[rnd.randrange(len(raw))] = rnd.randrange(256)
        path.write_bytes(bytes(raw))
        try:
            loaders.load_cifar10(root, TEST)
            outcomes["loaded"] += 1
        except SpectralError:
            outcomes["refused"] += 1
    assert outcomes["refused"] > 0 and outcomes["loaded"] > 0  # both paths were exercised


# ---------------------------------------------------------------------------------------
# tensor files
# ---------------------------------------------------------------------------------------


def test_npz_float_nchw_with_classes(tmp_path: Path, rng: np.random.Generator) -> None:
    images = rng.random((5, 3, 4, 6)).astype(np.float64)
    images[0, 0, 0, 0], images[0, 0, 0, 1] = 0.0, 1.0
    labels = np.array([0, 2, 1, 2, 0], dtype=np.int32)
    path = tmp_path / "d.npz"
    np.savez(path, images=images, labels=labels, classes=np.array(["x", "y", "z"]))
    ds = loaders.load_tensor_file(path, TRAIN)
    check_dataset(ds, 5, 3, 4, 6)
    np.testing.assert_array_equal(ds.images.numpy(), images.astype(np.float32))
    assert ds.labels.tolist() == labels.tolist()
    assert ds.classes == ("x", "y", "z")
    assert ds.name == f"tensors:{path} (train)"


def test_npz_uint8_nhwc_is_scaled_and_transposed(tmp_path: Path, rng: np.random.Generator) -> None:
    images = rng.integers(0, 256, size=(4, 5, 7, 3), dtype=np.uint8)
    images[0, 0, 0] = (0, 128, 255)
    path = tmp_path / "d.npz"
    np.savez(path, images=images, labels=np.array([3, 0, 1, 1]))
    ds = loaders.load_tensor_file(path, TEST)
    check_dataset(ds, 4, 3, 5, 7)
    np.testing.assert_array_equal(as_uint8(ds.images), images.transpose(0, 3, 1, 2))
    assert ds.images[0, :, 0, 0].tolist() == [0.0, np.float32(128) / np.float32(255), 1.0]
    assert ds.classes == ("0", "1", "2", "3")  # default names up to the largest label


def test_npz_grey_nhw(tmp_path: Path, rng: np.random.Generator) -> None:
    images = rng.integers(0, 256, size=(3, 4, 5), dtype=np.uint8)
    np.savez(tmp_path / "g.npz", images=images, labels=np.array([0, 0, 1]))
    ds = loaders.load_tensor_file(tmp_path / "g.npz", TRAIN)
    check_dataset(ds, 3, 1, 4, 5)
    np.testing.assert_array_equal(as_uint8(ds.images[:, 0]), images)


def test_npz_nhwc_grey_channel_last(tmp_path: Path) -> None:
    images = np.zeros((2, 4, 5, 1), dtype=np.uint8)
    images[1, 2, 3, 0] = 255
    np.savez(tmp_path / "g.npz", images=images, labels=np.array([0, 1]))
    ds = loaders.load_tensor_file(tmp_path / "g.npz", TRAIN)
    check_dataset(ds, 2, 1, 4, 5)
    assert ds.images[1, 0, 2, 3].item() == 1.0 and ds.images.sum().item() == 1.0


def test_pt_file_with_split_keys(tmp_path: Path, gen: torch.Generator) -> None:
    content = {
        "train_images": torch.rand(4, 3, 8, 8, generator=gen),
        "train_labels": torch.tensor([0, 1, 1, 0]),
        "test_images": torch.rand(2, 3, 8, 8, generator=gen),
        "test_labels": torch.tensor([1, 0]),
        "images": torch.zeros(1, 3, 8, 8),  # ignored when per-split keys exist
        "labels": torch.zeros(1, dtype=torch.long),
        "classes": ["neg", "pos"],
    }
    path = tmp_path / "d.pt"
    torch.save(content, path)
    tr = loaders.load_tensor_file(path, TRAIN)
    te = loaders.load_tensor_file(path, TEST)
    check_dataset(tr, 4, 3, 8, 8)
    check_dataset(te, 2, 3, 8, 8)
    assert torch.equal(tr.images, content["train_images"])
    assert torch.equal(te.images, content["test_images"])
    assert te.labels.tolist() == [1, 0] and te.classes == ("neg", "pos")
    assert te.name == f"tensors:{path} (test)"


def test_pth_uint8_tensor(tmp_path: Path) -> None:
    images = torch.arange(2 * 3 * 4 * 4, dtype=torch.uint8).reshape(2, 4, 4, 3)
    torch.save(
        {"images": images, "labels": torch.tensor([1, 0], dtype=torch.int16)}, tmp_path / "x.PTH"
    )
    ds = loaders.load_tensor_file(tmp_path / "x.PTH", TRAIN)
    check_dataset(ds, 2, 3, 4, 4)
    np.testing.assert_array_equal(as_uint8(ds.images), images.permute(0, 3, 1, 2).numpy())
    assert ds.labels.dtype == torch.int64 and ds.classes == ("0", "1")


def npz(tmp_path: Path, **arrays: Any) -> Path:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return path


IMG = np.linspace(0, 1, 3 * 3 * 4 * 4, dtype=np.float32).reshape(3, 3, 4, 4)
LAB = np.array([0, 1, 2])


@pytest.mark.parametrize(
    ("arrays", "error", "words"),
    [
        ({"pictures": IMG, "labels": LAB}, SpectralValueError, "'pictures'"),  # lists keys
        ({"images": IMG, "targets": LAB}, SpectralValueError, "'targets'"),
        ({"train_images": IMG, "train_labels": LAB}, SpectralValueError, "test_images"),
        ({"images": IMG, "labels": LAB[:2]}, SpectralValueError, "one label per image"),
        ({"images": IMG, "labels": LAB.astype(np.float32)}, SpectralTypeError, "integer"),
        ({"images": IMG, "labels": np.array([0, np.nan, 1])}, SpectralTypeError, "NaN"),
        ({"images": IMG, "labels": np.array([0, -1, 1])}, SpectralValueError, ">= 0"),
        ({"images": IMG, "labels": LAB[:, None]}, SpectralValueError, "(N,)"),
        ({"images": np.full_like(IMG, np.nan), "labels": LAB}, SpectralValueError, "NaN"),
        ({"images": IMG - 0.5, "labels": LAB}, SpectralValueError, "[-0.5, 0.5]"),
        ({"images": IMG + 2, "labels": LAB}, SpectralValueError, "[2, 3]"),
        ({"images": IMG.astype(np.int32), "labels": LAB}, SpectralTypeError, "int32"),
        ({"images": IMG[:, 0, 0], "labels": LAB}, SpectralValueError, "2 dims"),
        ({"images": IMG[..., None], "labels": LAB}, SpectralValueError, "5 dims"),
        ({"images": np.zeros((3, 2, 4, 5)), "labels": LAB}, SpectralValueError, "C in {1, 3}"),
        ({"images": IMG[:0], "labels": LAB[:0]}, SpectralValueError, "no images"),
        (
            {"images": IMG, "labels": LAB, "classes": np.array(["a", "b"])},
            SpectralValueError,
            "at least 3",
        ),
        (
            {"images": IMG, "labels": LAB, "classes": np.array(["a", "b", "a"])},
            SpectralValueError,
            "duplicates",
        ),
        (
            {"images": IMG, "labels": LAB, "classes": np.array([1, 2, 3])},
            SpectralTypeError,
            "strings",
        ),
    ],
    ids=[
        "no-images",
        "no-labels",
        "no-split-pair",
        "length",
        "float-labels",
        "nan-labels",
        "negative-labels",
        "2d-labels",
        "nan-images",
        "below-0",
        "above-1",
        "int-images",
        "2-dims",
        "5-dims",
        "2-channels",
        "empty",
        "few-classes",
        "dup-classes",
        "int-classes",
    ],
)
def test_npz_errors(
    tmp_path: Path, arrays: dict[str, Any], error: type[Exception], words: str
) -> None:
    path = npz(tmp_path, **arrays)
    with pytest.raises(error) as info:
        loaders.load_tensor_file(path, TEST)
    msg = str(info.value)
    assert str(path) in msg and words in msg, msg


def test_missing_key_message_lists_keys(tmp_path: Path) -> None:
    path = npz(tmp_path, pictures=IMG, targets=LAB)
    with pytest.raises(SpectralValueError) as info:
        loaders.load_tensor_file(path, TRAIN)
    msg = str(info.value)
    assert "['images', 'labels']" in msg and "['pictures', 'targets']" in msg


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("garbage.npz", b"certainly not a zip archive"),
        ("garbage.pt", b"certainly not a torch file"),
        ("empty.pt", b""),
        ("truncated.npz", None),
        ("truncated.pt", None),
    ],
)
def test_unreadable_tensor_files(tmp_path: Path, name: str, content: bytes | None) -> None:
    path = tmp_path / name
    if content is None:  # the first half of a valid file
        if name.endswith(".npz"):
            np.savez(path, images=IMG, labels=LAB)
        else:
            torch.save({"images": torch.from_numpy(IMG), "labels": torch.from_numpy(LAB)}, path)
        content = path.read_bytes()[: path.stat().st_size // 2]
    path.write_bytes(content)
    with pytest.raises(ImageReadError) as info:
        loaders.load_tensor_file(path, TRAIN)
    assert str(path) in str(info.value)


def test_npz_object_array_is_not_unpickled(tmp_path: Path) -> None:
    path = tmp_path / "obj.npz"
    np.savez(path, images=IMG, labels=np.array([0, "a", None], dtype=object))
    with pytest.raises(ImageReadError, match="labels") as info:
        loaders.load_tensor_file(path, TRAIN)
    assert str(path) in str(info.value)


def test_pt_payload_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "made-by-torch-load"
    path = tmp_path / "evil.pt"
    torch.save({"images": Payload(os.mkdir, str(marker)), "labels": [0]}, path)
    with pytest.raises(ImageReadError, match="weights_only") as info:
        loaders.load_tensor_file(path, TRAIN)
    assert str(path) in str(info.value) and "mkdir" in str(info.value)
    assert not marker.exists()


def test_pt_not_a_dict(tmp_path: Path) -> None:
    path = tmp_path / "pair.pt"
    torch.save([torch.from_numpy(IMG), torch.from_numpy(LAB)], path)
    with pytest.raises(SpectralTypeError, match="dict") as info:
        loaders.load_tensor_file(path, TRAIN)
    assert str(path) in str(info.value)


def test_npy_renamed_to_npz(tmp_path: Path) -> None:
    path = tmp_path / "single.npz"
    with path.open("wb") as fh:
        np.save(fh, IMG)
    with pytest.raises(SpectralValueError, match="single") as info:
        loaders.load_tensor_file(path, TRAIN)
    assert str(path) in str(info.value)


def test_tensor_file_missing_or_wrong_suffix(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError) as info:
        loaders.load_tensor_file(tmp_path / "nope.npz", TRAIN)
    assert "nope.npz" in str(info.value)
    txt = tmp_path / "d.txt"
    txt.write_text("x")
    with pytest.raises(SpectralValueError, match=r"\.txt") as info:
        loaders.load_tensor_file(txt, TRAIN)
    assert str(txt) in str(info.value)


# ---------------------------------------------------------------------------------------
# load_dataset dispatch
# ---------------------------------------------------------------------------------------


def test_dispatch_cifar(cifar: tuple[Path, dict[str, Any]]) -> None:
    root, truth = cifar
    ds = load_dataset(root, "test")
    assert ds.name == f"cifar10:{root} (test)"
    assert ds.labels.tolist() == truth["test_batch"][1]


def test_dispatch_image_folder(tmp_path: Path) -> None:
    save_image(tmp_path / "a" / "1.png", np.zeros((2, 2), np.uint8))
    ds = load_dataset(str(tmp_path), Split.TRAIN)
    assert ds.name == f"imagefolder:{tmp_path} (train)" and ds.classes == ("a",)


@pytest.mark.parametrize("suffix", [".npz", ".pt", ".pth"])
def test_dispatch_tensor_files(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"d{suffix}"
    if suffix == ".npz":
        np.savez(path, images=IMG, labels=LAB)
    else:
        torch.save({"images": torch.from_numpy(IMG), "labels": torch.from_numpy(LAB)}, path)
    ds = load_dataset(path, "train")
    assert ds.name == f"tensors:{path} (train)" and len(ds) == 3


def test_dispatch_errors(tmp_path: Path) -> None:
    with pytest.raises(SpectralValueError, match="no such file") as info:
        load_dataset(tmp_path / "missing")
    assert "missing" in str(info.value)
    odd = tmp_path / "data.csv"
    odd.write_text("1,2")
    with pytest.raises(SpectralValueError, match=r"\.csv") as info:
        load_dataset(odd)
    assert str(odd) in str(info.value)
    with pytest.raises(SpectralValueError, match="split"):
        load_dataset(tmp_path, "validation")


def test_dispatch_builtin(builtin_test: ImageDataset, patches_test: ImageDataset) -> None:
    ds = load_dataset("builtin", "test")
    assert torch.equal(ds.images, builtin_test.images) and ds.classes == BUILTIN_CLASSES
    ds = load_dataset("patches", "test", seed=0)
    assert torch.equal(ds.images, patches_test.images) and ds.classes == PATCH_CLASSES


# ---------------------------------------------------------------------------------------
# the built-in dataset: a CIFAR-10 test subset shipped as JPEG bytes
# ---------------------------------------------------------------------------------------

SHARED_CIFAR = Path(__file__).resolve().parents[3] / "shared" / "data" / "cifar10"
#: sha256 of the decoded built-in pixels, uint8 (2000, 3, 32, 32) in C order
BUILTIN_PIXELS_SHA256 = "227a7cdd023f47a52ada9a49f49700522fcc6b4f00928c54caf4312687dd1bbe"


@pytest.fixture(scope="module")
def builtin_test() -> ImageDataset:
    return builtin_dataset("test")


def test_builtin_is_a_balanced_cifar10_test_subset(builtin_test: ImageDataset) -> None:
    check_dataset(builtin_test, 2000, 3, 32, 32)
    assert builtin_test.classes == CIFAR10_CLASSES == BUILTIN_CLASSES
    assert CIFAR10_CLASSES[0] == "airplane" and CIFAR10_CLASSES[9] == "truck"
    assert torch.bincount(builtin_test.labels).tolist() == [200] * 10
    # labels come in class blocks, in CIFAR-10's label order
    assert torch.equal(builtin_test.labels, torch.arange(10).repeat_interleave(200))


def test_builtin_pixels_decode_exactly(builtin_test: ImageDataset) -> None:
    import hashlib

    pixels, labels, names = decode_jpeg_pack(BUILTIN_FILE)
    assert pixels.dtype == np.uint8 and pixels.shape == (2000, 3, 32, 32)
    assert hashlib.sha256(pixels.tobytes()).hexdigest() == BUILTIN_PIXELS_SHA256
    # the float images are exactly the uint8 pixels / 255
    assert np.array_equal(as_uint8(builtin_test.images), pixels)
    assert names[0] == "airplane/0000.jpg" and names[-1] == "truck/0199.jpg"
    assert [CIFAR10_CLASSES[int(k)] for k in labels] == [n.split("/")[0] for n in names]


def test_builtin_is_cached_but_not_shared(builtin_test: ImageDataset) -> None:
    again = builtin_dataset()
    again.images.zero_()  # a caller writing into its copy does not change the next load
    assert torch.equal(builtin_dataset("test").images, builtin_test.images)


def test_builtin_has_no_training_split() -> None:
    with pytest.raises(SpectralValueError, match="--data") as info:
        builtin_dataset("train")
    assert "not the training set" in str(info.value)
    with pytest.raises(SpectralValueError, match="training set"):
        load_dataset("builtin", "train")
    with pytest.raises(SpectralValueError, match="split"):
        builtin_dataset("validation")


def _jpeg_folder(root: Path, per_class: int) -> None:
    rng = np.random.default_rng(0)
    for name in CIFAR10_CLASSES:
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            a = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
            Image.fromarray(a).save(root / name / f"{i:04d}.jpg", quality=75)


def test_make_builtin_subset_keeps_the_jpeg_bytes(tmp_path: Path) -> None:
    _jpeg_folder(tmp_path / "test", 3)
    (tmp_path / "test" / "cat" / "notes.txt").write_text("ignored")
    out = make_builtin_subset(tmp_path / "test", tmp_path / "pack.npz", per_class=2)
    pixels, labels, names = decode_jpeg_pack(out)
    assert labels.tolist() == [c for c in range(10) for _ in range(2)]
    assert names[:3] == ["airplane/0000.jpg", "airplane/0001.jpg", "automobile/0000.jpg"]
    folder = loaders.load_image_folder(tmp_path / "test", "test")
    keep = [i for i in range(30) if i % 3 != 2]  # the first two files of each class
    assert np.array_equal(pixels, as_uint8(folder.images[keep]))
    with np.load(out) as z:  # the stored bytes are the files' bytes, unchanged
        blob = z["jpeg"][z["offsets"][3] : z["offsets"][4]].tobytes()
    assert blob == (tmp_path / "test" / "automobile" / "0001.jpg").read_bytes()
    assert not list(tmp_path.glob("*.tmp*"))


def test_make_builtin_subset_refuses_short_or_missing_classes(tmp_path: Path) -> None:
    _jpeg_folder(tmp_path / "t", 2)
    with pytest.raises(SpectralValueError, match=r"at least 3 \.jpg files, found 2"):
        make_builtin_subset(tmp_path / "t", tmp_path / "p.npz", per_class=3)
    with pytest.raises(SpectralValueError, match="found 0"):
        make_builtin_subset(tmp_path / "missing", tmp_path / "p.npz")
    with pytest.raises(SpectralValueError, match="per_class"):
        make_builtin_subset(tmp_path / "t", tmp_path / "p.npz", per_class=0)
    assert not (tmp_path / "p.npz").exists()
    with pytest.raises(SpectralValueError, match="not a built-in JPEG pack"):
        decode_jpeg_pack(tmp_path / "p.npz")


@pytest.mark.skipif(not SHARED_CIFAR.is_dir(), reason="shared/data/cifar10 is not present")
def test_shared_cifar10_folder_loads_in_label_order(builtin_test: ImageDataset) -> None:
    ds = load_dataset(SHARED_CIFAR, "test")
    check_dataset(ds, 10000, 3, 32, 32)
    assert ds.classes == CIFAR10_CLASSES
    assert torch.bincount(ds.labels).tolist() == [1000] * 10
    # the built-in subset is the first 200 files of each class folder, pixel for pixel
    idx = torch.cat([torch.arange(200) + 1000 * c for c in range(10)])
    assert torch.equal(ds.images[idx], builtin_test.images)
    assert torch.equal(ds.labels[idx], builtin_test.labels)


# ---------------------------------------------------------------------------------------
# the photograph-patch task ("patches")
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def patches_train() -> ImageDataset:
    return patch_dataset("train")


@pytest.fixture(scope="module")
def patches_test() -> ImageDataset:
    return patch_dataset("test")


@pytest.mark.parametrize(("split", "per_class"), [("train", 600), ("test", 150)])
def test_patches_shape_and_balance(
    split: str, per_class: int, patches_train: ImageDataset, patches_test: ImageDataset
) -> None:
    ds = patches_train if split == "train" else patches_test
    n = per_class * len(PATCH_CLASSES)
    check_dataset(ds, n, 3, 32, 32)
    assert ds.classes == PATCH_CLASSES
    assert torch.bincount(ds.labels).tolist() == [per_class] * len(PATCH_CLASSES)


def test_patches_deterministic_for_a_seed(
    patches_train: ImageDataset, patches_test: ImageDataset
) -> None:
    again = patch_dataset(Split.TRAIN, seed=0)
    assert torch.equal(again.images, patches_train.images)
    assert torch.equal(again.labels, patches_train.labels)
    assert torch.equal(patch_dataset("test", seed=0).images, patches_test.images)
    other = patch_dataset("test", seed=1)
    assert not torch.equal(other.images, patches_test.images)
    assert torch.equal(other.labels, patches_test.labels)


def test_patches_train_and_test_are_disjoint(
    patches_train: ImageDataset, patches_test: ImageDataset
) -> None:
    seen = {p.numpy().tobytes() for p in patches_train.images}
    # every test patch (not just a sample) against every training patch, exactly
    assert not any(p.numpy().tobytes() in seen for p in patches_test.images)
    # sanity of the check itself: a training patch is found
    assert patches_train.images[123].numpy().tobytes() in seen


def test_patches_are_textured(patches_train: ImageDataset, patches_test: ImageDataset) -> None:
    for ds in (patches_train, patches_test):
        std = ds.images.double().flatten(1).std(dim=1, correction=0)
        assert float(std.min()) >= 0.03 - 1e-6


def test_subset_is_balanced_and_deterministic(patches_train: ImageDataset) -> None:
    sub = patches_train.subset(50, seed=3)
    assert len(sub) == 50 and sub.classes == patches_train.classes
    assert torch.bincount(sub.labels, minlength=10).tolist() == [5] * 10
    counts = torch.bincount(patches_train.subset(37, seed=3).labels, minlength=10)
    assert int(counts.max() - counts.min()) <= 1 and int(counts.sum()) == 37
    again = patches_train.subset(50, seed=3)
    assert torch.equal(again.images, sub.images) and torch.equal(again.labels, sub.labels)
    assert not torch.equal(patches_train.subset(50, seed=4).images, sub.images)
    members = {p.numpy().tobytes() for p in patches_train.images}
    assert all(p.numpy().tobytes() in members for p in sub.images)
    assert len({p.numpy().tobytes() for p in sub.images}) == 50  # no image drawn twice


def test_subset_of_unbalanced_data_is_as_balanced_as_possible() -> None:
    labels = torch.tensor([0] * 8 + [1] * 2)
    images = torch.arange(10, dtype=torch.float32).reshape(10, 1, 1, 1) / 10
    ds = ImageDataset(images, labels, ("many", "few"))
    assert torch.bincount(ds.subset(4).labels).tolist() == [2, 2]
    assert torch.bincount(ds.subset(6).labels).tolist() == [4, 2]
    assert len(ds.subset(100)) == 10
