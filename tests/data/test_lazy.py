"""Lazy loading: load_dataset(n_images=...) == load_dataset(...).subset(n_images), reading less."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

import spectral.data.builtin as builtin_mod
import spectral.data.folders as folders_mod
import spectral.data.tensors as tensors_mod
from spectral.data import ImageDataset, load_dataset, read_image, resize_images, subset_indices
from spectral.data.npzmap import _npz_memmap
from spectral.errors import SpectralTypeError, SpectralValueError


def assert_same(a: ImageDataset, b: ImageDataset) -> None:
    assert torch.equal(a.images, b.images)
    assert torch.equal(a.labels, b.labels)
    assert a.classes == b.classes


def full_then_subset(spec: Any, n: int, seed: int, split: str = "test") -> ImageDataset:
    return load_dataset(spec, split, seed=seed).subset(n, seed=seed)


def make_folder(root: Path, sizes: dict[str, int], hw: tuple[int, int] = (6, 5)) -> list[Path]:
    rng = np.random.default_rng(1)
    files = []
    for name, n in sizes.items():
        (root / name).mkdir(parents=True)
        for i in range(n):
            f = root / name / f"{i:02d}.png"
            Image.fromarray(rng.integers(0, 256, (*hw, 3), dtype=np.uint8)).save(f)
            files.append(f)
    return files


@pytest.fixture
def counted_reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every file decoded by the folder loader, and every file PIL opens."""
    seen: list[Path] = []
    real_read, real_open = folders_mod.read_image, Image.open

    def read(path: Any, **kw: Any) -> torch.Tensor:
        seen.append(Path(path))
        return real_read(path, **kw)

    def opened(fp: Any, *a: Any, **kw: Any) -> Any:
        if isinstance(fp, (str, Path)):
            seen.append(Path(fp))
        return real_open(fp, *a, **kw)

    monkeypatch.setattr(folders_mod, "read_image", read)
    monkeypatch.setattr(Image, "open", opened)
    return seen


def test_subset_indices_match_subset_and_balance() -> None:
    labels = torch.tensor([0] * 7 + [1] * 2 + [2] * 5)
    ds = ImageDataset(torch.arange(14.0).view(14, 1, 1, 1) / 14, labels, ("a", "b", "c"))
    idx = subset_indices(labels, 3, 6, seed=4)
    assert torch.equal(ds.subset(6, seed=4).images, ds.images[idx])
    assert sorted(labels[idx].tolist()) == [0, 0, 1, 1, 2, 2]  # as balanced as possible
    assert sorted(subset_indices(labels, 3, 99).tolist()) == list(range(14))  # all, permuted


@pytest.mark.parametrize(("n", "seed"), [(1, 0), (4, 0), (7, 3), (50, 1)])
def test_folder_equals_subset_and_decodes_only_the_chosen(
    tmp_path: Path, counted_reads: list[Path], n: int, seed: int
) -> None:
    files = make_folder(tmp_path, {"cat": 5, "dog": 3, "emu": 4})
    expected = full_then_subset(tmp_path, n, seed)
    counted_reads.clear()
    got = load_dataset(tmp_path, "test", seed=seed, n_images=n)
    assert_same(got, expected)
    decoded = [p for p in counted_reads if p.suffix == ".png"]
    assert len(set(decoded)) == min(n, len(files))  # nothing else opened, not even a header
    chosen = {
        files[i]
        for i in subset_indices(torch.tensor([0] * 5 + [1] * 3 + [2] * 4), 3, n, seed=seed).tolist()
    }
    assert set(decoded) == chosen


def test_folder_channel_count_is_the_whole_folders(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        for i in range(6):
            Image.fromarray(rng.integers(0, 256, (4, 4), dtype=np.uint8)).save(
                tmp_path / name / f"{i}.png"
            )
    for n in (1, 3, 12):
        assert load_dataset(tmp_path, "test", n_images=n).images.shape[1] == 1
    # one colour image anywhere: every subset has C = 3, as the full load has
    Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)).save(tmp_path / "b" / "9.png")
    for n, seed in ((1, 0), (2, 5), (13, 0)):
        assert_same(
            load_dataset(tmp_path, "test", seed=seed, n_images=n),
            full_then_subset(tmp_path, n, seed),
        )
        assert load_dataset(tmp_path, "test", seed=seed, n_images=n).images.shape[1] == 3


def test_folder_of_mixed_sizes_needs_and_takes_an_image_size(tmp_path: Path) -> None:
    make_folder(tmp_path / "x", {"a": 2}, hw=(6, 5))
    make_folder(tmp_path / "y", {"a": 1}, hw=(9, 12))
    (tmp_path / "y" / "a" / "00.png").rename(tmp_path / "x" / "a" / "99.png")
    root = tmp_path / "x"
    with pytest.raises(SpectralValueError) as info:
        load_dataset(root, "test")
    msg = str(info.value)
    assert "expected 6x5" in msg and "got 9x12" in msg and "image_size" in msg
    assert "\n" not in msg
    for mode in ("resize", "crop"):
        ds = load_dataset(root, "test", image_size=(8, 7), resize=mode)
        assert ds.images.shape == (3, 3, 8, 7)
        for i, name in enumerate(("00.png", "01.png", "99.png")):
            one = resize_images(read_image(root / "a" / name), (8, 7), mode=mode)
            assert torch.equal(ds.images[i], one[0])


def write_cifar(root: Path) -> None:
    root.mkdir()
    rng = np.random.default_rng(2)
    with open(root / "batches.meta", "wb") as fh:
        pickle.dump({"label_names": ["a", "b", "c", "d"]}, fh)
    for name, n in [*((f"data_batch_{i}", 7) for i in range(1, 6)), ("test_batch", 9)]:
        batch = {
            "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            "labels": rng.integers(0, 4, n).tolist(),
        }
        with open(root / name, "wb") as fh:
            pickle.dump(batch, fh)


@pytest.mark.parametrize(
    ("split", "n", "seed"), [("train", 1, 0), ("train", 13, 2), ("test", 5, 1), ("train", 99, 0)]
)
def test_cifar_equals_subset(tmp_path: Path, split: str, n: int, seed: int) -> None:
    write_cifar(tmp_path / "c")
    got = load_dataset(tmp_path / "c", split, seed=seed, n_images=n)
    assert_same(got, full_then_subset(tmp_path / "c", n, seed, split))


def tensor_data(n: int = 23) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    return {
        "images": rng.integers(0, 256, (n, 10, 12, 3), dtype=np.uint8),
        "labels": rng.integers(0, 5, n),
    }


@pytest.mark.parametrize("save", ["savez", "savez_compressed", "pt", "pt-legacy"])
@pytest.mark.parametrize(("n", "seed"), [(1, 0), (6, 4), (40, 0)])
def test_tensor_files_equal_subset(tmp_path: Path, save: str, n: int, seed: int) -> None:
    arrays = tensor_data()
    if save.startswith("pt"):
        path = tmp_path / "d.pt"
        zipped = save == "pt"  # the legacy format cannot be memory-mapped: read whole
        tensors = {k: torch.from_numpy(v) for k, v in arrays.items()}
        torch.save(tensors, path, _use_new_zipfile_serialization=zipped)
    else:
        path = tmp_path / "d.npz"
        getattr(np, save)(path, **arrays)
    assert_same(load_dataset(path, "test", seed=seed, n_images=n), full_then_subset(path, n, seed))


def test_npz_is_memory_mapped_and_only_chosen_rows_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    arrays = {
        "images": np.random.default_rng(0).random((30, 3, 8, 8)).astype(np.float32),
        "labels": np.arange(30) % 3,
    }
    np.savez(tmp_path / "d.npz", **arrays)
    np.savez_compressed(tmp_path / "z.npz", **arrays)
    mapped = _npz_memmap(tmp_path / "d.npz", "images")
    assert isinstance(mapped, np.memmap) and np.array_equal(mapped, arrays["images"])
    assert _npz_memmap(tmp_path / "z.npz", "images") is None  # deflated: read whole
    seen: list[tuple[type, list[int]]] = []
    real = tensors_mod._image_rows

    def rows(a: np.ndarray, layout: str, idx: np.ndarray, *rest: Any) -> torch.Tensor:
        seen.append((type(a), idx.tolist()))
        return real(a, layout, idx, *rest)

    monkeypatch.setattr(tensors_mod, "_image_rows", rows)
    ds = load_dataset(tmp_path / "d.npz", "test", seed=7, n_images=4)
    assert [t for t, _ in seen] == [np.memmap]
    assert seen[0][1] == subset_indices(torch.from_numpy(arrays["labels"]), 3, 4, seed=7).tolist()
    assert torch.equal(ds.images, torch.from_numpy(arrays["images"][seen[0][1]]))


def test_tensor_file_image_size_is_resize_of_the_subset(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", **tensor_data())
    want = full_then_subset(tmp_path / "d.npz", 5, 0)
    for mode in ("resize", "crop"):
        got = load_dataset(tmp_path / "d.npz", "test", n_images=5, image_size=16, resize=mode)
        assert torch.equal(got.images, resize_images(want.images, 16, mode=mode))
        assert torch.equal(got.labels, want.labels)


def test_builtin_decodes_only_the_chosen_jpegs(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = full_then_subset("builtin", 37, 5)
    decoded: list[int] = []
    real = builtin_mod._decode

    def decode(jpeg: np.ndarray, offsets: np.ndarray, idx: np.ndarray) -> np.ndarray:
        decoded.extend(idx.tolist())
        return real(jpeg, offsets, idx)

    monkeypatch.setattr(builtin_mod, "_decode", decode)
    got = load_dataset("builtin", "test", seed=5, n_images=37)
    assert_same(got, expected)
    assert len(decoded) == 37


def test_patches_equal_subset() -> None:
    got = load_dataset("patches", "test", seed=2, n_images=25, image_size=20)
    want = full_then_subset("patches", 25, 2)
    assert torch.equal(got.images, resize_images(want.images, 20))
    assert torch.equal(got.labels, want.labels)


@pytest.mark.parametrize(
    ("kw", "error", "words"),
    [
        ({"n_images": 0}, SpectralValueError, "n_images: expected an int >= 1, got 0"),
        ({"n_images": 2.0}, SpectralTypeError, "n_images"),
        ({"image_size": 0}, SpectralValueError, "image_size"),
        ({"image_size": "224"}, SpectralTypeError, "image_size"),
        ({"resize": "zoom"}, SpectralValueError, "resize"),
    ],
)
def test_bad_options(kw: dict[str, Any], error: type, words: str) -> None:
    with pytest.raises(error) as info:
        load_dataset("builtin", "test", **kw)
    assert words in str(info.value) and "\n" not in str(info.value)
