"""read_image: modes, bit depths, alpha handling and unreadable files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import spectral as sp
from spectral.errors import ImageReadError, SpectralValueError


def check_tensor(x: torch.Tensor, c: int, h: int, w: int) -> None:
    assert isinstance(x, torch.Tensor)
    assert x.shape == (1, c, h, w)
    assert x.dtype == torch.float32
    assert bool(((x >= 0) & (x <= 1)).all())


def save(tmp_path: Path, name: str, im: Image.Image, **kw: object) -> Path:
    path = tmp_path / name
    im.save(path, **kw)
    return path


def test_grey_png(tmp_path: Path, rng: np.random.Generator) -> None:
    a = rng.integers(0, 256, size=(5, 7), dtype=np.uint8)
    a[0, 0], a[0, 1] = 0, 255
    x = sp.read_image(save(tmp_path, "g.png", Image.fromarray(a, mode="L")))
    check_tensor(x, 1, 5, 7)
    np.testing.assert_allclose(x[0, 0].numpy(), a / 255.0, rtol=0, atol=1e-7)
    assert x[0, 0, 0, 0].item() == 0.0 and x[0, 0, 0, 1].item() == 1.0


def test_rgb_png(tmp_path: Path, rng: np.random.Generator) -> None:
    a = rng.integers(0, 256, size=(4, 6, 3), dtype=np.uint8)
    x = sp.read_image(str(save(tmp_path, "c.png", Image.fromarray(a, mode="RGB"))))
    check_tensor(x, 3, 4, 6)
    np.testing.assert_allclose(x[0].numpy(), a.transpose(2, 0, 1) / 255.0, rtol=0, atol=1e-7)


def test_bilevel_png(tmp_path: Path) -> None:
    im = Image.new("1", (3, 2))
    im.putpixel((2, 1), 1)
    x = sp.read_image(save(tmp_path, "b.png", im))
    check_tensor(x, 1, 2, 3)
    want = torch.zeros(2, 3)
    want[1, 2] = 1.0
    torch.testing.assert_close(x[0, 0], want)


def test_16bit_grey_png(tmp_path: Path) -> None:
    a = (np.arange(12, dtype=np.uint16).reshape(3, 4) * 5957).astype(np.uint16)
    a[2, 3] = 65535
    im = Image.fromarray(a)
    assert im.mode == "I;16"
    path = save(tmp_path, "g16.png", im)
    x = sp.read_image(path)
    check_tensor(x, 1, 3, 4)
    np.testing.assert_allclose(x[0, 0].numpy(), a / 65535.0, rtol=1e-6, atol=0)
    assert x[0, 0, 2, 3].item() == 1.0
    # 16 bits survive: neighbouring values stay distinct (no 8-bit truncation)
    b = np.array([[1000, 1001]], dtype=np.uint16)
    y = sp.read_image(save(tmp_path, "g16b.png", Image.fromarray(b)))
    assert y[0, 0, 0, 1].item() > y[0, 0, 0, 0].item()


def test_palette_png(tmp_path: Path) -> None:
    im = Image.new("P", (4, 3))
    im.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    im.putpixel((1, 2), 1)
    path = save(tmp_path, "p.png", im)
    x = sp.read_image(path)
    check_tensor(x, 3, 3, 4)
    torch.testing.assert_close(x[0, :, 2, 1] * 255, torch.tensor([200.0, 100.0, 50.0]))
    torch.testing.assert_close(x[0, :, 0, 0] * 255, torch.tensor([10.0, 20.0, 30.0]))


def test_palette_with_transparency(tmp_path: Path) -> None:
    im = Image.new("P", (2, 1))
    im.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    im.putpixel((1, 0), 1)
    path = save(tmp_path, "pt.png", im, transparency=0)  # index 0 fully transparent
    white = sp.read_image(path, transparency="white")
    black = sp.read_image(path, transparency=sp.data.Transparency.BLACK)
    drop = sp.read_image(path)
    for x in (white, black, drop):
        check_tensor(x, 3, 1, 2)
    opaque = torch.tensor([200.0, 100.0, 50.0]) / 255
    for x in (white, black, drop):
        torch.testing.assert_close(x[0, :, 0, 1], opaque)
    torch.testing.assert_close(white[0, :, 0, 0], torch.ones(3))
    torch.testing.assert_close(black[0, :, 0, 0], torch.zeros(3))
    torch.testing.assert_close(drop[0, :, 0, 0] * 255, torch.tensor([10.0, 20.0, 30.0]))


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_compositing(tmp_path: Path, mode: str) -> None:
    colour = [90, 160, 240] if mode == "RGBA" else [90]
    alphas = [0, 128, 255]
    a = np.array([[[*colour, al] for al in alphas]], dtype=np.uint8)  # (1, 3, C+1)
    path = save(tmp_path, f"{mode}.png", Image.fromarray(a, mode=mode))
    c = len(colour)
    col = torch.tensor(colour, dtype=torch.float32) / 255
    results = {al: sp.read_image(path, transparency=al) for al in ("drop", "white", "black")}
    for x in results.values():
        check_tensor(x, c, 1, 3)
    for k, al in enumerate(alphas):
        t = al / 255
        torch.testing.assert_close(results["drop"][0, :, 0, k], col)
        torch.testing.assert_close(
            results["white"][0, :, 0, k], col * t + (1 - t), rtol=0, atol=1e-6
        )
        torch.testing.assert_close(results["black"][0, :, 0, k], col * t, rtol=0, atol=1e-6)
    # fully transparent: the background; fully opaque: the colour itself
    torch.testing.assert_close(results["white"][0, :, 0, 0], torch.ones(c))
    torch.testing.assert_close(results["black"][0, :, 0, 0], torch.zeros(c))
    torch.testing.assert_close(results["white"][0, :, 0, 2], col)
    torch.testing.assert_close(results["black"][0, :, 0, 2], col)


def test_jpeg(tmp_path: Path) -> None:
    rgb = save(tmp_path, "c.jpg", Image.new("RGB", (16, 8), (200, 40, 90)), quality=95)
    x = sp.read_image(rgb)
    check_tensor(x, 3, 8, 16)
    want = torch.tensor([200.0, 40.0, 90.0])[:, None, None] / 255
    assert float((x[0] - want).abs().max()) < 4 / 255  # lossy, but a flat colour survives
    grey = save(tmp_path, "g.jpeg", Image.new("L", (5, 9), 77), quality=95)
    y = sp.read_image(grey)
    check_tensor(y, 1, 9, 5)
    assert float((y - 77 / 255).abs().max()) < 2 / 255
    cmyk = save(tmp_path, "k.jpg", Image.new("CMYK", (4, 4), (0, 255, 0, 0)))
    check_tensor(sp.read_image(cmyk), 3, 4, 4)


def test_unknown_alpha(tmp_path: Path) -> None:
    path = save(tmp_path, "g.png", Image.new("L", (2, 2)))
    with pytest.raises(SpectralValueError) as info:
        sp.read_image(path, transparency="grey")
    assert "'grey'" in str(info.value) and "'white'" in str(info.value)
    # checked before touching the file
    with pytest.raises(SpectralValueError):
        sp.read_image(tmp_path / "missing.png", transparency="grey")


def _truncated_png(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    full = save(
        tmp_path, "full.png", Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    )
    data = full.read_bytes()
    path = tmp_path / "truncated.png"
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.mark.parametrize(
    "case", ["missing", "directory", "text", "empty", "truncated", "header_only"]
)
def test_unreadable_files(tmp_path: Path, case: str) -> None:
    if case == "missing":
        path = tmp_path / "nope" / "x.png"
    elif case == "directory":
        path = tmp_path / "adir.png"
        path.mkdir()
    elif case == "text":
        path = tmp_path / "x.png"
        path.write_text("this is not a png\n")
    elif case == "empty":
        path = tmp_path / "empty.png"
        path.touch()
    elif case == "truncated":
        path = _truncated_png(tmp_path)
    else:
        path = tmp_path / "header.png"
        path.write_bytes(_truncated_png(tmp_path).read_bytes()[:40])
    with pytest.raises(ImageReadError) as info:
        sp.read_image(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, OSError)
    assert isinstance(info.value, sp.SpectralError)
