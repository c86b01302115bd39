"""Ideal-mask boundaries (strict vs inclusive) and band projection, against hand-built masks.

Each expected mask is built from integer frequencies ``k_y^2 + k_x^2`` compared with ``R^2``:
no floating-point radius, so the ring ``|k| = R`` is decided exactly.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import spectral as sp
from spectral.errors import SpectralTypeError, SpectralValueError
from spectral.fourier import band_mask, band_project, highpass, lowpass, parse_band


def int_freqs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer frequencies ``(k_y, k_x)`` of every bin of an ``n x n`` DFT (unshifted)."""
    k = np.rint(np.fft.fftfreq(n) * n).astype(int)
    return np.meshgrid(k, k, indexing="ij")


def hand_mask(n: int, r_pixels: int, *, strict: bool) -> np.ndarray:
    ky, kx = int_freqs(n)
    d2 = ky**2 + kx**2
    return (d2 < r_pixels**2) if strict else (d2 <= r_pixels**2)


def kept_bins(y: torch.Tensor) -> np.ndarray:
    """Which DFT bins of a filtered unit impulse are (numerically) one."""
    f = torch.fft.fft2(y[0, 0]).abs().numpy()
    assert np.all((f < 1e-9) | (np.abs(f - 1) < 1e-9))  # an ideal mask: gains 0 or 1
    return f > 0.5


@pytest.mark.parametrize("n", [8, 15, 32])
def test_strict_and_inclusive_masks_equal_hand_masks_bin_by_bin(n: int) -> None:
    impulse = torch.zeros(1, 1, n, n, dtype=torch.float64)
    impulse[0, 0, 0, 0] = 1.0  # flat spectrum: the filtered impulse's DFT is the mask
    for r in range(1, n // 2 + 1):
        for strict in (True, False):
            y = lowpass(impulse, r / n, boundary="strict" if strict else "inclusive")
            np.testing.assert_array_equal(kept_bins(y), hand_mask(n, r, strict=strict))


def test_wang_mask_at_n32_r4_keeps_45_bins_and_inclusive_keeps_49() -> None:
    impulse = torch.zeros(1, 1, 32, 32, dtype=torch.float64)
    impulse[0, 0, 0, 0] = 1.0
    assert kept_bins(lowpass(impulse, 4 / 32, boundary="strict")).sum() == 45
    assert kept_bins(lowpass(impulse, 4 / 32)).sum() == 49
    # the 4 bins of the ring |k| = 4 are exactly the difference
    ring = kept_bins(lowpass(impulse, 4 / 32)) & ~kept_bins(
        lowpass(impulse, 4 / 32, boundary="strict")
    )
    ky, kx = int_freqs(32)
    assert sorted(zip(ky[ring].tolist(), kx[ring].tolist(), strict=True)) == [
        (-4, 0),
        (0, -4),
        (0, 4),
        (4, 0),
    ]


def test_rings_with_non_axis_bins_are_caught_despite_rounding() -> None:
    # |(3, 4)| = 5: hypot(3/32, 4/32) vs 5/32 must count as on the ring, both ways
    impulse = torch.zeros(1, 1, 32, 32, dtype=torch.float64)
    impulse[0, 0, 0, 0] = 1.0
    ky, kx = int_freqs(32)
    on_ring = ky**2 + kx**2 == 25
    assert on_ring.sum() == 12
    assert kept_bins(lowpass(impulse, 5 / 32))[on_ring].all()
    assert not kept_bins(lowpass(impulse, 5 / 32, boundary="strict"))[on_ring].any()


def test_strict_filtering_of_images_matches_the_hand_mask(gen: torch.Generator) -> None:
    x = torch.rand(2, 3, 32, 32, generator=gen, dtype=torch.float64)
    for r in (4, 8, 12, 16):
        m = torch.from_numpy(hand_mask(32, r, strict=True)).double()
        lo = torch.fft.ifft2(torch.fft.fft2(x) * m).real
        hi = torch.fft.ifft2(torch.fft.fft2(x) * (1 - m)).real
        assert torch.allclose(lowpass(x, r / 32, boundary="strict"), lo, atol=1e-12)
        assert torch.allclose(highpass(x, r / 32, boundary="strict"), hi, atol=1e-12)
    # the two conventions differ by one ring: a visible difference on real-looking images
    diff = lowpass(x, 4 / 32) - lowpass(x, 4 / 32, boundary="strict")
    assert float(diff.abs().max()) > 1e-3


def test_boundary_leaves_smooth_filters_alone_and_is_validated(gen: torch.Generator) -> None:
    x = torch.rand(1, 1, 16, 16, generator=gen, dtype=torch.float64)
    for kind in ("gaussian", "butterworth"):
        a = lowpass(x, 0.2, kind=kind)
        assert torch.equal(a, lowpass(x, 0.2, kind=kind, boundary="strict"))
    with pytest.raises(SpectralValueError, match="boundary"):
        lowpass(x, 0.2, boundary="open")
    with pytest.raises(SpectralTypeError, match="boundary"):
        highpass(x, 0.2, boundary=1)  # type: ignore[arg-type]


def test_parse_band_names_and_annuli() -> None:
    assert parse_band("low") == (0.0, 1 / 8)
    assert parse_band(" HIGH ", (0.1, 0.3)) == (0.3, math.inf)
    assert parse_band("all") == (0.0, math.inf)
    assert parse_band([0.05, 0.2]) == (0.05, 0.2)
    for bad in ("lowest", (0.2, 0.1), (0.1,), "1-2", (-0.1, 0.2), None):
        with pytest.raises(SpectralValueError, match="band"):
            parse_band(bad)


@pytest.mark.parametrize("band", ["low", "mid", "high", (0.05, 0.3)])
def test_projection_is_idempotent_self_adjoint_and_in_band(
    band: object, gen: torch.Generator
) -> None:
    x = torch.rand(3, 2, 32, 32, generator=gen, dtype=torch.float64)
    y = torch.rand(3, 2, 32, 32, generator=gen, dtype=torch.float64)
    px = band_project(x, band)
    assert torch.allclose(band_project(px, band), px, atol=1e-13)
    assert torch.allclose((px * y).sum(), (x * band_project(y, band)).sum(), atol=1e-10)
    if isinstance(band, str):
        e = sp.band_energy(px)
        idx = ("low", "mid", "high").index(band)
        outside = torch.cat([e[..., :idx], e[..., idx + 1 :]], -1)
        assert float(outside.max()) < 1e-20
    # the rest has no energy in the band: P(x - Px) == 0
    assert float(band_project(x - px, band).abs().max()) < 1e-13


def test_named_bands_split_an_image_without_its_mean(gen: torch.Generator) -> None:
    x = torch.rand(2, 3, 17, 20, generator=gen, dtype=torch.float64)
    parts = sum(band_project(x, b) for b in ("low", "mid", "high"))
    assert torch.allclose(parts, x - x.mean((-2, -1), keepdim=True), atol=1e-13)
    assert torch.allclose(band_project(x, "all"), parts, atol=1e-13)


def test_mask_counts_and_empty_band() -> None:
    # 16 x 16: low band 0 < |k| / 16 < 1/8 holds |k| in {1, sqrt 2}: 8 full-spectrum bins
    m = band_mask(16, 16, "low")
    weights = np.full(9, 2.0)
    weights[[0, -1]] = 1.0  # rfft columns 0 and W/2 stand alone
    assert float((m * weights).sum()) == 8.0
    with pytest.raises(SpectralValueError, match="holds no frequency of 4x4"):
        band_mask(4, 4, "low")  # 1/4 is the lowest non-zero radius of a 4x4 image
    with pytest.raises(SpectralValueError, match="holds no frequency"):
        band_project(torch.rand(1, 1, 4, 4), (0.9, 1.0))


def test_projection_keeps_device_dtype_and_gradients() -> None:
    x = torch.rand(1, 1, 8, 8, requires_grad=True)
    y = band_project(x, "high")
    assert y.dtype == torch.float32 and y.shape == x.shape
    y.square().sum().backward()
    assert x.grad is not None
    # gradient of ||Px||^2 is 2 P x (P symmetric, idempotent)
    assert torch.allclose(x.grad, 2 * band_project(x.detach(), "high"), atol=1e-5)
