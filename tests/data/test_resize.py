"""resize_images: shapes and hand-computed values of the resize and centre-crop modes."""

from __future__ import annotations

import pytest
import torch

from spectral.data import ResizeMode, resize_images
from spectral.errors import SpectralTypeError, SpectralValueError


@pytest.mark.parametrize("mode", ["resize", "crop"])
@pytest.mark.parametrize("size", [8, 50, (12, 20), (40, 7)])
def test_constant_image_stays_constant(mode: str, size: int | tuple[int, int]) -> None:
    x = torch.full((2, 3, 24, 30), 0.3)
    y = resize_images(x, size, mode=mode)
    h, w = (size, size) if isinstance(size, int) else size
    assert y.shape == (2, 3, h, w)
    torch.testing.assert_close(y, torch.full_like(y, 0.3))


def test_crop_takes_the_centre_rows_and_columns() -> None:
    x = torch.rand(1, 3, 40, 32)
    # shorter side (W) is already 32: no resampling, rows 4..36 are cut out
    assert torch.equal(resize_images(x, 32, mode="crop"), x[..., 4:36, :])
    xt = x.transpose(-1, -2)  # 32 x 40: columns 4..36
    assert torch.equal(resize_images(xt, 32, mode="crop"), xt[..., :, 4:36])
    # odd margin: torchvision rounds the offset, (41 - 32) / 2 = 4.5 -> 4
    x41 = torch.rand(1, 1, 41, 32)
    assert torch.equal(resize_images(x41, 32, mode="crop"), x41[..., 4:36, :])


def test_crop_is_resize_of_the_shorter_side_then_centre() -> None:
    x = torch.rand(1, 3, 64, 96)
    # int size: shorter side 64 -> 32, longer 96 -> 48, then columns 8..40
    expected = resize_images(x, (32, 48))[..., :, 8:40]
    assert torch.equal(resize_images(x, 32, mode="crop"), expected)
    assert torch.equal(resize_images(x, (32, 32), mode="crop"), expected)  # same as the int
    # (H, W) size: scale max(24 / 64, 16 / 96) = 0.375 covers both -> 24 x 36, columns 10..26
    expected = resize_images(x, (24, 36))[..., :, 10:26]
    assert torch.equal(resize_images(x, (24, 16), mode="crop"), expected)


def test_resize_keeps_a_linear_ramp_inside() -> None:
    # antialiased bilinear is a symmetric (triangle) filter: it keeps linear functions, so
    # output pixel i samples the ramp at its centre (i + 0.5) * 4 - 0.5 away from the borders
    w = 64
    x = (torch.arange(w, dtype=torch.float64) / (w - 1)).expand(1, 1, 4, w)
    y = resize_images(x, (4, 16))
    centres = (torch.arange(16, dtype=torch.float64) + 0.5) * 4 - 0.5
    torch.testing.assert_close(y[0, 0, 0, 1:-1], centres[1:-1] / (w - 1))
    assert y.dtype == torch.float64


def test_resize_stays_in_unit_range_and_same_size_is_unchanged() -> None:
    x = (torch.rand(2, 3, 9, 9) > 0.5).float()  # hard edges
    for size in (5, 31):
        y = resize_images(x, size)
        assert 0.0 <= float(y.min()) and float(y.max()) <= 1.0
    assert resize_images(x, 9) is x
    assert torch.equal(resize_images(x, (9, 9), mode=ResizeMode.CROP), x)


def test_downsampling_is_antialiased() -> None:
    # a pixel-level checkerboard (Nyquist) averages to grey; plain bilinear would alias
    x = ((torch.arange(32)[:, None] + torch.arange(32)[None, :]) % 2).float()[None, None]
    y = resize_images(x, 8)
    torch.testing.assert_close(y, torch.full_like(y, 0.5), atol=0.02, rtol=0)


@pytest.mark.parametrize(
    ("x", "size", "mode", "error", "words"),
    [
        (torch.rand(3, 8, 8), 4, "resize", SpectralValueError, "(B, C, H, W)"),
        (torch.zeros(1, 1, 8, 8, dtype=torch.uint8), 4, "resize", SpectralTypeError, "float"),
        (torch.rand(1, 1, 8, 8), 0, "resize", SpectralValueError, ">= 1"),
        (torch.rand(1, 1, 8, 8), (4, 4, 4), "resize", SpectralTypeError, "pair"),
        (torch.rand(1, 1, 8, 8), 4.0, "resize", SpectralTypeError, "int"),
        (torch.rand(1, 1, 8, 8), 4, "stretch", SpectralValueError, "mode"),
    ],
)
def test_resize_errors(x: torch.Tensor, size: object, mode: str, error: type, words: str) -> None:
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")) as info:
        resize_images(x, size, mode=mode)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)
