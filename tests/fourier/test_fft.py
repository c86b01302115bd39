"""Backends, the Hermitian expansion, the FFTW plan cache and the chunked engine."""

from __future__ import annotations

import numpy as np
import pyfftw
import pytest
import torch

import spectral as sp
import spectral.fourier as sfft
import spectral.fourier.engine as engine
from spectral.errors import SpectralTypeError, SpectralValueError
from spectral.fourier import Backend

CPU_BACKENDS = [Backend.NUMPY, Backend.SCIPY, Backend.PYFFTW]
ALL_BACKENDS = [Backend.TORCH, *CPU_BACKENDS]
EXPAND_SIZES = [(h, w) for h in (1, 2, 3, 4, 5, 8, 9) for w in (1, 2, 3, 4, 7, 10)]


@pytest.fixture
def restore_auto_order():
    original = sp.fourier.auto_order()
    try:
        yield original
    finally:
        sp.fourier.set_auto_order(original)
    assert sp.fourier.auto_order() == original


# --------------------------------------------------------------------------------------
# backend resolution
# --------------------------------------------------------------------------------------


def test_available_backends() -> None:
    avail = sp.fourier.available_backends()
    assert set(avail) == {Backend.TORCH, Backend.NUMPY, Backend.SCIPY, Backend.PYFFTW}
    assert Backend.AUTO not in avail


def test_auto_picks_torch_when_gradients_are_needed() -> None:
    x = torch.zeros(1, 1, 4, 4, requires_grad=True)
    assert sfft.resolve_backend("auto", x) is Backend.TORCH
    assert sfft.resolve_backend(Backend.AUTO, x) is Backend.TORCH
    with torch.no_grad():  # no gradients needed: the CPU preference applies again
        assert sfft.resolve_backend("auto", x) is sp.fourier.auto_order()[0]


@pytest.mark.parametrize("name", ["pyfftw", "numpy", "scipy", Backend.SCIPY])
def test_cpu_backend_refuses_gradients(name: str) -> None:
    x = torch.zeros(1, 1, 4, 4, requires_grad=True)
    with pytest.raises(SpectralValueError, match="grad"):
        sfft.resolve_backend(name, x)
    with pytest.raises(SpectralValueError, match="grad"):
        sp.power_spectrum(x, backend=name)
    with torch.no_grad():
        assert sfft.resolve_backend(name, x) is Backend(name)
    assert sfft.resolve_backend("torch", x) is Backend.TORCH


@pytest.mark.parametrize("name", ["fftw", "Torch", "", "cuda"])
def test_unknown_backend_lists_valid_names(name: object) -> None:
    x = torch.zeros(1, 1, 4, 4)
    with pytest.raises(SpectralValueError) as info:
        sfft.resolve_backend(name, x)  # type: ignore[arg-type]
    msg = str(info.value)
    for valid in ("auto", "torch", "numpy", "scipy", "pyfftw"):
        assert repr(valid) in msg
    assert repr(name) in msg
    assert isinstance(info.value, ValueError)
    with pytest.raises(SpectralValueError):
        sp.magnitude_spectrum(x, backend=name)  # type: ignore[arg-type]
    with pytest.raises(SpectralValueError):
        sp.SpectrumAccumulator(backend=name)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", [3, None, 1.5])
def test_backend_of_wrong_type_is_a_type_error(name: object) -> None:
    with pytest.raises(SpectralTypeError) as info:
        sfft.resolve_backend(name, torch.zeros(1, 1, 4, 4))  # type: ignore[arg-type]
    msg = str(info.value)
    assert msg.startswith("backend:") and type(name).__name__ in msg
    for valid in ("auto", "torch", "numpy", "scipy", "pyfftw"):
        assert repr(valid) in msg
    assert isinstance(info.value, TypeError)
    with pytest.raises(SpectralTypeError):
        sp.magnitude_spectrum(torch.zeros(1, 1, 4, 4), backend=name)  # type: ignore[arg-type]
    with pytest.raises(SpectralTypeError):
        sp.SpectrumAccumulator(backend=name)  # type: ignore[arg-type]


def test_set_auto_order_round_trip(restore_auto_order: list[Backend]) -> None:
    x = torch.zeros(1, 1, 4, 4)
    sp.fourier.set_auto_order(["numpy", "torch"])
    order = sp.fourier.auto_order()
    assert order[:2] == [Backend.NUMPY, Backend.TORCH]
    assert sorted(order) == sorted(ALL_BACKENDS)  # left-out backends are appended
    assert len(order) == 4
    assert sfft.resolve_backend("auto", x) is Backend.NUMPY
    sp.fourier.set_auto_order([Backend.SCIPY, "scipy"])  # duplicates collapse
    assert sp.fourier.auto_order()[0] is Backend.SCIPY and len(sp.fourier.auto_order()) == 4
    assert sfft.resolve_backend("auto", x) is Backend.SCIPY
    sp.fourier.set_auto_order(restore_auto_order)
    assert sp.fourier.auto_order() == restore_auto_order
    # auto_order returns a copy: mutating it changes nothing.
    sp.fourier.auto_order().clear()
    assert sp.fourier.auto_order() == restore_auto_order


@pytest.mark.parametrize("order", [["auto"], ["numpy", "nope"], ["FFTW"]])
def test_set_auto_order_rejects_bad_names(
    order: list[str], restore_auto_order: list[Backend]
) -> None:
    with pytest.raises(SpectralValueError):
        sp.fourier.set_auto_order(order)
    assert sp.fourier.auto_order() == restore_auto_order  # unchanged on error


def test_calibrate_sets_order(restore_auto_order: list[Backend]) -> None:
    sp.fourier.set_auto_order(["torch"])
    times = sp.fourier.benchmark_backends((2, 1, 8, 8), repeats=1)
    assert set(times) == {b.value for b in sp.fourier.available_backends()}
    assert all(t > 0 for t in times.values())
    assert list(times.values()) == sorted(times.values())  # fastest first
    assert [b.value for b in sp.fourier.auto_order()] == list(times)


# --------------------------------------------------------------------------------------
# whole-array transforms
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ALL_BACKENDS, ids=lambda b: b.value)
@pytest.mark.parametrize("size", [(8, 8), (7, 9), (16, 15), (1, 5), (2, 3), (1, 1)], ids=str)
@pytest.mark.parametrize("np_dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_fft2_and_rfft2_match_numpy(
    backend: Backend, size: tuple[int, int], np_dtype: type, rng: np.random.Generator
) -> None:
    a = rng.standard_normal((2, 3, *size)).astype(np_dtype)
    a_before = a.copy()
    full = sfft.fft2(a, backend)
    half = sfft.rfft2(a, backend)
    ref = np.fft.fft2(a.astype(np.float64))
    ref_half = np.fft.rfft2(a.astype(np.float64))
    tol = 1e-12 if np_dtype == np.float64 else 1e-5
    scale = np.abs(ref).max()
    assert full.shape == a.shape and half.shape == (*a.shape[:-1], size[1] // 2 + 1)
    np.testing.assert_allclose(full, ref, rtol=0, atol=tol * scale)
    np.testing.assert_allclose(half, ref_half, rtol=0, atol=tol * scale)
    want = np.complex128 if np_dtype == np.float64 else np.complex64
    assert full.dtype == want and half.dtype == want
    np.testing.assert_array_equal(a, a_before)


def test_pyfftw_results_are_not_shared_buffers(rng: np.random.Generator) -> None:
    """rfft2/fft2 must return fresh arrays, not the cached plan's output buffer."""
    a = rng.standard_normal((2, 6, 6))
    b = rng.standard_normal((2, 6, 6))
    fa = sfft.rfft2(a, Backend.PYFFTW)
    fa_copy = fa.copy()
    sfft.rfft2(b, Backend.PYFFTW)
    np.testing.assert_array_equal(fa, fa_copy)
    ga = sfft.fft2(a, Backend.PYFFTW)
    ga_copy = ga.copy()
    sfft.fft2(b, Backend.PYFFTW)
    np.testing.assert_array_equal(ga, ga_copy)


@pytest.mark.parametrize("np_dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_pyfftw_misaligned_input(np_dtype: type, rng: np.random.Generator) -> None:
    shape = (3, 2, 16, 15)
    n = int(np.prod(shape))
    big = pyfftw.empty_aligned(n + 1, dtype=np_dtype)
    big[:] = rng.standard_normal(n + 1)
    view = big[1:].reshape(shape)  # data pointer one element past an aligned address
    assert view.ctypes.data % pyfftw.simd_alignment != 0
    x = torch.from_numpy(view)
    assert x.data_ptr() == view.ctypes.data
    before = x.clone()
    h, w = shape[-2:]
    ref = np.fft.fftshift(
        np.abs(np.fft.fft2(view.astype(np.float64))) ** 2 / (h * w), axes=(-2, -1)
    )
    tol = 1e-12 if np_dtype == np.float64 else 1e-5
    p = sp.power_spectrum(x, backend="pyfftw")
    np.testing.assert_allclose(p.numpy(), ref, rtol=0, atol=tol * ref.max())
    m = sp.magnitude_spectrum(x, log=False, normalize=False, backend="pyfftw")
    np.testing.assert_allclose(
        m.numpy(), np.sqrt(ref * h * w), rtol=0, atol=tol * np.sqrt(ref.max() * h * w)
    )
    full = sfft.fft2(view, Backend.PYFFTW)
    np.testing.assert_allclose(
        full, np.fft.fft2(view.astype(np.float64)), rtol=0, atol=tol * np.abs(full).max()
    )
    assert torch.equal(x, before)  # the input is left as found
    # Aligned and misaligned copies of the same data give the same result.
    aligned = pyfftw.empty_aligned(shape, dtype=np_dtype)
    aligned[...] = view
    assert aligned.ctypes.data % pyfftw.simd_alignment == 0
    torch.testing.assert_close(
        sp.power_spectrum(torch.from_numpy(aligned), backend="pyfftw"), p, rtol=0, atol=0
    )
    np.testing.assert_array_equal(aligned, view)


def test_pyfftw_aligned_input_not_modified(rng: np.random.Generator) -> None:
    a = pyfftw.empty_aligned((4, 1, 8, 10), dtype=np.float64)
    a[...] = rng.standard_normal(a.shape)
    before = a.copy()
    x = torch.from_numpy(a)
    sp.magnitude_spectrum(x, backend="pyfftw")
    sp.band_energy(x, backend="pyfftw")
    sp.SpectrumAccumulator(backend="pyfftw").update(x)
    np.testing.assert_array_equal(a, before)


def test_wisdom_round_trip(tmp_path, rng: np.random.Generator) -> None:
    sfft.rfft2(rng.standard_normal((3, 12, 10)), Backend.PYFFTW)  # plan something
    path = tmp_path / "wisdom.pkl"
    sfft.save_wisdom(path)
    assert path.stat().st_size > 0
    saved = pyfftw.export_wisdom()
    assert any(b"fftw_wisdom" in w and len(w.splitlines()) > 2 for w in saved)

    def lines(wisdom: tuple[bytes, ...]) -> list[set[bytes]]:
        # FFTW may list the same wisdom in another order after a re-import
        return [set(w.splitlines()) for w in wisdom]

    pyfftw.forget_wisdom()
    try:
        assert lines(pyfftw.export_wisdom()) != lines(saved)  # really forgotten
        sfft.load_wisdom(str(path))
        assert lines(pyfftw.export_wisdom()) == lines(saved)
    finally:
        pyfftw.import_wisdom(saved)


def test_bad_planner_env_is_reported(
    monkeypatch: pytest.MonkeyPatch, rng: np.random.Generator
) -> None:
    monkeypatch.setenv("SPECTRAL_FFTW_PLANNER", "FFTW_FAST_PLEASE")
    # a shape no other test plans, so a new plan is needed
    with pytest.raises(SpectralValueError, match="FFTW_FAST_PLEASE"):
        sfft.rfft2(rng.standard_normal((1, 13, 11)), Backend.PYFFTW)


# --------------------------------------------------------------------------------------
# Hermitian expansion
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", EXPAND_SIZES, ids=str)
@pytest.mark.parametrize("center", [True, False], ids=["c", "nc"])
def test_expand_half_matches_full_spectrum(
    size: tuple[int, int], center: bool, rng: np.random.Generator
) -> None:
    h, w = size
    a = rng.standard_normal((2, 3, h, w))
    half = np.abs(np.fft.rfft2(a)) ** 2
    full = np.abs(np.fft.fft2(a)) ** 2
    want = np.fft.fftshift(full, axes=(-2, -1)) if center else full
    # slices
    out = np.full(a.shape, np.nan)
    sfft.expand_half(half, out, center=center)
    np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-12)
    # index arrays: the same values (for column 0 and the Nyquist column the half
    # spectrum holds both S[k] and S[-k], equal up to round-off; either may be picked)
    idx = sfft.expand_index(h, w, center=center)
    via_idx = half.reshape(2, 3, -1)[..., idx].reshape(a.shape)
    np.testing.assert_allclose(via_idx, out, rtol=1e-14, atol=0)
    np.testing.assert_allclose(via_idx, want, rtol=1e-12, atol=1e-12)
    # the torch version uses the index arrays
    t = sfft.expand_half_torch(torch.from_numpy(half), w, center=center)
    np.testing.assert_array_equal(t.numpy(), via_idx)
    # An exactly symmetric full spectrum S[k] == S[-k] is reproduced exactly.
    g = rng.standard_normal((2, 3, h, w))
    s_full = g + np.roll(g[..., ::-1, ::-1], (1, 1), axis=(-2, -1))  # g[k] + g[-k]
    assert np.array_equal(s_full, np.roll(s_full[..., ::-1, ::-1], (1, 1), axis=(-2, -1)))
    s_half = np.ascontiguousarray(s_full[..., : w // 2 + 1])
    s_want = np.fft.fftshift(s_full, axes=(-2, -1)) if center else s_full
    s_out = np.empty_like(s_full)
    sfft.expand_half(s_half, s_out, center=center)
    np.testing.assert_array_equal(s_out, s_want)
    np.testing.assert_array_equal(s_half.reshape(2, 3, -1)[..., idx].reshape(a.shape), s_want)
    # Each half entry is used; indices are in range.
    assert idx.min() >= 0 and idx.max() < h * (w // 2 + 1)
    assert set(idx.tolist()) == set(range(h * (w // 2 + 1)))


@pytest.mark.parametrize("size", [(1, 1), (2, 2), (5, 4), (6, 7)], ids=str)
def test_expand_index_conjugate_rule(size: tuple[int, int], rng: np.random.Generator) -> None:
    """For complex values, mirrored entries are conjugates (Hermitian symmetry)."""
    h, w = size
    a = rng.standard_normal((h, w))
    half = np.fft.rfft2(a)
    full = np.fft.fft2(a)
    idx = sfft.expand_index(h, w, center=False)
    got = half.reshape(-1)[idx].reshape(h, w)
    mirrored = np.arange(w)[None, :] > w // 2
    got = np.where(mirrored, np.conj(got), got)
    np.testing.assert_allclose(got, full, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------------------
# the chunked engine
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", CPU_BACKENDS, ids=lambda b: b.value)
@pytest.mark.parametrize("chunk_bytes", [1, 1500, 10**7])
def test_map_half_spectra_covers_every_item_once(
    backend: Backend, chunk_bytes: int, monkeypatch: pytest.MonkeyPatch, rng: np.random.Generator
) -> None:
    monkeypatch.setattr(engine, "_CHUNK_BYTES", chunk_bytes)
    a = rng.standard_normal((11, 2, 6, 5))
    seen = np.zeros(11, dtype=int)
    got = np.empty((11, 2, 6, 3), dtype=complex)

    def fn(state: list[tuple[int, int]], half: np.ndarray, lo: int, hi: int) -> None:
        assert half.shape == (hi - lo, 2, 6, 3)
        seen[lo:hi] += 1
        got[lo:hi] = half
        state.append((lo, hi))

    states = sfft.map_half_spectra(a, backend, fn, list)
    assert (seen == 1).all()
    np.testing.assert_allclose(got, np.fft.rfft2(a), rtol=0, atol=1e-12)
    chunks = sorted(c for s in states for c in s)
    assert sum(hi - lo for lo, hi in chunks) == 11
    if chunk_bytes == 1:
        assert len(chunks) == 11  # one image per chunk
    if chunk_bytes == 10**7:
        assert chunks == [(0, 11)]


@pytest.mark.parametrize("backend", CPU_BACKENDS, ids=lambda b: b.value)
def test_map_half_spectra_chunk_bytes_argument(backend: Backend, rng: np.random.Generator) -> None:
    a = rng.standard_normal((9, 4, 6))
    item = 4 * (6 // 2 + 1) * 2 * 8  # bytes of one image's half spectrum

    def fn(state: list[tuple[int, int]], half: np.ndarray, lo: int, hi: int) -> None:
        state.append((lo, hi))

    states = sfft.map_half_spectra(a, backend, fn, list, chunk_bytes=2 * item)
    chunks = sorted(c for s in states for c in s)
    assert chunks == [(0, 2), (2, 4), (4, 6), (6, 8), (8, 9)]


@pytest.mark.parametrize("backend", CPU_BACKENDS, ids=lambda b: b.value)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_map_half_spectra_detects_non_finite(
    backend: Backend, bad: float, rng: np.random.Generator
) -> None:
    a = rng.standard_normal((6, 5, 4))
    a[4, 2, 3] = bad
    with pytest.raises(SpectralValueError, match=r"^images: expected finite values"):
        with np.errstate(invalid="ignore"):
            sfft.map_half_spectra(
                a, backend, lambda *_: None, lambda: None, name="images", chunk_bytes=1
            )


def test_map_half_spectra_refuses_torch() -> None:
    with pytest.raises(SpectralValueError, match="torch"):
        sfft.map_half_spectra(np.zeros((1, 4, 4)), Backend.TORCH, lambda *_: None, lambda: None)
