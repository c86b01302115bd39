"""Mathematical properties of spectral.spectra, checked against numpy.fft references."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch

import spectral as sp
import spectral.fourier.engine as sfft
from spectral import frequency_radius

BACKENDS = ["torch", "numpy", "scipy", "pyfftw"]
SIZES = [(8, 8), (7, 9), (16, 15), (1, 5), (2, 3)]
SIZE_IDS = [f"{h}x{w}" for h, w in SIZES]
# Sizes with H, W >= 2 (a radial profile needs a non-zero highest frequency).
RADIAL_SIZES = [(8, 8), (7, 9), (16, 15), (2, 3), (9, 7), (15, 16)]

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def randn(shape: tuple[int, ...], dtype: torch.dtype, gen: torch.Generator) -> torch.Tensor:
    return torch.randn(shape, dtype=torch.float64, generator=gen).to(dtype)


def rand(shape: tuple[int, ...], dtype: torch.dtype, gen: torch.Generator) -> torch.Tensor:
    return torch.rand(shape, dtype=torch.float64, generator=gen).to(dtype)


def np64(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().to(torch.float64).numpy()


def shift(a: np.ndarray) -> np.ndarray:
    return np.fft.fftshift(a, axes=(-2, -1))


def ref_fft(x: torch.Tensor) -> np.ndarray:
    """Reference complex spectrum (complex128) of the input's exact values."""
    return np.fft.fft2(np64(x), axes=(-2, -1))


def tol(dtype: torch.dtype) -> float:
    return 1e-10 if dtype == torch.float64 else 2e-5


def assert_close(actual: torch.Tensor, expected: np.ndarray, dtype: torch.dtype) -> None:
    """Relative check scaled by the largest reference value (FFT error is global)."""
    scale = max(float(np.abs(expected).max()), 1e-300)
    np.testing.assert_allclose(np64(actual), expected, rtol=tol(dtype), atol=tol(dtype) * scale)


def assert_like(out: torch.Tensor, x: torch.Tensor) -> None:
    assert out.dtype == x.dtype
    assert out.device == x.device


def ref_magnitude(x: torch.Tensor, *, log: bool, normalize: bool, center: bool) -> np.ndarray:
    m = np.abs(ref_fft(x))
    if log:
        m = np.log1p(m)
    if normalize:
        mn = m.min(axis=(-2, -1), keepdims=True)
        span = m.max(axis=(-2, -1), keepdims=True) - mn
        m = (m - mn) / np.where(span > 0, span, 1.0)
    return shift(m) if center else m


def brute_band_energy(x: torch.Tensor, cutoffs: tuple[float, float]) -> np.ndarray:
    """Band fractions from the full, unshifted power spectrum and radius masks."""
    h, w = x.shape[-2:]
    p = np.abs(ref_fft(x)) ** 2
    r = frequency_radius(h, w, center=False)
    c1, c2 = cutoffs
    masks = [(r > 0) & (r < c1), (r >= c1) & (r < c2), r >= c2]
    e = np.stack([(p * m).sum(axis=(-2, -1)) for m in masks], axis=-1)
    return e / e.sum(-1, keepdims=True)


def cosine(h: int, w: int, k1: int, k2: int, amp: float = 1.0) -> torch.Tensor:
    i = torch.arange(h, dtype=torch.float64)[:, None]
    j = torch.arange(w, dtype=torch.float64)[None, :]
    return amp * torch.cos(2 * math.pi * (k1 * i / h + k2 * j / w))[None, None]


def centred_index(h: int, w: int, k1: int, k2: int) -> tuple[int, int]:
    return (k1 + h // 2) % h, (k2 + w // 2) % w


# --------------------------------------------------------------------------------------
# 1-2. Parseval and the DC term
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
@pytest.mark.parametrize("center", [True, False])
def test_parseval(
    backend: str, dtype: torch.dtype, size: tuple[int, int], center: bool, gen: torch.Generator
) -> None:
    x = randn((2, 3, *size), dtype, gen)
    p = sp.power_spectrum(x, center=center, backend=backend)
    assert_like(p, x)
    rtol = 1e-10 if dtype == torch.float64 else 1e-4
    torch.testing.assert_close(p.sum((-2, -1)), (x**2).sum((-2, -1)), rtol=rtol, atol=0)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
@pytest.mark.parametrize("center", [True, False])
def test_dc_term_is_abs_sum(
    backend: str, dtype: torch.dtype, size: tuple[int, int], center: bool, gen: torch.Generator
) -> None:
    h, w = size
    x = randn((2, 3, h, w), dtype, gen) + 0.2  # signed values: |sum| is not just sum
    x[1, 2] = -x[1, 2].abs()  # one map with a negative sum
    m = sp.magnitude_spectrum(x, log=False, normalize=False, center=center, backend=backend)
    i, j = (h // 2, w // 2) if center else (0, 0)
    expected = x.to(torch.float64).sum((-2, -1)).abs()
    rtol = 1e-12 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(
        m[..., i, j].to(torch.float64), expected, rtol=rtol, atol=rtol * float(expected.max())
    )
    # And the power spectrum's DC bin is sum^2 / (H W).
    p = sp.power_spectrum(x, center=center, backend=backend)
    torch.testing.assert_close(
        p[..., i, j].to(torch.float64),
        expected**2 / (h * w),
        rtol=10 * rtol,
        atol=10 * rtol * float(expected.max()) ** 2,
    )


# --------------------------------------------------------------------------------------
# 3. A cosine peaks at its two bins
# --------------------------------------------------------------------------------------

COSINES = [
    ((8, 8), 1, 2),
    ((8, 8), 3, -1),
    ((7, 9), 2, 3),
    ((16, 15), 5, 4),
    ((16, 15), 0, 7),
    ((1, 5), 0, 2),
    ((2, 3), 1, 1),
]


@pytest.mark.parametrize(("size", "k1", "k2"), COSINES)
def test_cosine_peaks_at_its_bins(backend: str, size: tuple[int, int], k1: int, k2: int) -> None:
    h, w = size
    amp = 1.7
    x = cosine(h, w, k1, k2, amp)
    p = sp.power_spectrum(x, backend=backend)[0, 0]
    expected = {centred_index(h, w, k1, k2), centred_index(h, w, -k1, -k2)}
    assert len(expected) == 2  # the two bins are distinct for these cases
    top = torch.topk(p.reshape(-1), 2).indices
    assert {(int(t) // w, int(t) % w) for t in top} == expected
    peak = amp**2 * h * w / 4  # |F| = amp H W / 2 at each bin, scaled by 1 / (H W)
    for i, j in expected:
        assert p[i, j].item() == pytest.approx(peak, rel=1e-10)
    # The two peaks hold all the power: sum(x^2) = amp^2 H W / 2.
    rest = p.clone()
    for i, j in expected:
        rest[i, j] = 0.0
    assert rest.abs().max().item() < 1e-20 * peak + 1e-20
    assert 2 * peak == pytest.approx(float((x**2).sum()), rel=1e-10)
    # The (unnormalised) magnitude peaks at the same bins with |F| = amp H W / 2.
    m = sp.magnitude_spectrum(x, log=False, normalize=False, backend=backend)[0, 0]
    for i, j in expected:
        assert m[i, j].item() == pytest.approx(amp * h * w / 2, rel=1e-10)


@pytest.mark.parametrize("size", [(8, 8), (16, 15), (2, 3)], ids=str)
def test_nyquist_row_cosine_is_one_bin(backend: str, size: tuple[int, int]) -> None:
    """cos(pi i) equals its own mirror: all power A^2 H W sits in one bin."""
    h, w = size
    amp = 0.6
    x = cosine(h, w, h // 2, 0, amp)
    p = sp.power_spectrum(x, backend=backend)[0, 0]
    i, j = centred_index(h, w, h // 2, 0)
    assert (i, j) == (0, w // 2)
    assert p[i, j].item() == pytest.approx(amp**2 * h * w, rel=1e-10)
    assert p.sum().item() == pytest.approx(p[i, j].item(), rel=1e-10)


# --------------------------------------------------------------------------------------
# 4. Backends agree with the numpy reference (and so with each other)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
@pytest.mark.parametrize("log", [True, False], ids=["log", "lin"])
@pytest.mark.parametrize("normalize", [True, False], ids=["norm", "raw"])
@pytest.mark.parametrize("center", [True, False], ids=["c", "nc"])
def test_magnitude_matches_reference(
    backend: str,
    dtype: torch.dtype,
    size: tuple[int, int],
    log: bool,
    normalize: bool,
    center: bool,
    gen: torch.Generator,
) -> None:
    x = rand((2, 3, *size), dtype, gen)
    m = sp.magnitude_spectrum(x, log=log, normalize=normalize, center=center, backend=backend)
    assert_like(m, x)
    assert m.shape == x.shape
    assert_close(m, ref_magnitude(x, log=log, normalize=normalize, center=center), dtype)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
@pytest.mark.parametrize("center", [True, False], ids=["c", "nc"])
def test_power_matches_reference(
    backend: str, dtype: torch.dtype, size: tuple[int, int], center: bool, gen: torch.Generator
) -> None:
    x = randn((2, 3, *size), dtype, gen)
    p = sp.power_spectrum(x, center=center, backend=backend)
    assert_like(p, x)
    h, w = size
    ref = np.abs(ref_fft(x)) ** 2 / (h * w)
    assert_close(p, shift(ref) if center else ref, dtype)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
@pytest.mark.parametrize("center", [True, False], ids=["c", "nc"])
def test_phase_matches_reference(
    backend: str, dtype: torch.dtype, size: tuple[int, int], center: bool, gen: torch.Generator
) -> None:
    x = randn((2, 3, *size), dtype, gen)
    ph = sp.phase_spectrum(x, center=center, backend=backend)
    assert_like(ph, x)
    f = ref_fft(x)
    f = shift(f) if center else f
    mag = np.abs(f)
    keep = mag > 1e-3 * mag.max(axis=(-2, -1), keepdims=True)  # phase of ~0 is arbitrary
    got = np.exp(1j * np64(ph))
    want = f / np.where(mag > 0, mag, 1.0)
    err = np.abs(got - want)[keep]
    assert err.max() < (1e-9 if dtype == torch.float64 else 1e-3)
    pi = torch.tensor(math.pi, dtype=dtype).item()  # pi rounded to the dtype
    assert np64(ph).max() <= pi and np64(ph).min() >= -pi


@pytest.mark.parametrize(
    "backend_",
    [
        "torch",
        "numpy",
        "scipy",
        "pyfftw",
    ],
)
def test_phase_range_is_half_open(backend_: str) -> None:
    """Docstring: phase in (-pi, pi]; a negative real DC bin must be +pi, not -pi."""
    x = torch.tensor([[[[-1.0, 2.0], [3.0, 4.0]]]], dtype=torch.float64)  # all bins real <= 0
    ph = sp.phase_spectrum(x, center=False, backend=backend_)
    assert ph.min().item() > -math.pi
    assert ph[0, 0, 0, 1].item() == pytest.approx(math.pi)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_band_energy_matches_brute_force(
    backend: str, dtype: torch.dtype, size: tuple[int, int], gen: torch.Generator
) -> None:
    x = randn((2, 3, *size), dtype, gen)
    largest = float(frequency_radius(*size).max())
    for cutoffs in [(1 / 8, 1 / 4), (0.05, 0.3), (0.2, 0.45), (0.1, 0.7)]:
        if cutoffs[1] > largest:  # an empty high band: refused, naming the size
            with pytest.raises(sp.SpectralValueError, match=r"high band empty for \d+x\d+"):
                sp.band_energy(x, cutoffs=cutoffs, backend=backend)
            continue
        e = sp.band_energy(x, cutoffs=cutoffs, backend=backend)
        assert_like(e, x)
        assert e.shape == (2, 3, 3)
        np.testing.assert_allclose(
            np64(e), brute_band_energy(x, cutoffs), atol=1e-12 if dtype == torch.float64 else 1e-5
        )


@pytest.mark.parametrize("size", [(8, 8), (7, 9), (16, 15)], ids=str)
def test_backends_agree_with_each_other(
    dtype: torch.dtype, size: tuple[int, int], gen: torch.Generator
) -> None:
    x = rand((3, 2, *size), dtype, gen)
    fns = {
        "magnitude": lambda b: sp.magnitude_spectrum(x, backend=b),
        "magnitude_raw": lambda b: sp.magnitude_spectrum(
            x, log=False, normalize=False, center=False, backend=b
        ),
        "power": lambda b: sp.power_spectrum(x, backend=b),
        "band_energy": lambda b: sp.band_energy(x, backend=b),
        "phase_exp": lambda b: torch.exp(1j * sp.phase_spectrum(x, backend=b).double()),
    }
    mag = torch.from_numpy(shift(np.abs(ref_fft(x))))
    keep = mag > 1e-3 * mag.amax((-2, -1), keepdim=True)
    for name, fn in fns.items():
        base = fn("torch")
        for b in BACKENDS[1:]:
            other = fn(b)
            if name == "phase_exp":
                diff = (other - base).abs()[keep].max().item()
            else:
                diff = (other.double() - base.double()).abs().max().item()
                diff /= max(base.double().abs().max().item(), 1e-300)
            assert diff < tol(dtype) * 50, (name, b, diff)


def test_noncontiguous_input(backend: str, gen: torch.Generator) -> None:
    base = rand((2, 3, 9, 7), torch.float64, gen)
    views = [
        base.transpose(-1, -2),
        base.contiguous(memory_format=torch.channels_last),
        base[:, ::2],
        base[..., 1:, ::2],
    ]
    for v in views:
        c = v.contiguous()
        for fn in (sp.magnitude_spectrum, sp.power_spectrum, sp.band_energy):
            torch.testing.assert_close(
                fn(v, backend=backend), fn(c, backend=backend), rtol=1e-12, atol=1e-12
            )
        # compare phases as unit phasors (a real bin may flip between +pi and -pi)
        pv = torch.exp(1j * sp.phase_spectrum(v, backend=backend))
        pc = torch.exp(1j * sp.phase_spectrum(c, backend=backend))
        torch.testing.assert_close(pv, pc, rtol=0, atol=1e-9)


@pytest.mark.parametrize("chunk_bytes", [1, 3000])
def test_chunked_engine_many_chunks(
    backend: str,
    dtype: torch.dtype,
    chunk_bytes: int,
    monkeypatch: pytest.MonkeyPatch,
    gen: torch.Generator,
) -> None:
    """Tiny chunks force many chunks on several workers; results must not change."""
    monkeypatch.setattr(sfft, "_CHUNK_BYTES", chunk_bytes)
    x = randn((7, 2, 9, 8), dtype, gen)
    h, w = 9, 8
    f = ref_fft(x)
    assert_close(sp.power_spectrum(x, backend=backend), shift(np.abs(f) ** 2 / (h * w)), dtype)
    assert_close(
        sp.magnitude_spectrum(x, backend=backend),
        ref_magnitude(x, log=True, normalize=True, center=True),
        dtype,
    )
    np.testing.assert_allclose(
        np64(sp.band_energy(x, backend=backend)),
        brute_band_energy(x, (1 / 8, 1 / 4)),
        atol=1e-12 if dtype == torch.float64 else 1e-5,
    )


# --------------------------------------------------------------------------------------
# 5. Normalised magnitude
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
@pytest.mark.parametrize("log", [True, False])
def test_normalized_magnitude_spans_unit_interval(
    backend: str, dtype: torch.dtype, size: tuple[int, int], log: bool, gen: torch.Generator
) -> None:
    x = randn((2, 3, *size), dtype, gen)
    m = sp.magnitude_spectrum(x, log=log, backend=backend)
    assert bool(((m >= 0) & (m <= 1)).all())
    torch.testing.assert_close(m.amin((-2, -1)), torch.zeros(2, 3, dtype=dtype))
    torch.testing.assert_close(m.amax((-2, -1)), torch.ones(2, 3, dtype=dtype))


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_flat_spectrum_normalizes_to_zeros(
    backend: str, dtype: torch.dtype, size: tuple[int, int]
) -> None:
    """A zero image (|F| = 0) and an impulse (|F| = 1) have flat spectra: zeros, not NaN."""
    x = torch.zeros(2, 1, *size, dtype=dtype)
    x[1, 0, 0, 0] = 1.0
    for log in (True, False):
        for center in (True, False):
            m = sp.magnitude_spectrum(x, log=log, center=center, backend=backend)
            assert not torch.isnan(m).any()
            assert bool((m == 0).all())
    raw = sp.magnitude_spectrum(x, log=False, normalize=False, backend=backend)
    assert bool((raw[0] == 0).all()) and bool((raw[1] == 1).all())


# --------------------------------------------------------------------------------------
# 6. Radial profiles and power-law slopes
# --------------------------------------------------------------------------------------


def exact_ring_index(h: int, w: int, *, center: bool) -> np.ndarray:
    """Ring k of each bin with exact integer arithmetic: (k - 1/2)/S <= r < (k + 1/2)/S."""
    s = min(h, w)
    fy = np.rint(np.fft.fftfreq(h) * h).astype(np.int64)
    fx = np.rint(np.fft.fftfreq(w) * w).astype(np.int64)
    if center:
        fy, fx = np.fft.fftshift(fy), np.fft.fftshift(fx)
    # (2 r S)^2 * H^2 W^2 = 4 S^2 (k1^2 W^2 + k2^2 H^2)
    q = 4 * s * s * (fy[:, None] ** 2 * w * w + fx[None, :] ** 2 * h * h)
    k = np.floor(np.sqrt(q) / (2 * h * w) + 0.5).astype(np.int64)
    # repair floating rounding with exact integer comparisons
    k = np.where((k > 0) & ((2 * k - 1) ** 2 * h * h * w * w > q), k - 1, k)
    k = np.where((2 * k + 1) ** 2 * h * h * w * w <= q, k + 1, k)
    return k


@pytest.mark.parametrize("size", RADIAL_SIZES, ids=str)
@pytest.mark.parametrize("center", [True, False])
def test_radial_profile_of_ring_indicator(
    size: tuple[int, int], center: bool, dtype: torch.dtype
) -> None:
    h, w = size
    s = min(h, w)
    ring = exact_ring_index(h, w, center=center)
    n_bins = s // 2 + 1
    for k in range(n_bins):
        power = torch.from_numpy((ring == k).astype(np.float64)).to(dtype)[None, None]
        power = power.expand(2, 3, h, w).contiguous()
        radii, prof = sp.radial_profile(power, center=center)
        assert prof.shape == (2, 3, n_bins)
        want = torch.zeros(2, 3, n_bins, dtype=dtype)
        want[..., k] = 1.0
        torch.testing.assert_close(prof, want)
        assert radii.dtype == dtype and prof.dtype == dtype


@pytest.mark.parametrize("size", RADIAL_SIZES, ids=str)
def test_radial_profile_radii_and_constant(size: tuple[int, int], dtype: torch.dtype) -> None:
    h, w = size
    s = min(h, w)
    radii, prof = sp.radial_profile(torch.full((1, 2, h, w), 3.5, dtype=dtype))
    assert radii.shape == (s // 2 + 1,)
    torch.testing.assert_close(radii.diff(), torch.full((s // 2,), 1 / s, dtype=dtype))
    assert radii[0].item() == 0.0
    assert radii[-1].item() == pytest.approx((s // 2) / s, rel=1e-6)
    torch.testing.assert_close(prof, torch.full_like(prof, 3.5))
    # An explicit number of rings keeps the last ring on the highest frequency.
    for n in (2, 3, s + 4):
        r_n, p_n = sp.radial_profile(torch.full((1, 1, h, w), 2.0, dtype=dtype), n_bins=n)
        assert r_n.shape == (n,) and p_n.shape == (1, 1, n)
        assert r_n[-1].item() == pytest.approx((s // 2) / s, rel=1e-6)
        assert r_n[0].item() == 0.0
        filled = ~torch.isnan(p_n)
        assert bool(filled[..., 0].all())
        torch.testing.assert_close(p_n[filled], torch.full_like(p_n[filled], 2.0))


def test_radial_profile_empty_rings_are_nan() -> None:
    """8x8 bins sit 1/8 apart; 21 rings 1/40 apart leave most rings empty."""
    _, prof = sp.radial_profile(torch.ones(1, 1, 8, 8, dtype=torch.float64), n_bins=21)
    r = frequency_radius(8, 8)
    width = 0.5 / 20
    occupied = set(np.floor(r / width + 0.5).astype(int).reshape(-1).tolist())
    for k in range(21):
        assert math.isnan(prof[0, 0, k].item()) == (k not in occupied)


def test_radial_profile_centered_flag_is_consistent(gen: torch.Generator) -> None:
    x = rand((2, 1, 9, 12), torch.float64, gen)
    p_c = sp.power_spectrum(x, center=True)
    p_u = sp.power_spectrum(x, center=False)
    r1, a = sp.radial_profile(p_c, center=True)
    r2, b = sp.radial_profile(p_u, center=False)
    torch.testing.assert_close(r1, r2)
    torch.testing.assert_close(a, b)


def test_radial_profile_of_power_law(gen: torch.Generator) -> None:
    """Ring averages of an f(r) map equal f on rings where every member has the same radius.

    With f(r) = r**-2, rings containing a single radius (e.g. ring 1 of a square image
    contains the 4 bins at radius 1/N only) give exactly f(k/N).
    """
    n = 16
    r = frequency_radius(n, n)
    f = np.where(r > 0, r, 1.0) ** -2.0
    _, prof = sp.radial_profile(torch.from_numpy(f)[None, None])
    k = np.floor(r * n + 0.5).astype(int)
    for ring in range(n // 2 + 1):
        members = r[k == ring]
        if np.ptp(members) == 0:
            assert prof[0, 0, ring].item() == pytest.approx(f[k == ring][0], rel=1e-12)
        else:
            assert prof[0, 0, ring].item() == pytest.approx(f[k == ring].mean(), rel=1e-12)


@pytest.mark.parametrize("a", [0.5, 1.0, 1.5])
def test_powerlaw_slope_of_synthetic_image(
    a: float, rng: np.random.Generator, backend: str
) -> None:
    """Random phases, amplitude f^-a: the radial power spectrum falls as f^(-2a).

    The phases are those of white noise, so the spectrum stays Hermitian and the image
    is real; its power is exactly f^(-2a) / (H W) at every non-DC bin.
    """
    n = 64
    r = frequency_radius(n, n, center=False)
    amp = np.where(r > 0, r, 1.0) ** -a
    amp[0, 0] = 0.0
    f = np.fft.fft2(rng.standard_normal((3, n, n)))
    img = np.fft.ifft2(amp * f / np.abs(f))
    assert np.abs(img.imag).max() < 1e-12
    x = torch.from_numpy(img.real.copy())[None]
    p = sp.power_spectrum(x, center=False, backend=backend)
    np.testing.assert_allclose(
        np64(p)[0], np.broadcast_to(amp**2 / n**2, (3, n, n)), rtol=1e-8, atol=1e-14
    )
    radii, prof = sp.radial_profile(sp.power_spectrum(x, backend=backend))
    # Ring 1 averages f^(-2a) over radii 1/n .. 1.5/n, the most biased ring: skip it.
    slope = sp.powerlaw_slope(radii, prof, fmin=2 / n)
    assert slope.shape == (1, 3)
    torch.testing.assert_close(slope, torch.full_like(slope, -2 * a), rtol=0, atol=0.1)
    # And it is the slope of the noiseless map f(r)^2 itself.
    r_c = frequency_radius(n, n)
    exact = torch.from_numpy(np.where(r_c > 0, r_c, 1.0) ** (-2 * a))[None, None]
    r2, prof2 = sp.radial_profile(exact)
    want = sp.powerlaw_slope(r2, prof2, fmin=2 / n)
    torch.testing.assert_close(slope, want.expand_as(slope), rtol=0, atol=1e-6)


def test_powerlaw_slope_exact_and_selection() -> None:
    radii = torch.arange(9, dtype=torch.float64) / 16
    prof = torch.stack([3.0 * radii**-2.5, 0.1 * radii**1.0, torch.ones(9, dtype=torch.float64)])
    prof[:, 0] = 123.0  # DC is never used
    slope = sp.powerlaw_slope(radii, prof)
    torch.testing.assert_close(slope, torch.tensor([-2.5, 1.0, 0.0], dtype=torch.float64))
    # A broken power law: fmin/fmax select each segment.
    broken = torch.where(radii < 0.25, radii**-1.0, 0.25**-1.0 * (radii / 0.25) ** -3.0)
    broken[0] = 1.0
    lo = sp.powerlaw_slope(radii, broken, fmax=0.25)
    hi = sp.powerlaw_slope(radii, broken, fmin=0.25)
    assert lo.item() == pytest.approx(-1.0, abs=1e-12)
    assert hi.item() == pytest.approx(-3.0, abs=1e-12)
    # NaN and non-positive rings are skipped; fewer than two usable rings gives NaN.
    holes = 2.0 * radii**-2.0
    holes[3] = math.nan
    holes[5] = 0.0
    holes[6] = -1.0
    assert sp.powerlaw_slope(radii, holes).item() == pytest.approx(-2.0, abs=1e-12)
    one = torch.full((9,), math.nan, dtype=torch.float64)
    one[4] = 1.0
    assert math.isnan(sp.powerlaw_slope(radii, one).item())
    assert sp.powerlaw_slope(radii.float(), prof.float()).dtype == torch.float32


# --------------------------------------------------------------------------------------
# 7. Band energy
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_band_energy_is_a_distribution(
    backend: str, dtype: torch.dtype, size: tuple[int, int], gen: torch.Generator
) -> None:
    x = rand((3, 2, *size), dtype, gen)
    e = sp.band_energy(x, cutoffs=(0.15, 0.3), backend=backend)
    assert bool(((e >= 0) & (e <= 1)).all())
    atol = 1e-10 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(e.sum(-1), torch.ones(3, 2, dtype=dtype), rtol=0, atol=atol)


@pytest.mark.parametrize(
    ("size", "k1", "k2", "band"),
    [
        ((16, 16), 1, 0, 0),
        ((16, 16), 1, 1, 0),
        ((16, 16), 3, 0, 1),
        ((16, 16), 0, 7, 2),
        ((15, 16), 6, 5, 2),
        ((9, 7), 1, 0, 0),
        ((9, 7), 3, 3, 2),
    ],
)
def test_band_energy_of_cosines(
    backend: str, size: tuple[int, int], k1: int, k2: int, band: int
) -> None:
    h, w = size
    x = cosine(h, w, k1, k2) + 0.5  # a DC offset must not count
    r = math.hypot(k1 / h, k2 / w)
    assert band == (0 if r < 1 / 8 else 1 if r < 1 / 4 else 2)  # the case table is right
    e = sp.band_energy(x, backend=backend)[0, 0]
    want = torch.zeros(3, dtype=torch.float64)
    want[band] = 1.0
    torch.testing.assert_close(e, want, rtol=0, atol=1e-12)


def test_band_energy_zero_image_is_nan(
    backend: str, dtype: torch.dtype, gen: torch.Generator
) -> None:
    x = torch.zeros(2, 3, 8, 7, dtype=dtype)
    x[1] = rand((3, 8, 7), dtype, gen)
    e = sp.band_energy(x, backend=backend)
    assert bool(torch.isnan(e[0]).all())
    assert not torch.isnan(e[1]).any()


def test_band_energy_constant_image_is_nan() -> None:
    bad = []
    for b in BACKENDS:
        for dt in (torch.float32, torch.float64):
            for size in SIZES:
                x = torch.full((1, 1, *size), 0.3, dtype=dt)
                e = sp.band_energy(x, backend=b)
                if not bool(torch.isnan(e).all()):
                    bad.append((b, dt, size, e.tolist()))
    assert not bad, bad


# --------------------------------------------------------------------------------------
# 8. Filters
# --------------------------------------------------------------------------------------

FILTER_SIZES = [(8, 8), (7, 9), (16, 15), (1, 5), (2, 3)]


@pytest.mark.parametrize("size", FILTER_SIZES, ids=str)
@pytest.mark.parametrize("radius", [0.1, 0.23, 0.37])
def test_ideal_lowpass_removes_outside_keeps_inside(
    size: tuple[int, int], radius: float, dtype: torch.dtype, gen: torch.Generator
) -> None:
    h, w = size
    x = randn((2, 3, h, w), dtype, gen)
    y = sp.lowpass(x, radius)
    assert_like(y, x)
    r = torch.from_numpy(frequency_radius(h, w))
    assert not bool((r - radius).abs().lt(1e-9).any())  # no bin on the edge
    px = sp.power_spectrum(x.double())
    py = sp.power_spectrum(y.double())
    scale = float(px.max())
    atol = (1e-12 if dtype == torch.float64 else 1e-5) * scale
    inside = r <= radius
    torch.testing.assert_close(py[..., inside], px[..., inside], rtol=0, atol=atol)
    if bool((~inside).any()):
        assert py[..., ~inside].abs().max().item() <= atol
    # An ideal low-pass is a projection.
    proj_tol = 1e-12 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(sp.lowpass(y, radius), y, rtol=0, atol=proj_tol)


@pytest.mark.parametrize("kind", ["ideal", "butterworth", "gaussian"])
@pytest.mark.parametrize("size", FILTER_SIZES, ids=str)
def test_lowpass_plus_highpass_is_identity(
    kind: str, size: tuple[int, int], dtype: torch.dtype, gen: torch.Generator
) -> None:
    x = randn((2, 3, *size), dtype, gen)
    lo = sp.lowpass(x, 0.2, kind=kind, order=3)
    hi = sp.highpass(x, 0.2, kind=kind, order=3)
    assert_like(lo, x)
    assert_like(hi, x)
    atol = 1e-12 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(lo + hi, x, rtol=0, atol=atol)
    # Low-pass keeps the mean exactly (gain 1 at DC); the high-pass removes it.
    torch.testing.assert_close(lo.mean((-2, -1)), x.mean((-2, -1)), rtol=0, atol=atol)
    torch.testing.assert_close(hi.mean((-2, -1)), torch.zeros(2, 3, dtype=dtype), rtol=0, atol=atol)


def test_lowpass_tiny_radius_is_mean(gen: torch.Generator) -> None:
    x = rand((2, 3, 7, 10), torch.float64, gen)
    torch.testing.assert_close(sp.lowpass(x, 1e-3), x.mean((-2, -1), keepdim=True).expand_as(x))
    torch.testing.assert_close(sp.lowpass(x, 0.75), x)  # beyond every bin's radius


@pytest.mark.parametrize("kind", ["butterworth", "gaussian"])
@pytest.mark.parametrize(
    ("size", "k1", "k2"), [((16, 16), 2, 3), ((15, 16), 0, 5), ((9, 7), 4, 0), ((8, 11), 1, 2)]
)
@pytest.mark.parametrize("order", [1, 2, 4])
def test_smooth_filters_gain_half_at_cutoff(
    kind: str, size: tuple[int, int], k1: int, k2: int, order: int
) -> None:
    h, w = size
    x = cosine(h, w, k1, k2, 2.0)
    cutoff = float(frequency_radius(h, w, half=True)[k1 % h, k2])
    assert cutoff == pytest.approx(math.hypot(k1 / h, k2 / w), rel=1e-12)
    lo = sp.lowpass(x, cutoff, kind=kind, order=order)
    hi = sp.highpass(x, cutoff, kind=kind, order=order)
    # A cosine passes a real symmetric filter as the same cosine times the gain.
    torch.testing.assert_close(lo, 0.5 * x, rtol=0, atol=1e-12)
    torch.testing.assert_close(hi, 0.5 * x, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", ["butterworth", "gaussian"])
@pytest.mark.parametrize("cutoff", [0.1, 0.2, 0.33])
def test_smooth_filters_measured_gain_equals_transfer_function(kind: str, cutoff: float) -> None:
    h, w, order = 16, 15, 3
    sigma = cutoff / math.sqrt(2 * math.log(2))
    for k1, k2 in [(1, 0), (2, 3), (0, 5), (6, 6), (8, 7)]:
        x = cosine(h, w, k1, k2)
        r = math.hypot(((k1 + h // 2) % h - h // 2) / h, k2 / w)
        if kind == "butterworth":
            gain = 1 / (1 + (r / cutoff) ** (2 * order))
        else:
            gain = math.exp(-(r**2) / (2 * sigma**2))
        y = sp.lowpass(x, cutoff, kind=kind, order=order)
        measured = float((y * x).sum() / (x * x).sum())
        assert measured == pytest.approx(gain, rel=1e-9, abs=1e-12)
        torch.testing.assert_close(y, gain * x, rtol=0, atol=1e-12)


def test_butterworth_order_sharpens(gen: torch.Generator) -> None:
    """Higher order: closer to the ideal filter."""
    x = randn((1, 1, 32, 32), torch.float64, gen)
    ideal = sp.lowpass(x, 0.21)
    errs = [
        float((sp.lowpass(x, 0.21, kind="butterworth", order=n) - ideal).norm())
        for n in (1, 2, 4, 16)
    ]
    assert errs == sorted(errs, reverse=True)
    assert errs[0] > errs[-1]


@pytest.mark.parametrize("kind", ["ideal", "butterworth", "gaussian"])
def test_filter_gradcheck(kind: str, gen: torch.Generator) -> None:
    x = randn((1, 2, 4, 5), torch.float64, gen).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: sp.lowpass(t, 0.3, kind=kind), (x,))
    assert torch.autograd.gradcheck(lambda t: sp.highpass(t, 0.3, kind=kind), (x,))


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(log=True, normalize=False),
        dict(log=False, normalize=False, center=False),
        dict(log=True, normalize=True),
    ],
    ids=str,
)
def test_magnitude_gradcheck(kwargs: dict[str, bool], gen: torch.Generator) -> None:
    x = randn((1, 2, 4, 5), torch.float64, gen).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda t: sp.magnitude_spectrum(t, backend="torch", **kwargs), (x,)
    )


def test_power_and_band_energy_gradcheck(gen: torch.Generator) -> None:
    x = randn((1, 2, 5, 4), torch.float64, gen).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: sp.power_spectrum(t, backend="torch"), (x,))
    assert torch.autograd.gradcheck(lambda t: sp.band_energy(t, backend="torch"), (x,))


def test_auto_backend_carries_gradients(gen: torch.Generator) -> None:
    x = rand((1, 1, 6, 6), torch.float64, gen).requires_grad_()
    for fn in (sp.magnitude_spectrum, sp.power_spectrum, sp.phase_spectrum, sp.band_energy):
        out = fn(x)
        assert out.requires_grad
        (g,) = torch.autograd.grad(out.sum(), x)
        assert g.shape == x.shape and bool(torch.isfinite(g).all())
    # Under no_grad a CPU backend is allowed again.
    with torch.no_grad():
        out = sp.power_spectrum(x, backend="numpy")
    assert not out.requires_grad


# --------------------------------------------------------------------------------------
# 9. compare_spectra
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(8, 8), (7, 9), (1, 5)], ids=str)
def test_compare_spectra_fields(
    backend: str, dtype: torch.dtype, size: tuple[int, int], gen: torch.Generator
) -> None:
    clean = rand((2, 3, *size), dtype, gen)
    adv = (clean + 0.05 * randn((2, 3, *size), dtype, gen)).to(dtype)
    cut = (0.1, 0.3)
    cmp = sp.compare_spectra(clean, adv, cutoffs=cut, backend=backend)
    assert isinstance(cmp, sp.SpectrumComparison)
    for t in (cmp.clean, cmp.adversarial, cmp.perturbation, cmp.difference):
        assert_like(t, clean)
        assert t.shape == clean.shape
    diff_ref = shift(np.log1p(np.abs(ref_fft(adv))) - np.log1p(np.abs(ref_fft(clean))))
    np.testing.assert_allclose(
        np64(cmp.difference), diff_ref, rtol=0, atol=1e-10 if dtype == torch.float64 else 1e-4
    )
    assert_close(
        cmp.perturbation, ref_magnitude(adv - clean, log=True, normalize=True, center=True), dtype
    )
    assert_close(cmp.clean, ref_magnitude(clean, log=True, normalize=True, center=True), dtype)
    assert_close(cmp.adversarial, ref_magnitude(adv, log=True, normalize=True, center=True), dtype)
    atol = 1e-12 if dtype == torch.float64 else 1e-5
    np.testing.assert_allclose(
        np64(cmp.band_energy_clean), brute_band_energy(clean, cut), atol=atol
    )
    np.testing.assert_allclose(
        np64(cmp.band_energy_adversarial), brute_band_energy(adv, cut), atol=atol
    )
    np.testing.assert_allclose(
        np64(cmp.band_energy_perturbation), brute_band_energy(adv - clean, cut), atol=atol
    )
    torch.testing.assert_close(cmp.band_shift, cmp.band_energy_adversarial - cmp.band_energy_clean)
    assert cmp.cutoffs == cut


def test_compare_spectra_to_dict_is_json(gen: torch.Generator) -> None:
    clean = rand((3, 2, 8, 8), torch.float64, gen)
    clean[0, 1] = 0.0  # no non-DC energy -> NaN band fractions for this map
    adv = clean + 0.01 * randn((3, 2, 8, 8), torch.float64, gen)
    adv[0, 1] = 0.0
    cmp = sp.compare_spectra(clean, adv)
    d = cmp.to_dict(per_image=True)
    text = json.dumps(d, allow_nan=False)  # raises on NaN / Inf
    back = json.loads(text)
    assert set(back["band_energy"]) == {"clean", "adversarial", "perturbation", "shift"}
    assert back["shape"] == [3, 2, 8, 8]
    # Means ignore NaN maps; they equal a nanmean of the tensors.
    want = np.nanmean(np64(cmp.band_energy_clean).reshape(-1, 3), axis=0)
    np.testing.assert_allclose(back["band_energy"]["clean"], want, rtol=1e-12)
    want_shift = np.nanmean(np64(cmp.band_shift).reshape(-1, 3), axis=0)
    np.testing.assert_allclose(back["band_energy"]["shift"], want_shift, rtol=1e-12, atol=1e-15)
    assert back["per_image"]["clean"][0][1] == [None, None, None]
    assert back["per_image"]["clean"][1][0] == pytest.approx(cmp.band_energy_clean[1, 0].tolist())
    assert "per_image" not in cmp.to_dict()
    # identical images: the perturbation is exactly zero everywhere -> all None
    same = sp.compare_spectra(clean, clean.clone()).to_dict()
    json.dumps(same, allow_nan=False)
    assert same["band_energy"]["perturbation"] == [None, None, None]


def test_compare_spectra_is_frozen(gen: torch.Generator) -> None:
    x = rand((1, 1, 4, 4), torch.float64, gen)
    cmp = sp.compare_spectra(x, x + 0.1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cmp.clean = x  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cmp.cutoffs = (0.1, 0.2)  # type: ignore[misc]


def test_spectrum_summary_matches_parts(
    backend: str, dtype: torch.dtype, gen: torch.Generator
) -> None:
    x = rand((2, 3, 16, 12), dtype, gen)
    x[1, 0] = 0.0  # a map without non-DC energy: NaN bands
    cut = (0.1, 0.3)
    s = sp.spectrum_summary(x, cutoffs=cut, backend=backend)
    torch.testing.assert_close(s.magnitude, sp.magnitude_spectrum(x, backend=backend))
    radii, prof = sp.radial_profile(sp.power_spectrum(x, backend=backend))
    torch.testing.assert_close(s.radii, radii)
    torch.testing.assert_close(s.radial_power, prof)
    torch.testing.assert_close(s.slope, sp.powerlaw_slope(radii, prof), equal_nan=True)
    torch.testing.assert_close(
        s.band_energy, sp.band_energy(x, cutoffs=cut, backend=backend), equal_nan=True
    )
    assert s.cutoffs == cut
    d = json.loads(json.dumps(s.to_dict(), allow_nan=False))
    assert d["shape"] == [2, 3, 16, 12]
    assert d["band_energy"][1][0] == [None, None, None]
    assert d["band_energy"][0][1] == pytest.approx(s.band_energy[0, 1].tolist())
    assert d["radial_slope"][0][2] == pytest.approx(s.slope[0, 2].item())
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.slope = s.slope  # type: ignore[misc]


# --------------------------------------------------------------------------------------
# devices
# --------------------------------------------------------------------------------------


def _all_outputs(x: torch.Tensor, backend: str) -> list[torch.Tensor]:
    r, prof = sp.radial_profile(sp.power_spectrum(x, backend=backend))
    cmp = sp.compare_spectra(x, x * 0.9, backend=backend)
    return [
        sp.magnitude_spectrum(x, backend=backend),
        sp.power_spectrum(x, backend=backend),
        sp.phase_spectrum(x, backend=backend),
        sp.band_energy(x, backend=backend),
        sp.lowpass(x, 0.2),
        sp.highpass(x, 0.2, kind="gaussian"),
        r,
        prof,
        cmp.difference,
        cmp.band_energy_perturbation,
    ]


def test_cpu_results_stay_on_cpu(backend: str, dtype: torch.dtype, gen: torch.Generator) -> None:
    x = rand((2, 3, 8, 6), dtype, gen)
    for out in _all_outputs(x, backend):
        assert out.device.type == "cpu"
        assert out.dtype == dtype


@cuda
def test_cuda_results_stay_on_device(
    backend: str, dtype: torch.dtype, gen: torch.Generator
) -> None:
    x_cpu = rand((2, 3, 8, 6), dtype, gen)
    x = x_cpu.to("cuda")
    outs = _all_outputs(x, backend)
    refs = _all_outputs(x_cpu, backend)
    for k, (out, ref) in enumerate(zip(outs, refs, strict=True)):
        assert out.device == x.device
        assert out.dtype == dtype
        if k != 2:  # phases of near-zero bins are arbitrary
            torch.testing.assert_close(out.cpu(), ref, rtol=1e-4, atol=1e-4, equal_nan=True)
