"""Input gradients, integrated gradients and their smoothness, checked against mathematics.

Every expected value is derived independently of :mod:`spectral.gradients`: analytic
gradients of models whose derivative is known in closed form, autograd Jacobians and
central finite differences, the midpoint rule's closed-form error on a cubic, numpy FFTs
for spectral centroids, scipy's Sobel filter and ``np.corrcoef`` for edge correlations.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable, Iterator

import numpy as np
import pytest
import torch
from scipy import ndimage
from torch import nn

import spectral
from spectral.analysis import (
    GradientSpectra,
    edge_correlation,
    gradient_spectra,
    input_gradients,
    integrated_gradients,
    mean_frequency,
)
from spectral.errors import SpectralTypeError, SpectralValueError
from spectral.fourier import (
    band_energy,
    frequency_radius,
    power_spectrum,
    powerlaw_slope,
    radial_profile,
)

F64 = torch.float64
KINDS = ("gradient", "integrated", "image")


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny ops run fastest on one thread (and float64 sums are then reproducible)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --------------------------------------------------------------------------------------
# models with known derivatives
# --------------------------------------------------------------------------------------


def rand(shape: tuple[int, ...], seed: int = 0, dtype: torch.dtype = F64) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def randn(shape: tuple[int, ...], seed: int = 0, dtype: torch.dtype = F64) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def linear_model(weight: torch.Tensor, bias: torch.Tensor | None = None) -> nn.Sequential:
    """Logits ``W flatten(x) + b``; ``weight`` is ``(K, C, H, W)``."""
    k = weight.shape[0]
    net = nn.Sequential(nn.Flatten(), nn.Linear(weight[0].numel(), k)).to(weight.dtype)
    with torch.no_grad():
        net[1].weight.copy_(weight.reshape(k, -1))
        net[1].bias.copy_(bias if bias is not None else torch.linspace(-1, 1, k))
    return net


class Quadratic(nn.Module):
    """``logit_k = sum (a_k * x)^2``: gradient ``2 a_k^2 x``."""

    def __init__(self, a: torch.Tensor) -> None:
        super().__init__()
        self.a = nn.Parameter(a.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.a[None] * x[:, None]).square().sum((2, 3, 4))


class Cubic(nn.Module):
    """One-pixel images, ``logit_k = c_k x^3``."""

    def __init__(self, c: list[float]) -> None:
        super().__init__()
        self.c = nn.Parameter(torch.tensor(c, dtype=F64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(-1, 1).pow(3) * self.c[None]


def smooth_net(seed: int = 0, c: int = 3, h: int = 8, k: int = 3) -> nn.Module:
    """A small smooth (tanh / softplus) conv net in float64, eval mode."""
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(c, 4, 3, padding=1),
        nn.Tanh(),
        nn.Conv2d(4, 4, 3, stride=2),
        nn.Softplus(),
        nn.Flatten(),
        nn.Linear(4 * ((h - 3) // 2 + 1) ** 2, k),
    )
    return net.double().eval()


def scores(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x).gather(1, y[:, None])[:, 0]


def ig_reference(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, x0: torch.Tensor, steps: int
) -> torch.Tensor:
    """Midpoint-rule IG from input gradients at each path point, one point at a time."""
    total = torch.zeros_like(x)
    for k in range(steps):
        a = (k + 0.5) / steps
        total += input_gradients(model, x0 + a * (x - x0), y)
    return (x - x0) * total / steps


# --------------------------------------------------------------------------------------
# 1. input gradients
# --------------------------------------------------------------------------------------


def test_public_names() -> None:
    import spectral.analysis as mod

    assert set(mod.__all__) >= set(
        [
            "GradientSpectra",
            "edge_correlation",
            "gradient_spectra",
            "input_gradients",
            "integrated_gradients",
            "mean_frequency",
        ]
    )


@pytest.mark.parametrize("dtype", [torch.float32, F64], ids=["f32", "f64"])
def test_input_gradient_of_linear_model_is_the_label_row(dtype: torch.dtype) -> None:
    w = randn((5, 3, 4, 6), seed=1, dtype=dtype)
    net = linear_model(w)
    x = rand((7, 3, 4, 6), seed=2, dtype=dtype)
    y = torch.tensor([0, 4, 2, 2, 1, 3, 0])
    g = input_gradients(net, x, y)
    assert g.shape == x.shape and g.dtype == dtype and g.device == x.device
    assert not g.requires_grad
    torch.testing.assert_close(g, w[y], rtol=0, atol=0)  # exactly the weight row


def test_input_gradient_of_quadratic_model() -> None:
    a = randn((3, 2, 5, 5), seed=3)
    net = Quadratic(a)
    x = randn((6, 2, 5, 5), seed=4)
    y = torch.tensor([2, 0, 1, 1, 0, 2])
    g = input_gradients(net, x, y)
    torch.testing.assert_close(g, 2 * a[y].square() * x, rtol=1e-13, atol=1e-13)


def test_input_gradient_equals_the_autograd_jacobian() -> None:
    net = smooth_net(seed=5)
    x = rand((3, 3, 8, 8), seed=6)
    y = torch.tensor([2, 0, 1])
    g = input_gradients(net, x, y)
    jac = torch.autograd.functional.jacobian(lambda z: net(z), x)  # (B, K, B, C, H, W)
    want = torch.stack([jac[i, y[i], i] for i in range(3)])
    torch.testing.assert_close(g, want, rtol=1e-12, atol=1e-14)
    # images do not interact in eval mode: the cross terms of the Jacobian vanish
    for i in range(3):
        for j in range(3):
            if i != j:
                assert float(jac[i, :, j].abs().max()) == 0.0


def test_input_gradient_matches_central_finite_differences() -> None:
    net = smooth_net(seed=7)
    x = rand((2, 3, 8, 8), seed=8)
    y = torch.tensor([1, 2])
    g = input_gradients(net, x, y)
    h = 1e-5
    for seed in range(4):  # directional derivatives along random directions
        v = randn((2, 3, 8, 8), seed=100 + seed)
        fd = (scores(net, x + h * v, y) - scores(net, x - h * v, y)) / (2 * h)
        torch.testing.assert_close((g * v).sum((1, 2, 3)), fd, rtol=1e-7, atol=1e-9)
    # and single coordinates
    for c, i, j in [(0, 0, 0), (1, 3, 5), (2, 7, 7)]:
        e = torch.zeros_like(x)
        e[:, c, i, j] = 1.0
        fd = (scores(net, x + h * e, y) - scores(net, x - h * e, y)) / (2 * h)
        torch.testing.assert_close(g[:, c, i, j], fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("batch_size", [1, 3, 128])
def test_input_gradients_do_not_depend_on_batch_size(batch_size: int) -> None:
    net = smooth_net(seed=9)
    x = rand((7, 3, 8, 8), seed=10)
    y = torch.tensor([0, 1, 2, 0, 1, 2, 0])
    want = torch.stack([input_gradients(net, x[i : i + 1], y[i : i + 1])[0] for i in range(7)])
    got = input_gradients(net, x, y, batch_size=batch_size)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-15)


def test_input_gradients_use_eval_mode() -> None:
    torch.manual_seed(11)
    net = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(12, 3)).double().train()
    x = rand((5, 3, 2, 2), seed=12)
    y = torch.tensor([0, 1, 2, 1, 0])
    g1 = input_gradients(net, x, y)
    g2 = input_gradients(net, x, y)
    torch.testing.assert_close(g1, g2, rtol=0, atol=0)  # dropout off: deterministic
    torch.testing.assert_close(g1, net[2].weight.detach()[y].reshape(5, 3, 2, 2))
    assert net.training and net[1].training


# --------------------------------------------------------------------------------------
# 2. integrated gradients
# --------------------------------------------------------------------------------------

B, C, H, W = 4, 3, 5, 6


def baselines() -> list[tuple[str, object]]:
    return [
        ("zero", 0.0),
        ("float", 0.25),
        ("int", 1),
        ("negative", -0.7),
        ("per_channel", torch.tensor([0.1, 0.5, 0.9], dtype=F64)[:, None, None]),
        ("one_image", rand((1, C, H, W), seed=13)),
        ("per_image", rand((B, C, H, W), seed=14)),
        ("row", rand((W,), seed=15)),
        ("f32_tensor", rand((C, 1, 1), seed=16, dtype=torch.float32)),
    ]


def as_tensor(baseline: object, like: torch.Tensor) -> torch.Tensor:
    if isinstance(baseline, torch.Tensor):
        return baseline.to(like).expand_as(like)
    return torch.full_like(like, float(baseline))  # type: ignore[arg-type]


@pytest.mark.parametrize("steps", [1, 2, 7])
@pytest.mark.parametrize(("name", "baseline"), baselines(), ids=[n for n, _ in baselines()])
def test_integrated_gradients_exact_for_linear_models(
    name: str, baseline: object, steps: int
) -> None:
    w = randn((4, C, H, W), seed=17)
    net = linear_model(w)
    x = rand((B, C, H, W), seed=18)
    y = torch.tensor([3, 0, 1, 3])
    ig = integrated_gradients(net, x, y, baseline=baseline, steps=steps)  # type: ignore[arg-type]
    x0 = as_tensor(baseline, x)
    assert ig.shape == x.shape and ig.dtype == x.dtype
    torch.testing.assert_close(ig, (x - x0) * w[y], rtol=1e-13, atol=1e-14)
    # completeness holds exactly: the bias cancels in f(x) - f(x0)
    delta = scores(net, x, y) - scores(net, x0, y)
    torch.testing.assert_close(ig.sum((1, 2, 3)), delta, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("baseline", [0.0, 0.5], ids=["black", "grey"])
def test_completeness_improves_with_steps_on_a_smooth_model(baseline: float) -> None:
    net = smooth_net(seed=19)
    x = rand((4, 3, 8, 8), seed=20)
    y = torch.tensor([0, 1, 2, 0])
    delta = scores(net, x, y) - scores(net, torch.full_like(x, baseline), y)
    err = {}
    for steps in (2, 8, 64):
        ig = integrated_gradients(net, x, y, baseline=baseline, steps=steps)
        err[steps] = float((ig.sum((1, 2, 3)) - delta).abs().max())
    assert err[2] > 0  # the model is not linear: the quadrature has an error to shrink
    # the midpoint rule's error falls like 1 / steps^2: x16 from 2 to 8, x1024 from 2 to 64
    assert err[8] < err[2] / 8
    assert err[64] < err[2] / 300
    assert err[64] < 1e-4 * float(delta.abs().min())


@pytest.mark.parametrize("steps", [1, 2, 3, 5, 16])
def test_midpoint_rule_closed_form_on_a_cubic(steps: int) -> None:
    # f(z) = c z^3 along z = x0 + a (x - x0), d = x - x0. The midpoint rule with
    # a_k = (k + 1/2) / n has mean a_k = 1/2 and mean a_k^2 = 1/3 - 1/(12 n^2), so
    # IG = f(x) - f(x0) - c d^3 / (4 n^2)  (left or right Riemann sums give other values).
    c = [1.5, -0.5]
    net = Cubic(c)
    x = torch.tensor([0.9, 0.2, 1.0, 0.6], dtype=F64).reshape(4, 1, 1, 1)
    x0 = torch.tensor([0.0, 0.7, -0.3, 0.6], dtype=F64).reshape(4, 1, 1, 1)
    y = torch.tensor([0, 1, 0, 1])
    ig = integrated_gradients(net, x, y, baseline=x0, steps=steps).flatten()
    cy = torch.tensor(c, dtype=F64)[y]
    xs, x0s = x.flatten(), x0.flatten()
    d = xs - x0s
    want = cy * (xs**3 - x0s**3) - cy * d**3 / (4 * steps**2)
    torch.testing.assert_close(ig, want, rtol=1e-13, atol=1e-15)
    assert ig[3] == 0.0  # x == x0


@pytest.mark.parametrize("steps", [1, 4])
def test_midpoint_rule_is_exact_for_quadratic_scores(steps: int) -> None:
    # the gradient of a quadratic is affine along the path: the midpoint rule integrates it
    # exactly, IG = f(x) - f(x0) pixel by pixel: a^2 (x^2 - x0^2)
    a = randn((2, 1, 3, 3), seed=21)
    net = Quadratic(a)
    x, x0 = randn((3, 1, 3, 3), seed=22), randn((3, 1, 3, 3), seed=23)
    y = torch.tensor([1, 0, 1])
    ig = integrated_gradients(net, x, y, baseline=x0, steps=steps)
    torch.testing.assert_close(ig, a[y].square() * (x.square() - x0.square()))


@pytest.mark.parametrize(
    ("batch_size", "steps"),
    [(1, 5), (2, 5), (3, 7), (4, 3), (5, 3), (6, 3), (7, 3), (13, 4), (128, 32), (1, 1)],
)
def test_integrated_gradients_chunking_does_not_change_the_result(
    batch_size: int, steps: int
) -> None:
    net = smooth_net(seed=24)
    x = rand((5, 3, 8, 8), seed=25)
    y = torch.tensor([2, 1, 0, 2, 1])
    x0 = rand((3, 1, 1), seed=26)
    want = ig_reference(net, x, y, as_tensor(x0, x), steps)
    got = integrated_gradients(net, x, y, baseline=x0, steps=steps, batch_size=batch_size)
    torch.testing.assert_close(got, want, rtol=1e-11, atol=1e-14)


def test_one_step_is_the_gradient_at_the_midpoint() -> None:
    net = smooth_net(seed=27)
    x = rand((3, 3, 8, 8), seed=28)
    y = torch.tensor([0, 2, 1])
    ig = integrated_gradients(net, x, y, baseline=0.2, steps=1)
    want = (x - 0.2) * input_gradients(net, (x + 0.2) / 2, y)
    torch.testing.assert_close(ig, want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("steps", [1, 6])
def test_zero_attribution_when_the_image_is_the_baseline(steps: int) -> None:
    net = smooth_net(seed=29)
    x = rand((3, 3, 8, 8), seed=30)
    y = torch.tensor([0, 1, 2])
    for baseline in (x.clone(), x[1:2].clone()):
        ig = integrated_gradients(net, x, y, baseline=baseline, steps=steps)
        rows = range(3) if baseline.shape[0] == 3 else [1]
        for i in rows:
            assert float(ig[i].abs().max()) == 0.0
    flat = torch.full((2, 3, 8, 8), 0.4, dtype=F64)
    ig = integrated_gradients(net, flat, y[:2], baseline=0.4, steps=steps)
    assert float(ig.abs().max()) == 0.0


def test_integrated_gradients_use_eval_mode() -> None:
    torch.manual_seed(31)
    net = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(12, 3)).double().train()
    x = rand((4, 3, 2, 2), seed=32)
    y = torch.tensor([0, 1, 2, 1])
    ig = integrated_gradients(net, x, y, steps=3)
    torch.testing.assert_close(ig, x * net[2].weight.detach()[y].reshape(4, 3, 2, 2))
    assert net.training and net[1].training


def test_float32_images_give_float32_attributions() -> None:
    net = smooth_net(seed=33).float()
    x = rand((2, 3, 8, 8), seed=34, dtype=torch.float32)
    y = torch.tensor([0, 1])
    ig = integrated_gradients(net, x, y, baseline=rand((3, 1, 1), seed=35), steps=3)
    assert ig.dtype == torch.float32
    ref = integrated_gradients(
        net.double(), x.double(), y, baseline=rand((3, 1, 1), seed=35), steps=3
    )
    torch.testing.assert_close(ig.double(), ref, rtol=1e-4, atol=1e-6)


def test_input_gradients_results_do_not_require_grad() -> None:
    net = linear_model(randn((2, 1, 2, 2), seed=36))
    x = rand((2, 1, 2, 2), seed=37).requires_grad_(True)
    y = torch.tensor([0, 1])
    assert not input_gradients(net, x, y).requires_grad


def test_integrated_gradients_results_do_not_require_grad() -> None:
    net = linear_model(randn((2, 1, 2, 2), seed=36))
    x = rand((2, 1, 2, 2), seed=37).requires_grad_(True)
    y = torch.tensor([0, 1])
    ig = integrated_gradients(net, x, y, steps=2)
    assert not ig.requires_grad
    assert not gradient_spectra(net, x, y, steps=2).integrated.requires_grad


# --------------------------------------------------------------------------------------
# 3. mean frequency (spectral centroid)
# --------------------------------------------------------------------------------------


def grid(h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.meshgrid(torch.arange(h, dtype=F64), torch.arange(w, dtype=F64), indexing="ij")


def wave(h: int, w: int, k1: int, k2: int, phase: float = 0.0) -> torch.Tensor:
    yy, xx = grid(h, w)
    return torch.cos(2 * math.pi * (k1 * yy / h + k2 * xx / w) + phase)


def alias(k: int, n: int) -> float:
    """|frequency| in cycles/pixel of DFT index k on an n-point axis."""
    k %= n
    return min(k, n - k) / n


@pytest.mark.parametrize(
    ("h", "w", "k1", "k2", "phase"),
    [
        (16, 16, 3, 0, 0.0),
        (16, 16, 0, 5, 0.3),
        (16, 16, 3, 4, 1.0),
        (16, 16, 1, -2, 0.0),
        (15, 21, 4, 7, -0.4),
        (9, 9, 4, 0, 0.0),  # odd size: 4/9 is the highest frequency, there is no Nyquist bin
        (16, 16, 13, 0, 0.0),  # index 13 aliases to -3: radius 3/16
        (12, 20, 17, 23, 0.7),  # both indices beyond the grid
        (8, 8, 4, 0, 0.0),  # cos at the Nyquist frequency: alternating rows, radius 1/2
        (8, 8, 4, 0, 1.1),  # shifted cosine at Nyquist = cos(1.1) (-1)^n: still 1/2
        (8, 8, 4, 0, -math.pi / 2 + 0.2),  # sin at Nyquist with a phase: still 1/2
        (8, 8, 4, 4, 0.0),  # checkerboard: radius sqrt(1/2)
        (8, 12, 4, 6, 0.0),
        (8, 12, 4, 1, 0.5),  # Nyquist on one axis only
        (10, 10, 5, 3, 0.0),
    ],
)
@pytest.mark.parametrize("dtype", [torch.float32, F64], ids=["f32", "f64"])
def test_a_sinusoid_has_its_radius_as_mean_frequency(
    h: int, w: int, k1: int, k2: int, phase: float, dtype: torch.dtype
) -> None:
    x = (0.5 + 0.3 * wave(h, w, k1, k2, phase))[None, None].to(dtype)
    want = math.hypot(alias(k1, h), alias(k2, w))
    got = mean_frequency(x)
    assert got.shape == (1,) and got.dtype == dtype
    tol = 1e-12 if dtype == F64 else 1e-5
    assert float(got[0]) == pytest.approx(want, abs=tol)


@pytest.mark.parametrize(("h", "w"), [(8, 8), (8, 6), (4, 10), (6, 7)])
def test_sine_at_nyquist_vanishes_on_the_grid(h: int, w: int) -> None:
    # sin(pi n) == 0 on integer samples: a sine at the Nyquist frequency is sampled as a
    # constant (up to sin's round-off, ~1e-16), so there is no non-DC power -> NaN
    yy, xx = grid(h, w)
    for arg in (math.pi * yy, math.pi * xx, math.pi * (yy + xx)):
        x = (0.5 + 0.3 * torch.sin(arg))[None, None]
        assert float((x - 0.5).abs().max()) < 1e-14
        assert torch.isnan(mean_frequency(x)).all()
    assert torch.isnan(mean_frequency(torch.zeros(1, 1, h, w, dtype=F64))).all()


def centroid_numpy(x: np.ndarray) -> np.ndarray:
    """Spectral centroid from numpy's FFT, channels summed, DC excluded."""
    h, w = x.shape[-2:]
    p = (np.abs(np.fft.fft2(x)) ** 2).sum(1)  # (B, H, W), unshifted
    r = np.hypot(np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :])
    p[:, 0, 0] = 0.0
    return (p * r).sum((1, 2)) / p.sum((1, 2))


def test_mean_frequency_equals_a_numpy_centroid() -> None:
    x = rand((5, 3, 12, 17), seed=38)
    torch.testing.assert_close(
        mean_frequency(x), torch.from_numpy(centroid_numpy(x.numpy())), rtol=1e-12, atol=0
    )


@pytest.mark.parametrize(("h", "w"), [(32, 32), (24, 40), (31, 33)])
def test_white_noise_centroid_is_the_mean_non_dc_radius(h: int, w: int) -> None:
    # white noise has the same expected power in every bin, so its centroid is close to
    # the plain average radius over the non-DC bins (about 0.38 for a square image)
    r = frequency_radius(h, w)
    want = (r.sum() - r[h // 2, w // 2]) / (r.size - 1)
    x = randn((32, 2, h, w), seed=39)
    got = mean_frequency(x)
    # per-image spread ~ std(r)/mean(r)/sqrt(#independent bins) ~ 1.5%; mean of 32: ~0.3%
    assert float(got.mean()) == pytest.approx(want, rel=0.015)
    assert float((got - want).abs().max()) < 0.08 * want


def test_mean_frequency_is_invariant_to_scale_and_offset() -> None:
    x = rand((4, 3, 10, 14), seed=40)
    m = mean_frequency(x)
    for s in (1e-3, 7.3, -2.0):
        torch.testing.assert_close(mean_frequency(s * x), m, rtol=1e-12, atol=0)
    torch.testing.assert_close(mean_frequency(x + 5.0), m, rtol=1e-11, atol=0)
    per_channel = torch.tensor([-1.0, 0.0, 3.0], dtype=F64)[None, :, None, None]
    torch.testing.assert_close(mean_frequency(x + per_channel), m, rtol=1e-11, atol=0)


def test_mean_frequency_sums_the_channels_power() -> None:
    h = w = 16
    a, b = 0.7, 0.2  # amplitudes: power ratio a^2 : b^2
    x = torch.stack([0.5 + a * wave(h, w, 2, 0), 0.5 + b * wave(h, w, 0, 6)])[None]
    r1, r2 = 2 / 16, 6 / 16
    want = (a**2 * r1 + b**2 * r2) / (a**2 + b**2)
    assert float(mean_frequency(x)[0]) == pytest.approx(want, abs=1e-12)
    # a constant channel adds no non-DC power and leaves the centroid alone
    x3 = torch.cat([x, torch.full((1, 1, h, w), 0.3, dtype=F64)], 1)
    assert float(mean_frequency(x3)[0]) == pytest.approx(want, abs=1e-12)


def test_mean_frequency_is_per_image() -> None:
    x = rand((6, 2, 9, 11), seed=41)
    x[2] = 0.25  # a constant image in the middle of the batch
    got = mean_frequency(x)
    for i in range(6):
        torch.testing.assert_close(got[i : i + 1], mean_frequency(x[i : i + 1]), equal_nan=True)
    assert torch.isnan(got[2]) and torch.isfinite(got[[0, 1, 3, 4, 5]]).all()


CONSTANTS = [(v, s) for v in (0.3, 0.7, 1 / 3, 0.1, 0.123) for s in ((7, 9), (13, 13), (24, 24))]


def test_constant_float64_images_have_nan_mean_frequency() -> None:
    for v, (h, w) in CONSTANTS:
        x = torch.full((1, 3, h, w), v, dtype=F64)
        assert torch.isnan(mean_frequency(x)).all(), (v, h, w)


def test_constant_float32_images_have_nan_mean_frequency() -> None:
    for v, (h, w) in CONSTANTS:
        x = torch.full((1, 3, h, w), v, dtype=torch.float32)
        assert torch.isnan(mean_frequency(x)).all(), (v, h, w, float(mean_frequency(x)[0]))


def test_mean_frequency_rejects_bad_input() -> None:
    with pytest.raises(SpectralTypeError, match="x"):
        mean_frequency(np.zeros((1, 1, 4, 4)))  # type: ignore[arg-type]
    with pytest.raises(SpectralTypeError, match="dtype"):
        mean_frequency(torch.zeros(1, 1, 4, 4, dtype=torch.int64))
    with pytest.raises(SpectralValueError, match="4 dimensions"):
        mean_frequency(torch.zeros(1, 4, 4))
    with pytest.raises(SpectralValueError, match="finite"):
        mean_frequency(torch.full((1, 1, 4, 4), float("nan")))


# --------------------------------------------------------------------------------------
# 4. edge correlation
# --------------------------------------------------------------------------------------


def sobel_magnitude(grey: np.ndarray) -> np.ndarray:
    """scipy's Sobel with edge replication ('nearest'), image by image (..., H, W)."""
    if grey.ndim > 2:
        return np.stack([sobel_magnitude(g) for g in grey])
    gx = ndimage.sobel(grey, axis=1, mode="nearest")
    gy = ndimage.sobel(grey, axis=0, mode="nearest")
    return np.hypot(gx, gy)


def structured_images(b: int, h: int = 24, w: int = 24, seed: int = 0) -> torch.Tensor:
    """Piecewise-constant images (random rectangles) plus a gentle ramp: real edges."""
    g = np.random.default_rng(seed)
    out = np.zeros((b, 3, h, w))
    for i in range(b):
        out[i] += np.linspace(0, 0.2, w)[None, None, :]
        for _ in range(4):
            y0, x0 = g.integers(0, h - 4), g.integers(0, w - 4)
            y1, x1 = g.integers(y0 + 2, h + 1), g.integers(x0 + 2, w + 1)
            out[i, :, y0:y1, x0:x1] += g.uniform(0.1, 0.4, size=(3, 1, 1))
    return torch.from_numpy(out.clip(0, 1))


def test_edge_magnitude_itself_correlates_perfectly() -> None:
    x1 = structured_images(3, seed=42)[:, :1]  # single channel
    edges = torch.from_numpy(sobel_magnitude(x1[:, 0].numpy()))[:, None]
    torch.testing.assert_close(edge_correlation(edges, x1), torch.ones(3, dtype=F64))
    torch.testing.assert_close(edge_correlation(-3 * edges, x1), torch.ones(3, dtype=F64))
    # three channels: grey = channel mean; the attribution's |.| summed over channels
    x3 = structured_images(3, seed=43)
    e3 = torch.from_numpy(sobel_magnitude(x3.mean(1).numpy()))[:, None]
    split = torch.cat([0.5 * e3, -0.2 * e3, 0.3 * e3], 1)
    torch.testing.assert_close(edge_correlation(split, x3), torch.ones(3, dtype=F64))


def test_edge_correlation_equals_numpy_pearson() -> None:
    x = structured_images(4, h=17, w=23, seed=44)
    a = randn((4, 3, 17, 23), seed=45) * torch.linspace(0.1, 2, 23, dtype=F64)
    got = edge_correlation(a, x)
    for i in range(4):
        edges = sobel_magnitude(x[i].mean(0).numpy()).ravel()
        mag = a[i].abs().sum(0).numpy().ravel()
        assert float(got[i]) == pytest.approx(np.corrcoef(mag, edges)[0, 1], abs=1e-12)
    assert got.dtype == F64 and got.shape == (4,)
    got32 = edge_correlation(a.float(), x.float())
    assert got32.dtype == torch.float32
    torch.testing.assert_close(got32.double(), got, rtol=1e-5, atol=1e-6)


def test_random_attribution_is_uncorrelated_with_edges() -> None:
    x = structured_images(64, h=32, w=32, seed=46)
    a = randn((64, 3, 32, 32), seed=47)
    r = edge_correlation(a, x)
    # Pearson of independent maps with n = 1024 pixels: std ~ 1/32 per image; 64 images
    assert float(r.abs().max()) < 6 / 32
    assert abs(float(r.mean())) < 5 / 32 / 8


def test_edge_correlation_invariances() -> None:
    x = structured_images(3, seed=48)
    a = randn((3, 3, 24, 24), seed=49)
    r = edge_correlation(a, x)
    for s in (1e-4, 5.0, -2.0):
        torch.testing.assert_close(edge_correlation(s * a, x), r, rtol=1e-12, atol=1e-14)
    signs = torch.randint(0, 2, a.shape, generator=torch.Generator().manual_seed(50)) * 2 - 1
    torch.testing.assert_close(edge_correlation(a * signs, x), r, rtol=1e-12, atol=1e-14)
    # Sobel is linear and kills constants: image scale and offset do not matter either
    torch.testing.assert_close(edge_correlation(a, 0.5 * x + 0.2), r, rtol=1e-10, atol=1e-12)


def test_edge_correlation_is_nan_for_constant_maps() -> None:
    x = structured_images(2, seed=51)
    a = randn((2, 3, 24, 24), seed=52)
    for v in (0.0, 0.3, 1 / 3):
        assert torch.isnan(edge_correlation(a, torch.full_like(x, v))).all()
    for v in (0.0, 0.25, -0.5):  # constants whose mean is exact in floating point
        assert torch.isnan(edge_correlation(torch.full_like(a, v), x)).all()
    per_channel = torch.tensor([0.25, -0.75, 0.125], dtype=F64)[None, :, None, None]
    assert torch.isnan(edge_correlation(per_channel.expand_as(a).clone(), x)).all()
    # a grey image that is constant although its channels are not: grey = mean_c x_c
    img = torch.stack([torch.full((24, 24), 0.25), torch.full((24, 24), 0.5)], 0).double()
    img = img[None].repeat(2, 1, 1, 1)
    img[:, 0, :12] += 0.125  # exact binary fractions: the grey image is exactly 0.375
    img[:, 1, :12] -= 0.125
    assert torch.isnan(edge_correlation(a[:, :2], img)).all()
    # only the constant image of the batch is NaN
    mixed = x.clone()
    mixed[1] = 0.5
    r = edge_correlation(a, mixed)
    assert torch.isfinite(r[0]) and torch.isnan(r[1])


def test_edge_correlation_is_nan_for_any_constant_attribution() -> None:
    x = structured_images(2, seed=51)
    for v in (0.1, 0.3, 1 / 3, 0.7):
        r = edge_correlation(torch.full_like(x, v), x)
        assert torch.isnan(r).all(), (v, r.tolist())


def test_edge_correlation_rejects_bad_input() -> None:
    x = structured_images(2, seed=53)
    with pytest.raises(SpectralValueError, match=r"attributions.*\(2, 3, 24, 24\)"):
        edge_correlation(torch.zeros(2, 3, 24, 23, dtype=F64), x)
    with pytest.raises(SpectralValueError, match="attributions"):
        edge_correlation(torch.zeros(1, 3, 24, 24, dtype=F64), x)
    with pytest.raises(SpectralValueError, match="attributions"):
        edge_correlation(torch.full_like(x, float("nan")), x)
    with pytest.raises(SpectralValueError, match="images"):
        edge_correlation(x, torch.full_like(x, float("inf")))
    with pytest.raises(SpectralTypeError, match="attributions"):
        edge_correlation(x.long(), x)
    with pytest.raises(SpectralTypeError, match="images"):
        edge_correlation(x, (x * 255).to(torch.uint8))
    with pytest.raises(SpectralValueError, match="attributions: expected 4 dimensions"):
        edge_correlation(x[0], x[0])
    with pytest.raises(SpectralValueError, match="images: expected 4 dimensions"):
        edge_correlation(x, x[0])


# --------------------------------------------------------------------------------------
# 5. gradient_spectra
# --------------------------------------------------------------------------------------


def tiled(pattern: torch.Tensor, k: int = 3) -> torch.Tensor:
    """A (k, C, H, W) weight whose rows are all ``pattern``."""
    return pattern[None].expand(k, *pattern.shape).clone()


@pytest.fixture(scope="module")
def result() -> tuple[GradientSpectra, nn.Module, torch.Tensor, torch.Tensor]:
    net = smooth_net(seed=54, h=12)
    x = rand((5, 3, 12, 12), seed=55)
    x[3] = 0.4  # a constant image: NaN image statistics for that one
    y = torch.tensor([0, 2, 1, 1, 0])
    return gradient_spectra(net, x, y, steps=5, baseline=0.1), net, x, y


def test_gradient_spectra_contents_are_the_module_functions(
    result: tuple[GradientSpectra, nn.Module, torch.Tensor, torch.Tensor],
) -> None:
    gs, net, x, y = result
    torch.testing.assert_close(gs.gradients, input_gradients(net, x, y), rtol=0, atol=0)
    ig = integrated_gradients(net, x, y, steps=5, baseline=0.1)
    torch.testing.assert_close(gs.integrated, ig, rtol=0, atol=0)
    maps = {"gradient": gs.gradients, "integrated": gs.integrated, "image": x}
    assert set(gs.band_energy) == set(gs.slope) == set(gs.mean_frequency) == set(KINDS)
    assert set(gs.radial_power) == set(KINDS)
    assert set(gs.edge_correlation) == {"gradient", "integrated"}
    assert gs.cutoffs == (1 / 8, 1 / 4)
    for kind, m in maps.items():
        be = band_energy(m, cutoffs=gs.cutoffs)
        assert gs.band_energy[kind].shape == (5, 3, 3)
        torch.testing.assert_close(gs.band_energy[kind], be, equal_nan=True)
        torch.testing.assert_close(gs.mean_frequency[kind], mean_frequency(m), equal_nan=True)
    for kind in ("gradient", "integrated"):
        want = edge_correlation(maps[kind], x)
        torch.testing.assert_close(gs.edge_correlation[kind], want, equal_nan=True)
    # the constant image: NaN image statistics, finite gradient statistics
    assert torch.isnan(gs.band_energy["image"][3]).all()
    assert torch.isnan(gs.mean_frequency["image"][3])
    assert torch.isnan(gs.edge_correlation["gradient"][3])
    assert torch.isfinite(gs.mean_frequency["gradient"]).all()


def normalised_power_numpy(m: torch.Tensor) -> np.ndarray:
    """numpy power |F|^2/(HW), DC removed, each image's non-DC power scaled to sum 1.

    A constant map (non-DC power at round-off level) has nothing to normalise: zeros.
    """
    a = m.detach().double().numpy()
    h, w = a.shape[-2:]
    p = np.fft.fftshift(np.abs(np.fft.fft2(a)) ** 2 / (h * w), axes=(-2, -1))
    p[..., h // 2, w // 2] = 0.0
    tot = p.sum((1, 2, 3), keepdims=True)
    flat = tot <= 1e-24 * (a**2).sum((1, 2, 3), keepdims=True)
    return np.where(flat, 0.0, p / np.where(flat, 1.0, tot))


def test_radial_power_is_the_mean_normalised_ring_average(
    result: tuple[GradientSpectra, nn.Module, torch.Tensor, torch.Tensor],
) -> None:
    gs, _, x, _ = result
    maps = {"gradient": gs.gradients, "integrated": gs.integrated, "image": x}
    h, w = x.shape[-2:]
    for kind, m in maps.items():
        # the numpy spectrum agrees with the package's power spectrum (Parseval scaling)
        ref = np.fft.fftshift(np.abs(np.fft.fft2(m.numpy())) ** 2 / (h * w), axes=(-2, -1))
        torch.testing.assert_close(power_spectrum(m), torch.from_numpy(ref), atol=1e-13, rtol=1e-9)
        p = torch.from_numpy(normalised_power_numpy(m))
        radii, prof = radial_profile(p)
        torch.testing.assert_close(gs.radii, radii.to(gs.radii.dtype))
        assert gs.radial_power[kind].shape == radii.shape
        # maps without non-DC power (the constant image) are left out of the mean
        has = p.sum((1, 2, 3)) > 0
        want = prof[has].sum(1).mean(0)
        torch.testing.assert_close(gs.radial_power[kind], want, rtol=1e-9, atol=1e-15)
        slope = powerlaw_slope(radii, prof)
        slope[~has] = float("nan")
        torch.testing.assert_close(gs.slope[kind], slope, equal_nan=True)


def test_constant_images_of_any_value_give_the_same_spectra() -> None:
    # adding a constant to an image changes only its DC term, which every statistic here
    # leaves out: a batch with a constant 0.4 image must give what a 0.0 image gives
    net = linear_model(randn((2, 3, 7, 9), seed=80))
    x = rand((3, 3, 7, 9), seed=81)
    y = torch.tensor([0, 1, 0])
    out = {}
    for v in (0.0, 0.4):
        xv = x.clone()
        xv[1] = v
        out[v] = gradient_spectra(net, xv, y, steps=2)
    assert torch.isnan(out[0.4].band_energy["image"][1]).all()
    assert torch.isnan(out[0.4].mean_frequency["image"][1])
    assert torch.isnan(out[0.0].slope["image"][1]).all()
    assert torch.isnan(out[0.4].slope["image"][1]).all()
    torch.testing.assert_close(out[0.4].radial_power["image"], out[0.0].radial_power["image"])


def test_radial_power_rings_weighted_by_size_hold_all_power_but_the_corners() -> None:
    # For each image the normalised non-DC power sums to 1; rings average their bins, so
    # sum_k n_k * radial_power[k] = mean over images of the power not in the corners
    # (radius beyond the last ring), computed here from numpy alone.
    net = smooth_net(seed=56, h=10)
    x = rand((4, 3, 10, 10), seed=57)
    gs = gradient_spectra(net, x, torch.tensor([0, 1, 2, 0]), steps=3)
    h, w = 10, 10
    r = frequency_radius(h, w)
    d = 1 / min(h, w)
    ring = np.floor(r / d + 0.5).astype(int)  # documented ring rule (k -/+ 1/2) d
    n_bins = min(h, w) // 2 + 1
    counts = torch.from_numpy(np.bincount(ring[ring < n_bins], minlength=n_bins).astype(float))
    for kind, m in {"gradient": gs.gradients, "integrated": gs.integrated, "image": x}.items():
        p = normalised_power_numpy(m)
        inside = p[..., ring < n_bins].sum((1, 2)).mean()
        assert 0.5 < inside < 1.0  # the corners do hold some power
        assert float((counts * gs.radial_power[kind].double()).sum()) == pytest.approx(inside)


def test_a_cosine_gradient_fills_exactly_one_ring() -> None:
    h = w = 16
    k = 3
    pattern = wave(h, w, 0, k)[None]  # 1 channel, cos(2 pi 3 x / 16)
    net = linear_model(tiled(pattern, 2))
    x = rand((3, 1, h, w), seed=58)
    gs = gradient_spectra(net, x, torch.tensor([0, 1, 1]), steps=2)
    r = frequency_radius(h, w)
    ring_size = int((np.floor(r * 16 + 0.5) == k).sum())
    want = torch.zeros(h // 2 + 1, dtype=F64)
    want[k] = 1.0 / ring_size  # all (normalised) power in ring 3, averaged over its bins
    torch.testing.assert_close(gs.radial_power["gradient"], want, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(gs.mean_frequency["gradient"], torch.full((3,), k / 16, dtype=F64))
    torch.testing.assert_close(
        gs.band_energy["gradient"], torch.tensor([0.0, 1.0, 0.0], dtype=F64).expand(3, 1, 3)
    )


def test_smooth_gradient_measures_smoother_than_a_rough_one() -> None:
    h = w = 16
    yy, xx = grid(h, w)
    noise = 0.02 * randn((3, h, w), seed=59)  # a noise floor so every ring has power
    smooth = torch.cos(2 * math.pi * xx / w) * torch.cos(2 * math.pi * yy / h) + noise
    rough = (-1.0) ** (xx + yy) + noise  # checkerboard
    x = rand((6, 3, h, w), seed=60)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    s = gradient_spectra(linear_model(tiled(smooth)), x, y, steps=2)
    r = gradient_spectra(linear_model(tiled(rough)), x, y, steps=2)
    for kind in ("gradient", "integrated"):
        assert (s.mean_frequency[kind] < r.mean_frequency[kind]).all()
        assert (s.band_energy[kind][..., 2] < r.band_energy[kind][..., 2]).all()
        assert (s.band_energy[kind][..., 0] > r.band_energy[kind][..., 0]).all()
        assert (s.slope[kind] < r.slope[kind]).all()
    # the gradient is the weight: its centroid is known up to the noise floor
    assert float(s.mean_frequency["gradient"].max()) < 0.1  # ~ sqrt(2)/16 = 0.088
    assert float(r.mean_frequency["gradient"].min()) > 0.69  # ~ sqrt(1/2) = 0.707
    # the image statistics do not depend on the model
    torch.testing.assert_close(s.mean_frequency["image"], r.mean_frequency["image"])


def test_gradient_spectra_options_are_passed_on() -> None:
    net = smooth_net(seed=61, h=8)
    x = rand((3, 3, 8, 8), seed=62)
    y = torch.tensor([1, 2, 0])
    x0 = rand((3, 1, 1), seed=63)
    gs = gradient_spectra(net, x, y, steps=3, baseline=x0, cutoffs=(0.1, 0.3), batch_size=2)
    ig = integrated_gradients(net, x, y, steps=3, baseline=x0)
    torch.testing.assert_close(gs.integrated, ig, rtol=1e-12, atol=1e-15)
    assert gs.cutoffs == (0.1, 0.3)
    torch.testing.assert_close(gs.band_energy["image"], band_energy(x, cutoffs=(0.1, 0.3)))


def test_gradient_spectra_float32() -> None:
    net = smooth_net(seed=64, h=8).float()
    x = rand((2, 3, 8, 8), seed=65, dtype=torch.float32)
    gs = gradient_spectra(net, x, torch.tensor([0, 1]), steps=2)
    for t in [gs.gradients, gs.integrated, gs.radii, *gs.radial_power.values()]:
        assert t.dtype == torch.float32
    for d in (gs.band_energy, gs.slope, gs.mean_frequency, gs.edge_correlation):
        assert all(v.dtype == torch.float32 for v in d.values())


def test_gradient_spectra_is_frozen(
    result: tuple[GradientSpectra, nn.Module, torch.Tensor, torch.Tensor],
) -> None:
    gs = result[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        gs.cutoffs = (0.1, 0.2)  # type: ignore[misc]


def test_summary_is_the_nanmean(
    result: tuple[GradientSpectra, nn.Module, torch.Tensor, torch.Tensor],
) -> None:
    gs = result[0]
    s = gs.summary()
    assert set(s) == set(KINDS)
    for kind in KINDS:
        keys = {"low", "mid", "high", "slope", "mean_frequency"}
        if kind != "image":
            keys.add("edge_correlation")
        assert set(s[kind]) == keys
        be = gs.band_energy[kind].double().numpy().reshape(-1, 3)
        for j, band in enumerate(("low", "mid", "high")):
            assert s[kind][band] == pytest.approx(float(np.nanmean(be[:, j])), rel=1e-12)
        assert s[kind]["slope"] == pytest.approx(float(np.nanmean(gs.slope[kind].numpy())))
        mf = float(np.nanmean(gs.mean_frequency[kind].numpy()))
        assert s[kind]["mean_frequency"] == pytest.approx(mf, rel=1e-12)
        if kind != "image":
            ec = float(np.nanmean(gs.edge_correlation[kind].numpy()))
            assert s[kind]["edge_correlation"] == pytest.approx(ec, rel=1e-12)
        assert all(math.isfinite(v) for v in s[kind].values())  # one NaN image is ignored
        assert s[kind]["low"] + s[kind]["mid"] + s[kind]["high"] == pytest.approx(1.0)


def test_to_dict_is_strict_json_with_the_documented_keys(
    result: tuple[GradientSpectra, nn.Module, torch.Tensor, torch.Tensor],
) -> None:
    gs = result[0]
    d = gs.to_dict()
    back = json.loads(json.dumps(d, allow_nan=False))
    assert set(back) == {
        "n_images",
        "cutoffs",
        "bands",
        "summary",
        "radii",
        "radial_power",
        "per_image",
    }
    assert back["n_images"] == 5
    assert back["cutoffs"] == [1 / 8, 1 / 4]
    assert back["bands"] == ["low", "mid", "high"]
    assert back["summary"] == gs.summary()
    np.testing.assert_allclose(back["radii"], gs.radii.numpy())
    assert set(back["radial_power"]) == set(KINDS)
    for kind in KINDS:
        np.testing.assert_allclose(back["radial_power"][kind], gs.radial_power[kind].numpy())
    assert set(back["per_image"]) == {"mean_frequency", "edge_correlation"}
    assert set(back["per_image"]["mean_frequency"]) == set(KINDS)
    assert set(back["per_image"]["edge_correlation"]) == {"gradient", "integrated"}
    # NaN per-image entries (the constant image) come out as null
    assert back["per_image"]["mean_frequency"]["image"][3] is None
    assert back["per_image"]["edge_correlation"]["gradient"][3] is None
    mf = back["per_image"]["mean_frequency"]["gradient"]
    np.testing.assert_allclose(mf, gs.mean_frequency["gradient"].numpy(), rtol=1e-12)


def test_to_dict_is_strict_json_when_a_whole_statistic_is_nan() -> None:
    # a linear model with a constant weight: every input gradient is a constant map, so
    # its band energies, slope, centroid and edge correlation are NaN for every image
    net = linear_model(torch.full((2, 3, 8, 8), 0.5, dtype=F64))
    x = rand((3, 3, 8, 8), seed=66)
    gs = gradient_spectra(net, x, torch.tensor([0, 1, 0]), steps=2)
    assert torch.isnan(gs.edge_correlation["gradient"]).all()  # the premise
    d = json.loads(json.dumps(gs.to_dict(), allow_nan=False))
    assert d["summary"]["gradient"]["edge_correlation"] is None


# --------------------------------------------------------------------------------------
# 6. validation
# --------------------------------------------------------------------------------------


def tiny() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    net = linear_model(randn((3, 2, 4, 4), seed=67))
    return net, rand((2, 2, 4, 4), seed=68), torch.tensor([0, 2])


FUNCS: dict[str, Callable[..., object]] = {
    "input_gradients": input_gradients,
    "integrated_gradients": integrated_gradients,
    "gradient_spectra": gradient_spectra,
}

TE, VE = SpectralTypeError, SpectralValueError
NAN = float("nan")

COMMON_BAD = [
    ("model_lambda", {"model": lambda z: z}, TE, "model"),
    ("model_none", {"model": None}, TE, "model"),
    ("images_int", {"images": torch.zeros(2, 2, 4, 4, dtype=torch.int64)}, TE, "images"),
    ("images_uint8", {"images": torch.zeros(2, 2, 4, 4, dtype=torch.uint8)}, TE, "images"),
    ("images_numpy", {"images": np.zeros((2, 2, 4, 4))}, TE, "images"),
    ("images_3d", {"images": torch.zeros(2, 32, 1, dtype=F64)}, VE, "images"),
    ("images_nan", {"images": torch.full((2, 2, 4, 4), NAN, dtype=F64)}, VE, "images"),
    ("labels_list", {"labels": [0, 1]}, TE, "labels"),
    ("labels_float", {"labels": torch.tensor([0.0, 1.0])}, TE, "labels"),
    ("labels_bool", {"labels": torch.tensor([True, False])}, TE, "labels"),
    ("labels_2d", {"labels": torch.tensor([[0], [1]])}, VE, "labels"),
    ("labels_short", {"labels": torch.tensor([0])}, VE, "labels"),
    ("labels_negative", {"labels": torch.tensor([0, -1])}, VE, "labels"),
    ("labels_too_big", {"labels": torch.tensor([0, 3])}, VE, r"labels.*< 3"),
    ("batch_size_0", {"batch_size": 0}, VE, "batch_size"),
    ("batch_size_neg", {"batch_size": -4}, VE, "batch_size"),
    ("batch_size_float", {"batch_size": 2.0}, TE, "batch_size"),
    ("batch_size_bool", {"batch_size": True}, TE, "batch_size"),
]

IG_BAD = [
    ("steps_0", {"steps": 0}, VE, "steps"),
    ("steps_neg", {"steps": -3}, VE, "steps"),
    ("steps_bool", {"steps": True}, VE, "steps"),
    ("steps_float", {"steps": 4.0}, VE, "steps"),
    ("baseline_str", {"baseline": "black"}, TE, "baseline"),
    ("baseline_none", {"baseline": None}, TE, "baseline"),
    ("baseline_list", {"baseline": [0.0, 0.0]}, TE, "baseline"),
    ("baseline_bool", {"baseline": True}, TE, "baseline"),
    ("baseline_shape", {"baseline": torch.zeros(3, 1, 1)}, VE, r"baseline.*\(3, 1, 1\)"),
    ("baseline_batch", {"baseline": torch.zeros(3, 2, 4, 4)}, VE, "baseline"),
    ("baseline_5d", {"baseline": torch.zeros(2, 2, 2, 4, 4)}, VE, "baseline"),
    ("baseline_nan", {"baseline": NAN}, VE, "baseline"),
    ("baseline_inf", {"baseline": float("inf")}, VE, "baseline"),
    ("baseline_nan_tensor", {"baseline": torch.tensor([0.0, NAN])[:, None, None]}, VE, "baseline"),
]


def call(fn: str, **over: object) -> object:
    net, x, y = tiny()
    kw: dict[str, object] = {"model": net, "images": x, "labels": y}
    kw.update(over)
    model, images, labels = kw.pop("model"), kw.pop("images"), kw.pop("labels")
    return FUNCS[fn](model, images, labels, **kw)


@pytest.mark.parametrize("fn", list(FUNCS))
@pytest.mark.parametrize(
    ("case", "over", "exc", "needle"), COMMON_BAD, ids=[c[0] for c in COMMON_BAD]
)
def test_bad_common_arguments_raise_typed_errors(
    fn: str, case: str, over: dict[str, object], exc: type[Exception], needle: str
) -> None:
    with pytest.raises(exc, match=needle):
        call(fn, **over)


@pytest.mark.parametrize("fn", ["integrated_gradients", "gradient_spectra"])
@pytest.mark.parametrize(("case", "over", "exc", "needle"), IG_BAD, ids=[c[0] for c in IG_BAD])
def test_bad_steps_and_baselines_raise_typed_errors(
    fn: str, case: str, over: dict[str, object], exc: type[Exception], needle: str
) -> None:
    with pytest.raises(exc, match=needle):
        call(fn, **over)


@pytest.mark.parametrize("cutoffs", [(0.3, 0.1), (0.0, 0.2), (0.1,), "low", (0.1, float("nan"))])
def test_bad_cutoffs_raise(cutoffs: object) -> None:
    with pytest.raises(SpectralValueError, match="cutoffs"):
        call("gradient_spectra", cutoffs=cutoffs)


def test_errors_are_also_builtin_errors() -> None:
    with pytest.raises(ValueError):
        call("integrated_gradients", steps=0)
    with pytest.raises(TypeError):
        call("input_gradients", model="net")


@pytest.mark.parametrize("fn", list(FUNCS))
def test_model_with_non_logit_output_is_an_error(fn: str) -> None:
    for bad in (nn.Identity(), nn.Flatten(0)):  # 4-D output, 1-D output
        with pytest.raises(SpectralValueError, match=r"model: expected logits"):
            call(fn, model=bad)


def test_labels_are_checked_against_the_model_in_every_chunk() -> None:
    net, x, _ = tiny()
    x4 = torch.cat([x, x])
    y = torch.tensor([0, 1, 2, 5])  # out of range only in the last chunk
    with pytest.raises(SpectralValueError, match=r"labels.*< 3.*5"):
        input_gradients(net, x4, y, batch_size=1)
    with pytest.raises(SpectralValueError, match="labels"):
        integrated_gradients(net, x4, y, steps=2, batch_size=2)


class CountingLinear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inner = linear_model(randn((3, 2, 4, 4), seed=69))
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.inner(x)  # type: ignore[no-any-return]


@pytest.mark.parametrize(("case", "over", "exc", "needle"), IG_BAD, ids=[c[0] for c in IG_BAD])
def test_integrated_gradients_validates_before_running_the_model(
    case: str, over: dict[str, object], exc: type[Exception], needle: str
) -> None:
    net = CountingLinear()
    with pytest.raises(exc, match=needle):
        call("integrated_gradients", model=net, **over)
    assert net.calls == 0


def test_gradient_spectra_validates_before_running_the_model() -> None:
    net = CountingLinear()
    with pytest.raises(SpectralValueError, match="steps"):
        call("gradient_spectra", model=net, steps=0)
    assert net.calls == 0


def test_gradient_spectra_needs_two_pixels_per_axis() -> None:
    net = linear_model(randn((2, 1, 1, 8), seed=70))
    with pytest.raises(SpectralValueError, match="H and W >= 2"):
        gradient_spectra(net, rand((2, 1, 1, 8), seed=71), torch.tensor([0, 1]), steps=2)


def test_gradient_spectra_one_pixel_axis_error_names_images() -> None:
    net = linear_model(randn((2, 1, 1, 8), seed=70))
    with pytest.raises(SpectralValueError, match=r"^images"):
        gradient_spectra(net, rand((2, 1, 1, 8), seed=71), torch.tensor([0, 1]), steps=2)


# --------------------------------------------------------------------------------------
# 7. the model (and the images) are left as found
# --------------------------------------------------------------------------------------


def bn_model() -> nn.Module:
    torch.manual_seed(72)
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.Tanh(),
        nn.Dropout(0.3),
        nn.Flatten(),
        nn.Linear(4 * 6 * 6, 3),
    ).double()
    bn = net[1]
    with torch.no_grad():
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.2, 0.2)
    return net.train()


def state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


RUNS: dict[str, Callable[[nn.Module, torch.Tensor, torch.Tensor], object]] = {
    "input_gradients": lambda m, x, y: input_gradients(m, x, y, batch_size=2),
    "integrated_gradients": lambda m, x, y: integrated_gradients(m, x, y, steps=3, batch_size=4),
    "gradient_spectra": lambda m, x, y: gradient_spectra(m, x, y, steps=3, batch_size=4),
}


@pytest.mark.parametrize("fn", list(RUNS))
def test_batchnorm_model_in_train_mode_is_left_as_found(fn: str) -> None:
    net = bn_model()
    net[3].eval()  # mixed flags must come back per module
    flags = {n: m.training for n, m in net.named_modules()}
    before = state(net)
    x = rand((5, 3, 6, 6), seed=73)
    y = torch.tensor([0, 1, 2, 1, 0])
    RUNS[fn](net, x, y)
    assert {n: m.training for n, m in net.named_modules()} == flags
    after = state(net)
    assert after.keys() == before.keys()
    for k in before:  # running stats (and num_batches_tracked) untouched: eval mode inside
        assert torch.equal(after[k], before[k]), k


def test_batchnorm_gradients_are_those_of_the_eval_model() -> None:
    net = bn_model()
    x = rand((5, 3, 6, 6), seed=74)
    y = torch.tensor([0, 1, 2, 1, 0])
    g = input_gradients(net, x, y, batch_size=2)
    ig = integrated_gradients(net, x, y, steps=4, batch_size=3)
    ref = bn_model().eval()
    xg = x.clone().requires_grad_(True)
    (want,) = torch.autograd.grad(ref(xg).gather(1, y[:, None]).sum(), xg)
    torch.testing.assert_close(g, want, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(ig, ig_reference(ref, x, y, torch.zeros_like(x), 4))


@pytest.mark.parametrize("fn", list(RUNS))
def test_parameter_grads_are_left_as_found(fn: str) -> None:
    net = bn_model()
    conv, lin = net[0], net[5]
    existing = torch.full_like(conv.weight, 0.25)
    conv.weight.grad = existing
    x = rand((3, 3, 6, 6), seed=75)
    RUNS[fn](net, x, torch.tensor([0, 1, 2]))
    assert conv.weight.grad is existing  # same tensor object ...
    assert torch.equal(existing, torch.full_like(conv.weight, 0.25))  # ... same values
    assert lin.weight.grad is None and lin.bias.grad is None and conv.bias.grad is None


@pytest.mark.parametrize("fn", list(RUNS))
@pytest.mark.parametrize("requires_grad", [False, True])
def test_images_are_left_as_found(fn: str, requires_grad: bool) -> None:
    net = bn_model()
    x = rand((3, 3, 6, 6), seed=76).requires_grad_(requires_grad)
    copy = x.detach().clone()
    RUNS[fn](net, x, torch.tensor([0, 1, 2]))
    assert x.requires_grad is requires_grad
    assert x.grad is None
    assert torch.equal(x.detach(), copy)


@pytest.mark.parametrize("fn", ["input_gradients", "integrated_gradients"])
def test_flags_and_grads_restored_after_an_error(fn: str) -> None:
    net = bn_model()
    x = rand((3, 3, 6, 6), seed=77)
    with pytest.raises(SpectralValueError, match="labels"):
        RUNS[fn](net, x, torch.tensor([0, 1, 7]))
    assert net.training and all(m.training for m in net.modules())
    assert all(p.grad is None for p in net.parameters())


def test_tensor_baseline_is_not_modified() -> None:
    net = bn_model()
    x = rand((3, 3, 6, 6), seed=78)
    b = rand((1, 3, 6, 6), seed=79)
    copy = b.clone()
    integrated_gradients(net, x, torch.tensor([0, 1, 2]), baseline=b, steps=2)
    assert torch.equal(b, copy)


# --------------------------------------------------------------------------------------
# 8. the shipped models on the built-in data
# --------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", ["standard", "adversarial"])
def test_builtin_models_on_builtin_data(name: str) -> None:
    torch.set_num_threads(os.cpu_count() or 1)  # undone by the autouse fixture
    ds = spectral.load_dataset("builtin", "test", seed=0)
    pick = torch.randperm(ds.images.shape[0], generator=torch.Generator().manual_seed(0))[:64]
    x, y = ds.images[pick], ds.labels[pick]
    model = spectral.load_model(f"builtin:{name}")
    before = state(model)
    gs = gradient_spectra(model, x, y, steps=64)
    assert state(model).keys() == before.keys()
    assert all(torch.equal(state(model)[k], before[k]) for k in before)
    assert gs.gradients.shape == gs.integrated.shape == x.shape
    for t in (gs.gradients, gs.integrated, gs.radii, *gs.radial_power.values()):
        assert torch.isfinite(t).all()
    for d in (gs.band_energy, gs.slope, gs.mean_frequency, gs.edge_correlation):
        for v in d.values():
            assert torch.isfinite(v).all()  # real images and gradients are never constant
    for kind in KINDS:
        torch.testing.assert_close(gs.band_energy[kind].sum(-1), torch.ones(64, 3))
        assert ((gs.mean_frequency[kind] > 0) & (gs.mean_frequency[kind] < 0.71)).all()
    for v in gs.edge_correlation.values():
        assert (v.abs() <= 1).all()
    json.dumps(gs.to_dict(), allow_nan=False)
    # Completeness: sum IG == f(x) - f(0). These are ReLU/max-pool nets (piecewise linear),
    # so the midpoint rule errs only on the path segments where the activation pattern
    # changes, and the error falls roughly like 1/steps. Measured on these 64 images
    # (||err|| / ||f(x) - f(0)||, standard / adversarial): 0.039 / 0.069 at 8 steps,
    # 0.0059 / 0.0050 at 32, 0.0023 / 0.0027 at 64, 0.0008 / 0.0011 at 128. The largest
    # per-image error at 64 steps is 0.097 / 0.109 logits against a median |f(x) - f(0)|
    # of 10.3 / 8.5 logits (some differences are as small as 0.003, so a per-image
    # relative bound would be meaningless). The bounds below leave about a 4x margin.
    with torch.no_grad():
        delta = scores(model, x, y) - scores(model, torch.zeros_like(x), y)
    err = gs.integrated.double().sum((1, 2, 3)) - delta.double()
    assert float(err.norm() / delta.double().norm()) < 0.01
    assert float(err.abs().max()) < 0.05 * float(delta.abs().median())
    # and it really is a quadrature error that shrinks with steps (measured: 17x / 25x)
    ig8 = integrated_gradients(model, x, y, steps=8)
    err8 = ig8.double().sum((1, 2, 3)) - delta.double()
    assert float(err.norm()) < float(err8.norm()) / 4
