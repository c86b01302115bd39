"""Fourier heat maps (Yin et al. 2019) checked against constructed models with known answers.

Every expected map here is derived from the mathematics, not from a previous run: the basis
is compared with the ``cos`` formula and its DFT, detector models that see exactly one
frequency pin the centred layout, a model behind an ideal low-pass must be blind to the
high frequencies, and sign-reading models check the random signs and their statistics.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from torch import nn

import spectral as sp
from spectral.analysis import fourier_basis, fourier_heatmap, heatmap_bands
from spectral.errors import SpectralTypeError, SpectralValueError

# --------------------------------------------------------------------- helpers


def cos_basis(size: tuple[int, int], freq: tuple[int, int]) -> np.ndarray:
    """Unit-norm ``cos(2 pi (k_y y / H + k_x x / W))`` computed directly, float64."""
    h, w = size
    y = np.arange(h)[:, None]
    x = np.arange(w)[None, :]
    u = np.cos(2 * np.pi * (freq[0] * y / h + freq[1] * x / w))
    return u / np.linalg.norm(u)


def centred_freqs(h: int, w: int) -> list[tuple[int, int, int, int]]:
    """``(row, col, k_y, k_x)`` of every cell of a centred ``h x w`` map (documented layout)."""
    return [(r, c, r - h // 2, c - w // 2) for r in range(h) for c in range(w)]


def n_unique_pairs(h: int, w: int) -> int:
    """Number of frequency classes ``{k, -k}`` of an ``h x w`` DFT, by brute force."""
    pairs = {
        frozenset({(ky % h, kx % w), ((-ky) % h, (-kx) % w)}) for ky in range(h) for kx in range(w)
    }
    return len(pairs)


def mirrored(heat: torch.Tensor) -> torch.Tensor:
    """``M[k] -> M[-k]`` on a centred map, via the uncentred layout (independent of the module)."""
    m = torch.fft.ifftshift(heat)
    m = torch.roll(torch.flip(m, (0, 1)), (1, 1), (0, 1))
    return torch.fft.fftshift(m)


class ProjectionDetector(nn.Module):
    """Class 1 iff ``sum_c |<x_c - 0.5, U>|`` exceeds ``thr``: sees only the frequency of ``U``."""

    def __init__(self, basis: np.ndarray, thr: float) -> None:
        super().__init__()
        self.register_buffer("u", torch.from_numpy(basis))
        self.thr = thr

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = ((x.double() - 0.5) * self.u).sum((-2, -1)).abs().sum(1)
        return torch.stack([torch.full_like(p, self.thr), p], 1)


class SignReader(nn.Module):
    """Class ``sum_c 2^c [x_c(0, 0) > 0.5]``: reads each channel's sign off pixel (0, 0).

    With images equal to 0.5 at pixel (0, 0), a perturbation ``eps s_c U`` moves that pixel by
    ``eps s_c U[0, 0]`` and ``U[0, 0] = 1 / ||cos|| > 0`` for every frequency, so the class is
    the bit pattern of the signs ``s_c = +1``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bits = (x[:, :, 0, 0] > 0.5).long()
        cls = (bits * (2 ** torch.arange(x.shape[1]))).sum(1)
        return nn.functional.one_hot(cls, 2 ** x.shape[1]).to(x.dtype)


class LowpassLinear(nn.Module):
    """Linear logits of an ideal (circular, ``r <= radius``) low-pass of the input."""

    def __init__(self, c: int, h: int, w: int, k: int, radius: float, seed: int) -> None:
        super().__init__()
        fy = torch.fft.fftfreq(h, dtype=torch.float64)
        fx = torch.fft.fftfreq(w, dtype=torch.float64)
        mask = (torch.hypot(fy[:, None], fx[None, :]) <= radius).double()
        g = torch.Generator().manual_seed(seed)
        self.register_buffer("mask", mask)
        self.register_buffer("weight", torch.randn(k, c * h * w, generator=g, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low = torch.fft.ifft2(torch.fft.fft2(x.double() - 0.5) * self.mask).real
        return low.flatten(1) @ self.weight.T


def small_cnn(seed: int = 0, dtype: torch.dtype = torch.float32) -> nn.Module:
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(32, 4),
    ).to(dtype)
    with torch.no_grad():  # non-trivial running statistics
        model.train()
        model(torch.rand(16, 3, 8, 8, dtype=dtype) * 3)
    return model


def images_and_labels(
    n: int, c: int, h: int, w: int, seed: int, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, c, h, w, generator=g, dtype=dtype)


# ------------------------------------------------------------------- the basis

SIZES = [(8, 8), (7, 7), (6, 9), (9, 4), (5, 6), (1, 6), (4, 1), (32, 32)]


def _freqs_for(h: int, w: int) -> list[tuple[int, int]]:
    """DC, Nyquist rows/cols, ordinary, negative and aliased frequencies of an ``h x w`` image."""
    ks = [
        (0, 0),
        (h // 2, 0),
        (0, w // 2),
        (h // 2, w // 2),
        (1, 0),
        (0, 1),
        (1, 2),
        (-1, 2),
        (-(h // 2), -(w // 2)),
        (h + 1, -w - 2),
        (3 * h - 2, 5 * w + 1),
        (-7 * h, w - 1),
        (10**6 + 3, -(10**6) - 1),
    ]
    return ks


BASIS_CASES = [(s, k) for s in SIZES for k in _freqs_for(*s)]


@pytest.mark.parametrize(("size", "freq"), BASIS_CASES)
def test_basis_is_unit_real_and_has_exactly_two_dft_bins(size, freq, dtype) -> None:  # type: ignore[no-untyped-def]
    h, w = size
    u = fourier_basis(size, freq, dtype=dtype)
    assert u.shape == (h, w) and u.dtype == dtype and not u.is_complex()
    assert u.device.type == "cpu"
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    assert float(u.double().square().sum()) == pytest.approx(1.0, abs=tol)

    f = torch.fft.fft2(u.double())
    b1 = (freq[0] % h, freq[1] % w)
    b2 = ((-freq[0]) % h, (-freq[1]) % w)
    expect = torch.zeros(h, w, dtype=torch.complex128)
    if b1 == b2:  # DC / Nyquist: cos = +-1, one real bin holding all the energy
        expect[b1] = math.sqrt(h * w)
    else:  # Parseval: two bins of |F|^2 = HW / 2, real and positive (zero phase)
        expect[b1] = math.sqrt(h * w / 2)
        expect[b2] = math.sqrt(h * w / 2)
    assert torch.allclose(f, expect, atol=tol * math.sqrt(h * w) * 10, rtol=0)


@pytest.mark.parametrize("size", SIZES)
def test_basis_equals_cos_formula(size) -> None:  # type: ignore[no-untyped-def]
    for freq in _freqs_for(*size)[:-1]:  # moderate frequencies: the direct formula is exact
        u = fourier_basis(size, freq, dtype=torch.float64)
        np.testing.assert_allclose(u.numpy(), cos_basis(size, freq), atol=1e-12, rtol=0)
        u32 = fourier_basis(size, freq)  # float32 is the float64 basis rounded
        np.testing.assert_allclose(u32.numpy(), cos_basis(size, freq), atol=1e-6, rtol=0)


@pytest.mark.parametrize("size", [(8, 8), (7, 9), (6, 5), (32, 32)])
def test_basis_aliases_and_mirror_give_the_same_image(size) -> None:  # type: ignore[no-untyped-def]
    h, w = size
    for ky, kx in [(0, 0), (1, 2), (h // 2, 1), (-3, w // 2)]:
        base = fourier_basis(size, (ky, kx), dtype=torch.float64)
        for my, mx in [(1, 0), (0, -1), (-2, 3), (1000, -999)]:
            alias = fourier_basis(size, (ky + my * h, kx + mx * w), dtype=torch.float64)
            assert torch.allclose(alias, base, atol=1e-12, rtol=0)
        mirror = fourier_basis(size, (-ky, -kx), dtype=torch.float64)
        assert torch.allclose(mirror, base, atol=1e-12, rtol=0)


@pytest.mark.parametrize("size", [(8, 8), (7, 7), (6, 9), (5, 4), (1, 5)])
def test_bases_of_all_cells_are_orthonormal_up_to_mirror(size, dtype) -> None:  # type: ignore[no-untyped-def]
    h, w = size
    cells = centred_freqs(h, w)
    u = torch.stack([fourier_basis(size, (ky, kx), dtype=dtype) for _, _, ky, kx in cells])
    gram = u.double().flatten(1) @ u.double().flatten(1).T
    # <U_j, U_k> = 1 if k == j or k == -j (mod size), else 0
    expect = torch.zeros(len(cells), len(cells), dtype=torch.float64)
    for a, (_, _, ay, ax) in enumerate(cells):
        for b, (_, _, by, bx) in enumerate(cells):
            same = (ay - by) % h == 0 and (ax - bx) % w == 0
            mirror = (ay + by) % h == 0 and (ax + bx) % w == 0
            expect[a, b] = float(same or mirror)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    assert torch.allclose(gram, expect, atol=tol, rtol=0)


def test_basis_accepts_lists_and_numpy_ints_and_device() -> None:
    u = fourier_basis([np.int64(6), 4], (np.int32(1), -1), dtype=torch.float64, device="cpu")
    np.testing.assert_allclose(u.numpy(), cos_basis((6, 4), (1, -1)), atol=1e-12)
    assert fourier_basis((4, 4), (1, 1)).dtype == torch.float32  # the default


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_basis_on_cuda() -> None:
    u = fourier_basis((8, 6), (3, -2), dtype=torch.float64, device="cuda")
    assert u.device.type == "cuda"
    np.testing.assert_allclose(u.cpu().numpy(), cos_basis((8, 6), (3, -2)), atol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "err", "needle"),
    [
        ({"size": (0, 4)}, SpectralValueError, r"size: expected \(H, W\)"),
        ({"size": (4,)}, SpectralValueError, "size"),
        ({"size": (4, 4, 4)}, SpectralValueError, "size"),
        ({"size": (4.0, 4)}, SpectralValueError, "size"),
        ({"size": (True, 4)}, SpectralValueError, "size"),
        ({"size": "44"}, SpectralValueError, "size"),
        ({"size": None}, SpectralValueError, "size"),
        ({"freq": (1.5, 0)}, SpectralValueError, r"freq: expected \(k_y, k_x\)"),
        ({"freq": (1,)}, SpectralValueError, "freq"),
        ({"freq": (True, 0)}, SpectralValueError, "freq"),
        ({"freq": None}, SpectralValueError, "freq"),
        ({"dtype": torch.int64}, SpectralTypeError, "dtype: expected a floating"),
        ({"dtype": torch.complex64}, SpectralTypeError, "dtype"),
        ({"dtype": "float32"}, SpectralTypeError, "dtype"),
    ],
)
def test_basis_bad_input(kwargs, err, needle) -> None:  # type: ignore[no-untyped-def]
    args = {"size": (4, 4), "freq": (1, 1), **kwargs}
    dtype = args.pop("dtype", torch.float32)
    with pytest.raises(err, match=needle):
        fourier_basis(args["size"], args["freq"], dtype=dtype)


@pytest.mark.parametrize("k", [2**53 + 1, 2**62 + 3, 2**64 + 1], ids=["2^53+1", "2^62+3", "2^64+1"])
def test_basis_huge_frequencies_alias_exactly_or_are_rejected(k: int) -> None:
    size = (32, 32)
    try:
        u = fourier_basis(size, (k, 0), dtype=torch.float64)
    except SpectralValueError:  # a clear refusal is an acceptable answer too
        return
    expect = fourier_basis(size, (k % 32, 0), dtype=torch.float64)
    assert torch.allclose(u, expect, atol=1e-12, rtol=0)


# --------------------------------------------------------------------- the map


def test_heatmap_is_zero_where_the_model_is_blind() -> None:
    # logits see only an ideal low-pass (r <= 0.2) of the input; images in [0.3, 0.7] and
    # eps * max|U| = 2 / sqrt(128) < 0.18, so nothing is clipped and every high-frequency
    # perturbation leaves the logits unchanged (up to FFT round-off)
    n, c, h, w, radius = 32, 3, 16, 16, 0.2
    model = LowpassLinear(c, h, w, 5, radius, seed=4)
    x = 0.3 + 0.4 * images_and_labels(n, c, h, w, seed=5, dtype=torch.float64)
    with torch.no_grad():
        logits = model(x)
    top2 = logits.topk(2, 1).values
    assert float((top2[:, 0] - top2[:, 1]).min()) > 1e-6  # no near-ties: round-off can't flip
    y = logits.argmax(1)
    heat = fourier_heatmap(model, x, y, eps=2.0, batch_size=8192)
    r = torch.from_numpy(sp.frequency_radius(h, w))
    high, low = r > radius, r <= radius
    assert torch.all(heat[high] == 0.0)
    assert bool((heat[low] > 0).any())  # the low frequencies do flip predictions
    assert float(heat[low].mean()) > 0.05
    bands = heatmap_bands(heat, cutoffs=(0.1, 0.21))
    assert bands["high"] == 0.0 and bands["low"] > 0.0


def test_heatmap_with_lowpass_model_via_spectral_lowpass() -> None:
    # the same property through the library's own ideal low-pass in front of a linear layer
    n, c, h, w, radius = 16, 1, 12, 10, 0.15
    torch.manual_seed(6)
    head = nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, 3)).double()

    class Net(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return head(sp.lowpass(x - 0.5, radius))

    model = Net()
    x = 0.3 + 0.4 * images_and_labels(n, c, h, w, seed=7, dtype=torch.float64)
    with torch.no_grad():
        logits = model(x)
    top2 = logits.topk(2, 1).values
    assert float((top2[:, 0] - top2[:, 1]).min()) > 1e-6
    heat = fourier_heatmap(model, x, logits.argmax(1), eps=1.5)
    r = torch.from_numpy(sp.frequency_radius(h, w))
    assert torch.all(heat[r > radius] == 0.0)
    assert bool((heat[r <= radius] > 0).any())


DETECTOR_CASES = [
    ((8, 8), (0, 0)),
    ((8, 8), (1, 0)),
    ((8, 8), (0, -3)),
    ((8, 8), (4, 0)),
    ((8, 8), (4, 4)),
    ((8, 8), (-2, 3)),
    ((7, 7), (3, -1)),
    ((7, 7), (-3, -3)),
    ((7, 9), (2, 4)),
    ((9, 6), (-4, 3)),
    ((9, 6), (0, 3)),
    ((5, 8), (11, -9)),  # aliased: (1, -1)
    ((1, 6), (0, 2)),
    ((6, 1), (3, 0)),
]


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize(("size", "freq"), DETECTOR_CASES)
def test_single_frequency_detector_pins_the_centred_layout(size, freq, channels) -> None:  # type: ignore[no-untyped-def]
    h, w = size
    eps = 0.5  # eps * max|U| <= 0.5 / sqrt(3) < 0.5: constant 0.5 images are never clipped
    target = cos_basis(size, freq)
    model = ProjectionDetector(target, thr=eps / 2)
    x = torch.full((3, channels, h, w), 0.5)
    y = torch.zeros(3, dtype=torch.long)
    heat = fourier_heatmap(model, x, y, eps=eps)

    # expected from the documented layout: cell (r, c) holds k = (r - H//2, c - W//2), and
    # the detector fires iff that frequency's basis is +-U (the same image)
    expect = torch.zeros(h, w)
    for r, c, ky, kx in centred_freqs(h, w):
        overlap = abs(float((cos_basis(size, (ky, kx)) * target).sum()))
        expect[r, c] = float(overlap > 0.5)
    assert torch.equal(heat, expect)
    # ... which is where the centred (fftshift-ed) spectrum of U peaks
    peak = torch.fft.fftshift(torch.fft.fft2(torch.from_numpy(target)).abs())
    assert torch.equal(heat > 0.5, peak > 0.5 * float(peak.max()))
    assert 1 <= int(heat.sum()) <= 2
    dc = heat[h // 2, w // 2]
    assert float(dc) == float(freq[0] % h == 0 and freq[1] % w == 0)


def test_heatmap_symmetric_in_unit_interval_and_multiples_of_one_over_n() -> None:
    n = 13
    model = small_cnn(1, torch.float64)
    for h, w in [(8, 8), (7, 9), (6, 5)]:
        x = images_and_labels(n, 3, h, w, seed=h * w, dtype=torch.float64)
        y = torch.randint(0, 4, (n,), generator=torch.Generator().manual_seed(h))
        heat = fourier_heatmap(model, x, y, eps=3.0, batch_size=4096)
        assert heat.shape == (h, w) and heat.dtype == torch.float64
        assert torch.equal(heat, mirrored(heat))
        assert bool(((heat >= 0) & (heat <= 1)).all())
        counts = heat * n
        assert torch.allclose(counts, counts.round(), atol=1e-9, rtol=0)
        assert len(torch.unique(heat)) > 1  # a non-trivial map, so the checks above bite


def test_tiny_eps_gives_the_clean_error_everywhere() -> None:
    n = 40
    model = small_cnn(2, torch.float64)
    x = images_and_labels(n, 3, 8, 8, seed=3, dtype=torch.float64)
    y = torch.randint(0, 4, (n,), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        model.eval()
        logits = model(x)
    top2 = logits.topk(2, 1).values
    assert float((top2[:, 0] - top2[:, 1]).min()) > 1e-7  # eps=1e-10 can't flip anything
    clean_error = float((logits.argmax(1) != y).double().mean())
    assert 0 < clean_error < 1
    heat = fourier_heatmap(model, x, y, eps=1e-10, batch_size=4096)
    assert torch.all(heat == clean_error)
    assert float(heat[4, 4]) == pytest.approx(1 - sp.accuracy(model, x, y), abs=1e-12)


def test_constant_model_error_is_the_label_mismatch_rate() -> None:
    class Always2(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.tensor([0.0, 0.0, 1.0]).expand(x.shape[0], 3)

    y = torch.tensor([2, 0, 2, 1, 2, 2, 0])
    heat = fourier_heatmap(Always2(), torch.rand(7, 2, 5, 4), y, eps=2.0)
    assert torch.all(heat == torch.tensor(3 / 7, dtype=torch.float32))


def test_perturbations_are_clipped_eps_scaled_signed_bases() -> None:
    # record every batch the model sees and explain each image as
    # clip(x_i + eps * s * U_k, 0, 1) with s in {-1, +1}^C: each (image, frequency pair)
    # must appear exactly once
    n, c, h, w, eps = 3, 2, 4, 4, 0.7
    x = images_and_labels(n, c, h, w, seed=11, dtype=torch.float64)
    seen: list[torch.Tensor] = []
    modes: list[tuple[bool, bool]] = []

    class Recorder(nn.Module):
        def forward(self, b: torch.Tensor) -> torch.Tensor:
            seen.append(b.clone())
            modes.append((self.training, torch.is_grad_enabled()))
            return torch.zeros(b.shape[0], 2, dtype=b.dtype)

    fourier_heatmap(Recorder().train(), x, torch.zeros(n, dtype=torch.long), eps=eps, batch_size=5)
    assert modes and all(m == (False, False) for m in modes)  # eval mode, no autograd
    batches = torch.cat(seen)
    n_pairs = n_unique_pairs(h, w)
    assert batches.shape == (n * n_pairs, c, h, w)

    reps = {}
    for _, _, ky, kx in centred_freqs(h, w):
        reps.setdefault(frozenset({(ky % h, kx % w), ((-ky) % h, (-kx) % w)}), (ky, kx))
    assert len(reps) == n_pairs
    signs_seen = []
    found = []
    for b in batches:
        hits = []
        for i in range(n):
            for pair, k in reps.items():
                u = torch.from_numpy(cos_basis((h, w), k))
                for s in itertools.product((-1.0, 1.0), repeat=c):
                    cand = (
                        x[i] + eps * torch.tensor(s, dtype=torch.float64)[:, None, None] * u
                    ).clamp(0, 1)
                    if torch.allclose(b, cand, atol=1e-12, rtol=0):
                        hits.append((i, pair, s))
        assert len(hits) == 1, f"{len(hits)} explanations for one perturbed image"
        found.append(hits[0][:2])
        signs_seen.append(hits[0][2])
    assert sorted(found, key=repr) == sorted(
        [(i, pair) for i in range(n) for pair in reps], key=repr
    )
    # the clipping actually happened somewhere (so the clamp in the candidates mattered)
    assert bool(((batches == 0) | (batches == 1)).any())
    # signs differ between channels of one image for some perturbations and agree for others
    assert {s[0] == s[1] for s in signs_seen} == {True, False}


def test_clipping_keeps_every_pixel_in_unit_interval(dtype) -> None:  # type: ignore[no-untyped-def]
    class OutOfRange(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            bad = ((x < 0) | (x > 1)).flatten(1).any(1).to(x.dtype)
            return torch.stack([torch.zeros_like(bad), bad], 1)

    g = torch.Generator().manual_seed(12)
    x = torch.randint(0, 2, (6, 3, 7, 8), generator=g).to(dtype)  # pixels at exactly 0 and 1
    x[:, :, :2] = 0.5
    y = torch.zeros(6, dtype=torch.long)
    for eps in (50.0, 1e6):
        heat = fourier_heatmap(OutOfRange(), x, y, eps=eps)
        assert torch.all(heat == 0.0)
    # the detector does fire on unclipped out-of-range input (so the zeros above mean clipping)
    assert OutOfRange()(x + 1e-3)[:, 1].all()


# ------------------------------------------------------------- signs and seeds


def _sign_setup(n: int, c: int, h: int, w: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = 0.25 + 0.5 * torch.rand(n, c, h, w, generator=g)
    x[:, :, 0, 0] = 0.5
    y = torch.randint(0, 2**c, (n,), generator=g)
    return x, y


def test_map_does_not_depend_on_batch_size() -> None:
    x, y = _sign_setup(23, 3, 8, 8, seed=13)
    maps = [fourier_heatmap(SignReader(), x, y, eps=0.5, batch_size=b) for b in (1, 7, 64, 1000)]
    assert len(torch.unique(maps[0])) > 3  # signs matter: a map that is not constant
    for m in maps[1:]:
        assert torch.equal(m, maps[0])
    # also for an ordinary (float64, so no near-tie can flip) network
    torch.manual_seed(5)
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(3 * 6 * 7, 16), nn.Tanh(), nn.Linear(16, 4)
    ).double()
    xd = images_and_labels(9, 3, 6, 7, seed=14, dtype=torch.float64)
    yd = torch.randint(0, 4, (9,), generator=torch.Generator().manual_seed(14))
    ref = fourier_heatmap(model, xd, yd, eps=4.0, batch_size=1)
    for b in (4, 9, 10, 500):
        assert torch.equal(fourier_heatmap(model, xd, yd, eps=4.0, batch_size=b), ref)


def test_seed_controls_the_signs_reproducibly() -> None:
    x, y = _sign_setup(30, 3, 8, 8, seed=15)
    a = fourier_heatmap(SignReader(), x, y, eps=0.5, seed=0)
    assert torch.equal(fourier_heatmap(SignReader(), x, y, eps=0.5, seed=0), a)
    b = fourier_heatmap(SignReader(), x, y, eps=0.5, seed=1)
    assert not torch.equal(a, b)
    assert torch.equal(fourier_heatmap(SignReader(), x, y, eps=0.5, seed=1), b)

    # the perturbed inputs themselves repeat exactly for a seed
    def record(seed: int) -> torch.Tensor:
        seen: list[torch.Tensor] = []

        class Rec(nn.Module):
            def forward(self, t: torch.Tensor) -> torch.Tensor:
                seen.append(t.clone())
                return torch.zeros(t.shape[0], 8)

        fourier_heatmap(Rec(), x[:4], y[:4], eps=0.5, seed=seed)
        return torch.cat(seen)

    r0 = record(0)
    assert torch.equal(record(0), r0)
    assert not torch.equal(record(7), r0)


def test_random_sign_statistics() -> None:
    # one channel, class 1 iff its sign is +: the error for label 0 at every frequency is the
    # fraction of + signs among N images: Binomial(N, 1/2) / N
    n, h, w = 400, 8, 8
    x = torch.full((n, 1, h, w), 0.5)
    heat = fourier_heatmap(SignReader(), x, torch.zeros(n, dtype=torch.long), eps=0.5)
    sd = math.sqrt(0.25 / n)  # 0.025
    assert float((heat - 0.5).abs().max()) < 5 * sd  # every frequency: 0.5 +- 0.125
    # pooled over the 34 independent frequency pairs (each counted once)
    reps = torch.tensor(
        [
            float(heat[r, c])
            for r, c, ky, kx in centred_freqs(h, w)
            if (r * w + c) <= _mirror_lin(r, c, h, w)
        ]
    )
    assert len(reps) == n_unique_pairs(h, w)
    assert float(reps.mean()) == pytest.approx(0.5, abs=5 * sd / math.sqrt(len(reps)))
    assert float(reps.std()) > 0.3 * sd  # frequencies draw different signs, not one shared draw


def _mirror_lin(r: int, c: int, h: int, w: int) -> int:
    ky, kx = r - h // 2, c - w // 2
    return (((-ky) % h + h // 2) % h) * w + ((-kx) % w + w // 2) % w


def test_channels_get_independent_signs() -> None:
    # three channels, class = sign bit pattern: with independent fair signs each of the 8
    # patterns has probability 1/8; a shared per-image sign would give only patterns 0 and 7
    n, c, h, w = 200, 3, 6, 6
    x = torch.full((n, c, h, w), 0.5)
    p = []
    for label in range(8):
        heat = fourier_heatmap(SignReader(), x, torch.full((n,), label), eps=0.5)
        p.append(1 - heat.double())
    p_all = torch.stack(p)  # (8, H, W): per frequency, the fraction with each pattern
    assert torch.allclose(p_all.sum(0), torch.ones(h, w, dtype=torch.float64), atol=1e-6)
    pooled = p_all.mean((1, 2))  # ~ 1/8 each, sd per frequency ~ 0.023
    assert torch.allclose(pooled, torch.full((8,), 1 / 8, dtype=torch.float64), atol=0.03)
    assert float(p_all.max()) < 1 / 8 + 0.12


# --------------------------------------------------------- model left as found


def _state(model: nn.Module) -> dict[str, object]:
    return {
        "training": [m.training for m in model.modules()],
        "params": [
            (
                p,
                p.data_ptr(),
                p.stride(),
                p.detach().clone(),
                p.grad,
                None if p.grad is None else p.grad.clone(),
            )
            for p in model.parameters()
        ],
        "buffers": [(b, b.data_ptr(), b.stride(), b.detach().clone()) for b in model.buffers()],
    }


def _assert_same_state(model: nn.Module, before: dict) -> None:  # type: ignore[type-arg]
    after = _state(model)
    assert after["training"] == before["training"]
    assert len(after["params"]) == len(before["params"])  # type: ignore[arg-type]
    for (p, ptr, stride, val, grad, gval), (p2, ptr2, stride2, val2, grad2, gval2) in zip(
        before["params"],
        after["params"],
        strict=True,  # type: ignore[call-overload]
    ):
        assert p2 is p and ptr2 == ptr and stride2 == stride and torch.equal(val2, val)
        assert grad2 is grad
        if grad is not None:
            assert torch.equal(gval2, gval)
    for (b, ptr, stride, val), (b2, ptr2, stride2, val2) in zip(
        before["buffers"],
        after["buffers"],
        strict=True,  # type: ignore[call-overload]
    ):
        assert b2 is b and ptr2 == ptr and stride2 == stride and torch.equal(val2, val)


@pytest.mark.parametrize(
    "fmt", [torch.contiguous_format, torch.channels_last], ids=["nchw", "nhwc"]
)
def test_model_left_as_found(fmt) -> None:  # type: ignore[no-untyped-def]
    model = small_cnn(8)
    conv = model[0]
    conv.weight.data = conv.weight.data.contiguous(memory_format=fmt)
    model.train()
    conv.weight.grad = torch.randn_like(conv.weight)
    model[5].bias.grad = torch.randn_like(model[5].bias)
    seen_training: list[bool] = []
    model[2].register_forward_hook(lambda m, i, o: seen_training.append(model[1].training))
    before = _state(model)
    x = images_and_labels(10, 3, 8, 8, seed=8)
    heat = fourier_heatmap(model, x, torch.zeros(10, dtype=torch.long), eps=2.0, batch_size=32)
    assert heat.shape == (8, 8)
    assert seen_training and not any(seen_training)  # BatchNorm ran in eval mode
    _assert_same_state(model, before)  # incl. BatchNorm running stats not updated
    assert conv.weight.is_contiguous(memory_format=fmt)


class Boom(RuntimeError):
    pass


def test_model_left_as_found_when_the_model_raises() -> None:
    inner = small_cnn(9)
    calls = [0]

    class Flaky(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = inner

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            calls[0] += 1
            if calls[0] == 3:
                raise Boom("boom")
            return self.net(x)

    model = Flaky().train()
    inner[0].weight.grad = torch.ones_like(inner[0].weight)
    before = _state(model)
    with pytest.raises(Boom, match="boom"):
        fourier_heatmap(
            model,
            images_and_labels(4, 3, 8, 8, seed=9),
            torch.zeros(4, dtype=torch.long),
            batch_size=4,
        )
    assert calls[0] == 3
    _assert_same_state(model, before)


def test_model_left_as_found_after_a_label_error_midway() -> None:
    model = small_cnn(10).train()
    before = _state(model)
    y = torch.tensor([0, 1, 9])  # the model has 4 classes: found after the first forward
    with pytest.raises(SpectralValueError, match=r"labels: expected values < 4.*got 9"):
        fourier_heatmap(model, images_and_labels(3, 3, 8, 8, seed=10), y)
    _assert_same_state(model, before)


def test_lazy_model_is_usable_afterwards() -> None:
    x = images_and_labels(3, 3, 6, 6, seed=16)
    torch.manual_seed(16)
    model = nn.Sequential(nn.LazyConv2d(4, 3), nn.Flatten(), nn.LazyLinear(2))
    fourier_heatmap(model, x, torch.zeros(3, dtype=torch.long), eps=1.0)
    assert [tuple(p.shape) for p in model.parameters()] == [(4, 3, 3, 3), (4,), (2, 64), (2,)]
    assert model(x).shape == (3, 2)


def test_model_using_view_works_like_one_using_reshape() -> None:
    torch.manual_seed(17)
    conv, lin = nn.Conv2d(3, 4, 3, padding=1).double(), nn.Linear(4 * 6 * 6, 3).double()

    class ViewNet(nn.Module):
        def __init__(self, flat: str) -> None:
            super().__init__()
            self.conv, self.lin, self.flat = conv, lin, flat

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            z = self.conv(x)
            z = z.view(z.shape[0], -1) if self.flat == "view" else z.reshape(z.shape[0], -1)
            return self.lin(z)

    x = images_and_labels(5, 3, 6, 6, seed=17, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 0, 1])
    assert sp.accuracy(ViewNet("view"), x, y) == sp.accuracy(ViewNet("reshape"), x, y)
    ref = fourier_heatmap(ViewNet("reshape"), x, y, eps=2.0)
    assert torch.equal(fourier_heatmap(ViewNet("view"), x, y, eps=2.0), ref)


# ----------------------------------------------------- device, dtype, progress


def test_result_dtype_and_device_follow_the_images(dtype) -> None:  # type: ignore[no-untyped-def]
    model = nn.Sequential(nn.Flatten(), nn.Linear(2 * 5 * 6, 3)).to(dtype)
    x = images_and_labels(4, 2, 5, 6, seed=18, dtype=dtype)
    heat = fourier_heatmap(model, x, torch.tensor([0, 1, 2, 0]), eps=1.0)
    assert heat.dtype == dtype and heat.device == x.device and heat.shape == (5, 6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_heatmap_on_cuda_matches_cpu() -> None:
    size, freq = (8, 7), (2, -3)
    model = ProjectionDetector(cos_basis(size, freq), thr=0.25)
    x = torch.full((3, 3, *size), 0.5)
    y = torch.zeros(3, dtype=torch.long)
    cpu = fourier_heatmap(model, x, y, eps=0.5)
    gpu = fourier_heatmap(model.cuda(), x.cuda(), y.cuda(), eps=0.5)
    assert gpu.device.type == "cuda" and gpu.dtype == torch.float32
    assert torch.equal(gpu.cpu(), cpu)


@pytest.mark.parametrize("size", [(6, 6), (5, 7), (6, 5), (1, 4), (5, 1), (1, 1)])
def test_progress_counts_unique_frequency_pairs(size) -> None:  # type: ignore[no-untyped-def]
    h, w = size
    total = n_unique_pairs(h, w)
    self_mirror = (1 + (h % 2 == 0)) * (1 + (w % 2 == 0))
    assert total == (h * w + self_mirror) // 2
    model = nn.Sequential(nn.Flatten(), nn.Linear(2 * h * w, 3))
    x = images_and_labels(5, 2, h, w, seed=19)
    y = torch.zeros(5, dtype=torch.long)
    for bs in (5, 3, 64):
        calls: list[tuple[int, int]] = []
        fourier_heatmap(
            model, x, y, eps=1.0, batch_size=bs, progress=lambda d, t, acc=calls: acc.append((d, t))
        )
        done = [d for d, _ in calls]
        assert all(t == total for _, t in calls)
        assert done == sorted(set(done)) and done[-1] == total and done[0] >= 1
        if bs == 5:  # batch_size == N: one frequency per pass
            assert done == list(range(1, total + 1))


def test_progress_must_be_callable() -> None:
    calls = [0]

    class Counting(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            calls[0] += 1
            return torch.zeros(x.shape[0], 2)

    with pytest.raises(SpectralTypeError, match="progress"):
        fourier_heatmap(
            Counting(), torch.rand(2, 1, 4, 4), torch.zeros(2, dtype=torch.long), progress=5
        )  # type: ignore[arg-type]
    assert calls[0] == 0


# ------------------------------------------------------------------ validation


def _linear(c: int = 1, h: int = 4, w: int = 4, k: int = 3) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, k))


GOOD_X = torch.rand(3, 1, 4, 4)
GOOD_Y = torch.tensor([0, 1, 2])


@pytest.mark.parametrize(
    ("kwargs", "err", "needle"),
    [
        ({"model": lambda t: t}, SpectralTypeError, r"model: expected a torch\.nn\.Module"),
        ({"images": GOOD_X.tolist()}, SpectralTypeError, "images: expected a torch.Tensor"),
        ({"images": (GOOD_X * 255).long()}, SpectralTypeError, "images: expected dtype float32"),
        ({"images": GOOD_X[0]}, SpectralValueError, r"images: expected 4 dimensions"),
        (
            {"images": GOOD_X.clone().index_fill_(0, torch.tensor([1]), float("nan"))},
            SpectralValueError,
            "images: expected finite",
        ),
        ({"labels": GOOD_Y.float()}, SpectralTypeError, "labels: expected an integer dtype"),
        ({"labels": [0, 1, 2]}, SpectralTypeError, "labels"),
        ({"labels": GOOD_Y[:2]}, SpectralValueError, r"labels: expected shape \(3,\)"),
        ({"labels": torch.tensor([0, -1, 2])}, SpectralValueError, "labels: expected labels >= 0"),
        ({"labels": torch.tensor([0, 1, 3])}, SpectralValueError, r"expected values < 3.*got 3"),
        ({"eps": 0.0}, SpectralValueError, r"eps: expected a finite number > 0, got 0\.0"),
        ({"eps": -1.0}, SpectralValueError, "eps"),
        ({"eps": math.inf}, SpectralValueError, "eps"),
        ({"eps": math.nan}, SpectralValueError, "eps"),
        ({"eps": True}, SpectralValueError, "eps"),
        ({"eps": "4"}, SpectralValueError, "eps"),
        ({"seed": -1}, SpectralValueError, r"seed: expected an int >= 0, got -1"),
        ({"seed": 1.0}, SpectralValueError, "seed"),
        ({"seed": True}, SpectralValueError, "seed"),
        ({"batch_size": 0}, SpectralValueError, "batch_size: expected an int >= 1"),
        ({"batch_size": 2.0}, SpectralTypeError, "batch_size"),
        ({"batch_size": True}, SpectralTypeError, "batch_size"),
    ],
)
def test_heatmap_bad_input(kwargs, err, needle) -> None:  # type: ignore[no-untyped-def]
    args = {"model": _linear(), "images": GOOD_X, "labels": GOOD_Y, **kwargs}
    model, images, labels = args.pop("model"), args.pop("images"), args.pop("labels")
    with pytest.raises(err, match=needle):
        fourier_heatmap(model, images, labels, **args)


@pytest.mark.parametrize(
    "out",
    [
        lambda x: torch.zeros(x.shape[0] + 1, 3),
        lambda x: (torch.zeros(x.shape[0], 3),),
    ],
    ids=["wrong-batch", "tuple"],
)
def test_heatmap_rejects_bad_model_output(out) -> None:  # type: ignore[no-untyped-def]
    class Bad(nn.Module):
        def forward(self, x: torch.Tensor) -> object:
            return out(x)

    with pytest.raises(
        SpectralValueError, match=r"model: expected logits of shape \(\d+, num_classes\)"
    ):
        fourier_heatmap(Bad(), GOOD_X, GOOD_Y)


def test_heatmap_rejects_one_dimensional_logits() -> None:
    class Scores(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.flatten(1).sum(1)

    with pytest.raises(SpectralValueError, match="logits"):
        fourier_heatmap(Scores(), GOOD_X, torch.zeros(3, dtype=torch.long))


# --------------------------------------------------------------- heatmap_bands


@pytest.mark.parametrize("size", [(8, 8), (7, 9), (32, 32), (16, 11)])
@pytest.mark.parametrize("cutoffs", [(1 / 8, 1 / 4), (0.1, 0.3), (0.05, 0.45)])
def test_bands_equal_hand_computation(size, cutoffs, dtype) -> None:  # type: ignore[no-untyped-def]
    h, w = size
    heat = torch.rand(h, w, generator=torch.Generator().manual_seed(h * w), dtype=dtype)
    got = heatmap_bands(heat, cutoffs=cutoffs)
    assert list(got) == ["low", "mid", "high", "dc"]
    r = sp.frequency_radius(h, w)
    v = heat.double().numpy()
    c1, c2 = cutoffs
    masks = {"low": (r > 0) & (r < c1), "mid": (r >= c1) & (r < c2), "high": r >= c2}
    assert masks["high"].any()
    for k, m in masks.items():
        assert isinstance(got[k], float)
        if m.any():
            assert got[k] == pytest.approx(float(v[m].sum() / m.sum()), abs=1e-12)
        else:  # e.g. 8 x 8 with c1 = 1/8: the smallest non-zero radius is 1/8, not < 1/8
            assert math.isnan(got[k])
    assert got["dc"] == float(v[h // 2, w // 2])


def test_bands_separate_dc_and_use_the_centred_layout() -> None:
    h, w = 16, 16
    only_dc = torch.zeros(h, w)
    only_dc[h // 2, w // 2] = 1.0
    assert heatmap_bands(only_dc) == {"low": 0.0, "mid": 0.0, "high": 0.0, "dc": 1.0}
    r = torch.from_numpy(sp.frequency_radius(h, w))
    outer = (r >= 0.25).float()  # 1 exactly on the high band of the centred map
    assert heatmap_bands(outer) == {"low": 0.0, "mid": 0.0, "high": 1.0, "dc": 0.0}
    # the same map left uncentred would put the corners (high) at the centre and DC at (0, 0)
    assert heatmap_bands(torch.fft.ifftshift(outer))["dc"] == 1.0


def test_bands_empty_band_is_nan() -> None:
    got = heatmap_bands(torch.tensor([[0.1, 0.2], [0.3, 0.4]]))  # radii 0.5, 0.5, 0.71, 0
    assert math.isnan(got["low"]) and math.isnan(got["mid"])
    assert got["high"] == pytest.approx(0.2) and got["dc"] == pytest.approx(0.4)


@pytest.mark.parametrize(
    ("heat", "cutoffs", "needle"),
    [
        (torch.zeros(8), (1 / 8, 1 / 4), r"heat: expected an \(H, W\) map, got \(8,\)"),
        (torch.zeros(1, 8, 8), (1 / 8, 1 / 4), r"heat: expected an \(H, W\) map, got \(1, 8, 8\)"),
        ([[0.0, 1.0]], (1 / 8, 1 / 4), r"heat: expected an \(H, W\) map, got list"),
        (torch.zeros(8, 8), (0.3, 0.1), "cutoffs: expected 0 < low/mid < mid/high"),
        (torch.zeros(8, 8), (0.0, 0.1), "cutoffs"),
        (torch.zeros(8, 8), (0.1,), "cutoffs: expected two numbers"),
        (torch.zeros(8, 8), "ab", "cutoffs"),
    ],
)
def test_bands_bad_input(heat, cutoffs, needle) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SpectralValueError, match=needle):
        heatmap_bands(heat, cutoffs=cutoffs)


@pytest.mark.parametrize("shape", [(0, 4), (4, 0)])
def test_bands_reject_empty_map(shape) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SpectralValueError, match="heat"):
        heatmap_bands(torch.zeros(shape))


# -------------------------------------------------------------- the real model


@pytest.mark.slow
def test_builtin_model_heatmap() -> None:
    model = sp.load_model("builtin:standard")
    data = sp.load_dataset("builtin", "test", seed=0)
    x, y = data.images[:100], data.labels[:100]
    n = x.shape[0]
    calls: list[tuple[int, int]] = []
    big = fourier_heatmap(
        model, x, y, eps=20.0, batch_size=512, progress=lambda d, t: calls.append((d, t))
    )
    assert big.shape == (32, 32) and big.dtype == x.dtype
    assert calls[-1] == (n_unique_pairs(32, 32), n_unique_pairs(32, 32)) == (514, 514)
    assert torch.equal(big, mirrored(big))
    assert torch.allclose(big * n, (big * n).round(), atol=1e-4, rtol=0)

    tiny = fourier_heatmap(model, x, y, eps=1e-3, batch_size=512)
    clean_error = 1 - sp.accuracy(model, x, y)
    # every cell holds the clean error: the same count of wrong images out of n
    assert torch.allclose(
        tiny.double(), torch.full((32, 32), clean_error, dtype=torch.float64), atol=0.5 / n, rtol=0
    )
    assert float(big[16, 16]) > float(tiny[16, 16])


def test_heatmap_analysis_clean_error_interval() -> None:
    from spectral.analysis import heatmap_analysis
    from spectral.metrics import wilson_interval

    net = nn.Sequential(nn.Flatten(), nn.Linear(48, 3))
    x, y = torch.rand(7, 3, 4, 4), torch.arange(7) % 3
    a = heatmap_analysis({"net": net}, x, y, eps=1.0)
    wrong = int((net(x).argmax(1) != y).sum())
    iv = a.to_dict()["models"]["net"]["intervals"]["clean_error"]
    assert iv == wilson_interval(wrong, 7).to_dict() and iv["n"] == a.n_images == 7
    assert iv["ci95"][0] <= a.clean_error["net"] <= iv["ci95"][1]
