"""BlurNet defenses (spectral.blur): transfer functions, layers, insertion, regularisers.

The checks are mathematical: a box blur with circular padding multiplies a 2-D cosine by
the product of the analytic 1-D transfer functions; a Gaussian's gain is the DFT of its
kernel; the regularisers equal hand computations and pass ``gradcheck``; and training a
learnable blur with a strong L-inf penalty makes its weights equal (the slides' point).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from spectral import frequency_radius, power_spectrum
from spectral.defenses import linf_penalty, tv_penalty
from spectral.errors import SpectralTypeError, SpectralValueError
from spectral.models import (
    BlurLayer,
    InputBlur,
    SmallCNN,
    blur2d,
    blur_kernel,
    blur_layers,
    first_conv_name,
    insert_blur,
)

PADDINGS = ["reflect", "replicate", "circular", "zeros"]
ODD_SIZES = [1, 3, 5, 7, 9]
F64 = torch.float64

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """Tiny ops run fastest on one thread (and do not fight other processes for cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def box_gain(k: int, w: float) -> float:
    """Analytic 1-D transfer function of a length-k box: (1/k) sum_m cos(m w)."""
    r = (k - 1) // 2
    return sum(math.cos(m * w) for m in range(-r, r + 1)) / k


def cosine_image(h: int, w: int, k1: int, k2: int, phase: float = 0.0) -> torch.Tensor:
    """cos(2 pi (k1 i / H + k2 j / W) + phase) as a (1, 1, H, W) float64 tensor."""
    i = torch.arange(h, dtype=F64)[:, None]
    j = torch.arange(w, dtype=F64)[None, :]
    return torch.cos(2 * math.pi * (k1 * i / h + k2 * j / w) + phase)[None, None]


def kernel_gain(kernel: torch.Tensor, w1: float, w2: float) -> float:
    """sum_{m,n} K[m, n] exp(-i (w1 m + w2 n)) with (m, n) centred: the kernel's DFT."""
    k = kernel.shape[-1]
    r = (k - 1) // 2
    m = np.arange(-r, r + 1)
    phase = np.exp(-1j * (w1 * m[:, None] + w2 * m[None, :]))
    value = complex((kernel.detach().to(F64).numpy() * phase).sum())
    assert abs(value.imag) < 1e-12  # a symmetric kernel has a real transfer function
    return value.real


def kernel_transfer(kernel: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """|DFT|^2 of a centred (k, k) kernel on an H x W grid, fftshift-ed like power_spectrum."""
    k = kernel.shape[-1]
    r = (k - 1) // 2
    grid = torch.zeros(h, w, dtype=F64)
    for a, b in itertools.product(range(k), range(k)):
        grid[(a - r) % h, (b - r) % w] += kernel[a, b].to(F64)
    return torch.fft.fftshift(torch.fft.fft2(grid).abs().square())


def layer64(
    channels: int,
    k: int,
    *,
    kind: str = "box",
    sigma: float | None = None,
    padding: str = "reflect",
) -> BlurLayer:
    """A fixed float64 BlurLayer whose kernel is computed in float64.

    ``BlurLayer(...).double()`` only widens the float32-rounded kernel (1/9 is off by
    ~7e-9), so exact float64 checks put the float64 kernel in place.
    """
    layer = BlurLayer(channels, k, kind=kind, sigma=sigma, padding=padding).double()
    with torch.no_grad():
        layer.weight.copy_(blur_kernel(k, kind=kind, sigma=sigma, dtype=F64))
    return layer


def seeded_cnn(seed: int = 0, width: int = 4) -> SmallCNN:
    """A SmallCNN with random weights and random BatchNorm statistics, in eval mode."""
    torch.manual_seed(seed)
    model = SmallCNN(num_classes=5, width=width)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return model.eval()


def manual_forward(model: SmallCNN, x: torch.Tensor, after: str, blur: nn.Module) -> torch.Tensor:
    """SmallCNN's forward run layer by layer, with ``blur`` applied after ``features.<after>``."""
    h = model.normalize(x)
    for name, module in model.features.named_children():
        h = module(h)
        if name == after:
            h = blur(h)
    return model.classifier(h)


def snapshot(model: nn.Module) -> dict[str, object]:
    return {
        "state": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "modules": [(n, type(m)) for n, m in model.named_modules()],
        "training": [(n, m.training) for n, m in model.named_modules()],
        "requires_grad": [(n, p.requires_grad) for n, p in model.named_parameters()],
    }


def assert_same(model: nn.Module, snap: dict[str, object]) -> None:
    now = snapshot(model)
    state, before = now["state"], snap["state"]
    assert isinstance(state, dict) and isinstance(before, dict)
    assert state.keys() == before.keys()
    for key in state:
        assert torch.equal(state[key], before[key]), key
    assert now["modules"] == snap["modules"]
    assert now["training"] == snap["training"]
    assert now["requires_grad"] == snap["requires_grad"]


class Tiny(nn.Module):
    """A model whose conv is an attribute, not a Sequential child."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.head = nn.Conv2d(4, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.conv(x)))


# --------------------------------------------------------------------------------------
# 1. box blur: the analytic transfer function
# --------------------------------------------------------------------------------------


def test_box_gain_formula_for_3x3() -> None:
    for w in np.linspace(0, math.pi, 17):
        assert box_gain(3, w) == pytest.approx((1 + 2 * math.cos(w)) / 3, abs=1e-15)


@pytest.mark.parametrize("k", [3, 5, 7])
@pytest.mark.parametrize(
    ("h", "w", "k1", "k2", "phase"),
    [
        (16, 16, 0, 0, 0.0),
        (16, 16, 1, 0, 0.3),
        (16, 16, 0, 3, 0.0),
        (16, 16, 2, 5, 1.1),
        (16, 16, 8, 8, 0.0),  # Nyquist in both directions
        (16, 16, 5, 13, -0.7),
        (12, 20, 3, 7, 0.4),  # non-square
    ],
)
def test_box_circular_multiplies_cosine_by_transfer_function(
    k: int, h: int, w: int, k1: int, k2: int, phase: float
) -> None:
    x = cosine_image(h, w, k1, k2, phase)
    layer = layer64(1, k, padding="circular")
    w1, w2 = 2 * math.pi * k1 / h, 2 * math.pi * k2 / w
    if k == 3:
        gain = (1 + 2 * math.cos(w1)) / 3 * (1 + 2 * math.cos(w2)) / 3
    else:
        gain = box_gain(k, w1) * box_gain(k, w2)
    y = layer(x)
    assert y.dtype == F64
    torch.testing.assert_close(y, gain * x, rtol=0, atol=1e-12)


@pytest.mark.parametrize("k", [3, 5, 7])
@pytest.mark.parametrize(("k1", "k2"), [(1, 2), (3, 0), (7, 5), (16, 16)])
def test_box_reflect_matches_transfer_function_in_interior(k: int, k1: int, k2: int) -> None:
    n = 32
    x = cosine_image(n, n, k1, k2, 0.2)
    gain = box_gain(k, 2 * math.pi * k1 / n) * box_gain(k, 2 * math.pi * k2 / n)
    y = layer64(1, k, padding="reflect")(x)
    p = k // 2
    torch.testing.assert_close(y[..., p:-p, p:-p], gain * x[..., p:-p, p:-p], rtol=0, atol=1e-12)
    if k1 in (0, n // 2) and k2 in (0, n // 2):
        # DC / Nyquist in both axes: the cosine is its own mirror image about the borders,
        # so the reflected continuation is the periodic one and the whole image matches
        torch.testing.assert_close(y, gain * x, rtol=0, atol=1e-12)
    else:
        # otherwise the border sees the padding (the interior check is not vacuous)
        assert not torch.allclose(y, gain * x, atol=1e-6)


def test_box_circular_power_spectrum_is_filtered_binwise() -> None:
    # convolution theorem: P_out(f) = |H(f)|^2 P_in(f) for every bin (circular padding)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 16, 12, dtype=F64, generator=gen)
    for kind, k in [("box", 3), ("box", 5), ("gaussian", 5), ("gaussian", 7)]:
        layer = layer64(3, k, kind=kind, padding="circular")
        out = power_spectrum(layer(x), backend="torch")
        expect = kernel_transfer(blur_kernel(k, kind=kind, dtype=F64), 16, 12) * power_spectrum(
            x, backend="torch"
        )
        torch.testing.assert_close(out, expect, rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------------------
# 2. Gaussian kernel
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", ODD_SIZES)
@pytest.mark.parametrize("sigma", [None, 0.5, 1.0, 2.5])
def test_gaussian_kernel_properties(k: int, sigma: float | None) -> None:
    g = blur_kernel(k, kind="gaussian", sigma=sigma, dtype=F64)
    assert g.shape == (k, k) and g.dtype == F64
    assert g.sum().item() == pytest.approx(1.0, abs=1e-14)
    torch.testing.assert_close(g, g.T, rtol=0, atol=0)
    torch.testing.assert_close(g, g.flip(0), rtol=0, atol=0)
    torch.testing.assert_close(g, g.flip(1), rtol=0, atol=0)
    assert (g > 0).all()
    c = k // 2
    assert g[c, c] == g.max()
    # the explicit formula, with OpenCV's default sigma for the size
    s = 0.3 * ((k - 1) / 2 - 1) + 0.8 if sigma is None else sigma
    r = np.arange(k) - c
    ref = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * s * s))
    np.testing.assert_allclose(g.numpy(), ref / ref.sum(), rtol=1e-13, atol=1e-15)


def test_box_kernel_values() -> None:
    for k in ODD_SIZES:
        b = blur_kernel(k, dtype=F64)
        assert b.shape == (k, k)
        assert torch.equal(b, torch.full((k, k), 1.0 / (k * k), dtype=F64))
    assert blur_kernel(3).dtype == torch.float32


@pytest.mark.parametrize("kind", ["box", "gaussian"])
@pytest.mark.parametrize("padding", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("k", [3, 5, 7])
def test_constant_image_is_unchanged(kind: str, padding: str, k: int) -> None:
    x = torch.full((2, 3, 9, 10), 0.37, dtype=F64)
    y = layer64(3, k, kind=kind, padding=padding)(x)
    torch.testing.assert_close(y, x, rtol=0, atol=1e-15)


@pytest.mark.parametrize("kind", ["box", "gaussian"])
def test_zeros_padding_darkens_only_the_border(kind: str) -> None:
    k, p = 5, 2
    x = torch.ones(1, 2, 10, 11, dtype=F64)
    y = layer64(2, k, kind=kind, padding="zeros")(x)
    torch.testing.assert_close(y[..., p:-p, p:-p], x[..., p:-p, p:-p], rtol=0, atol=1e-15)
    border = torch.ones_like(y, dtype=torch.bool)
    border[..., p:-p, p:-p] = False
    assert (y[border] < 1 - 1e-3).all()
    # the corner sees only the kernel's quarter (plus the centre row and column)
    kern = blur_kernel(k, kind=kind, dtype=F64)
    assert y[0, 0, 0, 0].item() == pytest.approx(kern[p:, p:].sum().item(), abs=1e-15)


@pytest.mark.parametrize("k", [3, 5, 7])
@pytest.mark.parametrize("sigma", [None, 0.6, 1.7])
@pytest.mark.parametrize(("k1", "k2"), [(1, 0), (3, 4), (8, 8), (6, 13)])
def test_gaussian_gain_on_cosine_is_kernel_dft(
    k: int, sigma: float | None, k1: int, k2: int
) -> None:
    n = 16
    x = cosine_image(n, n, k1, k2, 0.5)
    layer = layer64(1, k, kind="gaussian", sigma=sigma, padding="circular")
    gain = kernel_gain(layer.weight[0, 0], 2 * math.pi * k1 / n, 2 * math.pi * k2 / n)
    torch.testing.assert_close(layer(x), gain * x, rtol=0, atol=1e-12)
    assert abs(gain) < 1.0


def test_gaussian_sigma_changes_kernel_and_gain() -> None:
    # below the first zero of the truncated kernel's response, the gain falls with sigma
    # (far above it a 7-tap kernel with a wide sigma is box-like and has sidelobes)
    w = 2 * math.pi * 2 / 16
    gains = []
    for sigma in [0.4, 0.8, 1.6, 3.2]:
        g = blur_kernel(7, kind="gaussian", sigma=sigma, dtype=F64)
        gains.append(kernel_gain(g, w, 0.0))
    assert all(a > b + 0.1 for a, b in itertools.pairwise(gains)), gains
    a = blur_kernel(5, kind="gaussian", sigma=0.7, dtype=F64)
    b = blur_kernel(5, kind="gaussian", sigma=1.4, dtype=F64)
    assert (a - b).abs().max() > 0.05


def high_band_power(x: torch.Tensor) -> float:
    h, w = x.shape[-2:]
    mask = torch.from_numpy(frequency_radius(h, w) > 0.25)
    return power_spectrum(x, backend="torch")[..., mask].sum().item()


@pytest.mark.parametrize("kind", ["box", "gaussian"])
@pytest.mark.parametrize("padding", PADDINGS)
def test_blur_is_a_real_lowpass(kind: str, padding: str) -> None:
    gen = torch.Generator().manual_seed(2)
    x = torch.rand(2, 3, 32, 32, dtype=F64, generator=gen)
    before = high_band_power(x)
    after = [
        high_band_power(BlurLayer(3, k, kind=kind, padding=padding).double()(x)) for k in [3, 5, 7]
    ]
    assert after[0] < 0.5 * before, (before, after)
    assert after[0] > after[1] > after[2], after  # larger kernel -> less high-frequency power


@pytest.mark.parametrize("padding", PADDINGS)
def test_larger_sigma_removes_more_high_frequency(padding: str) -> None:
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(1, 2, 32, 32, dtype=F64, generator=gen)
    before = high_band_power(x)
    after = [
        high_band_power(BlurLayer(2, 7, kind="gaussian", sigma=s, padding=padding).double()(x))
        for s in [0.5, 0.8, 1.2, 2.0]
    ]
    assert before > after[0] > after[1] > after[2] > after[3], (before, after)


# --------------------------------------------------------------------------------------
# 3. BlurLayer and blur2d: kornia-style battery
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", ODD_SIZES)
@pytest.mark.parametrize("kind", ["box", "gaussian"])
def test_fixed_layer_has_no_parameters_and_a_buffer(k: int, kind: str) -> None:
    layer = BlurLayer(3, k, kind=kind)
    assert list(layer.parameters()) == []
    assert "weight" in dict(layer.named_buffers())
    state = layer.state_dict()
    assert list(state) == ["weight"]
    assert state["weight"].shape == (3, 1, k, k)
    assert not layer.weight.requires_grad
    for c in range(3):
        torch.testing.assert_close(layer.weight[c, 0], blur_kernel(k, kind=kind))
    assert layer.learnable is False and layer.kernel_size == k


@pytest.mark.parametrize("k", ODD_SIZES)
def test_learnable_layer_parameters(k: int) -> None:
    layer = BlurLayer(4, k, kind="gaussian", learnable=True, sigma=1.1)
    params = dict(layer.named_parameters())
    assert list(params) == ["weight"]
    assert sum(p.numel() for p in layer.parameters()) == 4 * k * k
    assert params["weight"].requires_grad
    assert list(dict(layer.named_buffers())) == []
    expect = blur_kernel(k, kind="gaussian", sigma=1.1).expand(4, 1, k, k)
    assert torch.equal(layer.weight.detach(), expect)
    # the kernels are independent storage (not an expanded view sharing memory)
    with torch.no_grad():
        layer.weight[0, 0, 0, 0] += 1.0
    assert layer.weight[1, 0, 0, 0] == expect[1, 0, 0, 0]


@pytest.mark.parametrize("k", ODD_SIZES)
@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("learnable", [False, True])
def test_output_shape_and_dtype(k: int, padding: str, learnable: bool) -> None:
    gen = torch.Generator().manual_seed(4)
    x = torch.rand(2, 3, 11, 12, dtype=F64, generator=gen)
    layer = BlurLayer(3, k, padding=padding, learnable=learnable).double()
    y = layer(x)
    assert y.shape == x.shape
    assert y.dtype == F64
    assert y.device == x.device
    # function == module
    assert torch.equal(y, blur2d(x, layer.weight, padding=padding))
    # float32 in, float32 out
    y32 = BlurLayer(3, k, padding=padding, learnable=learnable)(x.float())
    assert y32.dtype == torch.float32 and y32.shape == x.shape
    torch.testing.assert_close(y32, y.float(), rtol=1e-5, atol=1e-6)


def test_float32_layer_on_float64_input_keeps_float64() -> None:
    x = torch.rand(1, 2, 6, 6, dtype=F64)
    assert BlurLayer(2, 3)(x).dtype == F64


def test_float64_box_layer_has_exact_dc_gain() -> None:
    """Build float64 layers with dtype=: casting a float32 kernel keeps its rounding."""
    layer = BlurLayer(1, 3, padding="circular", dtype=F64)
    x = torch.ones(1, 1, 6, 6, dtype=F64)
    torch.testing.assert_close(layer(x), x, rtol=0, atol=1e-12)


def test_kernel_size_one_is_identity() -> None:
    x = torch.rand(2, 3, 5, 4, dtype=F64)
    for padding in PADDINGS:
        assert torch.equal(BlurLayer(3, 1, padding=padding).double()(x), x)


def test_blur2d_is_correlation_with_each_channel_kernel() -> None:
    # a non-symmetric per-channel kernel, checked against an explicit sum
    gen = torch.Generator().manual_seed(5)
    x = torch.rand(1, 2, 6, 7, dtype=F64, generator=gen)
    w = torch.rand(2, 1, 3, 3, dtype=F64, generator=gen)
    y = blur2d(x, w, padding="zeros")
    xp = F.pad(x, (1, 1, 1, 1))
    ref = torch.zeros_like(x)
    for c, i, j in itertools.product(range(2), range(6), range(7)):
        ref[0, c, i, j] = (xp[0, c, i : i + 3, j : j + 3] * w[c, 0]).sum()
    torch.testing.assert_close(y, ref, rtol=0, atol=1e-14)


@pytest.mark.parametrize("padding", PADDINGS)
def test_gradcheck_blur2d(padding: str) -> None:
    gen = torch.Generator().manual_seed(6)
    x = torch.rand(1, 2, 6, 5, dtype=F64, generator=gen, requires_grad=True)
    w = torch.rand(2, 1, 3, 3, dtype=F64, generator=gen, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: blur2d(a, b, padding=padding), (x, w))
    assert torch.autograd.gradgradcheck(lambda a, b: blur2d(a, b, padding=padding), (x, w))


def test_gradcheck_learnable_layer_5x5() -> None:
    layer = BlurLayer(2, 5, learnable=True, padding="reflect").double()
    x = torch.rand(2, 2, 7, 7, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, w: blur2d(a, w, padding="reflect"), (x, layer.weight))
    layer(x).square().sum().backward()
    assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("size", [0, -1, -3, 2, 4, 10])
def test_bad_kernel_size_value(size: int) -> None:
    with pytest.raises(SpectralValueError, match=rf"kernel_size.*{size}"):
        BlurLayer(3, size)
    with pytest.raises(SpectralValueError, match="kernel_size"):
        blur_kernel(size)


@pytest.mark.parametrize("size", [3.0, "3", None, True])
def test_bad_kernel_size_type(size: object) -> None:
    with pytest.raises(SpectralTypeError, match="kernel_size"):
        BlurLayer(3, size)  # type: ignore[arg-type]


def test_unknown_kind() -> None:
    with pytest.raises(SpectralValueError, match=r"kind.*'box'.*'gaussian'.*'median'"):
        BlurLayer(3, 3, kind="median")
    with pytest.raises(SpectralValueError, match="kind"):
        blur_kernel(3, kind="median")


@pytest.mark.parametrize("sigma", [0.0, -1.0, math.inf, math.nan])
def test_bad_sigma(sigma: float) -> None:
    with pytest.raises(SpectralValueError, match="sigma"):
        BlurLayer(3, 3, kind="gaussian", sigma=sigma)


@pytest.mark.parametrize("channels", [0, -2, True, 2.0])
def test_bad_channels(channels: object) -> None:
    with pytest.raises(SpectralValueError, match="channels"):
        BlurLayer(channels, 3)  # type: ignore[arg-type]


def test_bad_padding_in_layer() -> None:
    with pytest.raises(SpectralValueError, match=r"padding.*'reflect'.*'bad'"):
        BlurLayer(3, 3, padding="bad")


def test_bad_padding_in_blur2d() -> None:
    x = torch.rand(1, 1, 5, 5)
    with pytest.raises(SpectralValueError, match=r"padding.*'reflect'.*'bad'"):
        blur2d(x, torch.ones(1, 1, 3, 3) / 9, padding="bad")


def test_forward_rejects_wrong_channels_and_ndim() -> None:
    layer = BlurLayer(3, 3)
    with pytest.raises(SpectralValueError, match=r"\(B, 3, H, W\).*\(1, 4, 8, 8\)"):
        layer(torch.rand(1, 4, 8, 8))
    with pytest.raises(SpectralValueError, match=r"\(B, 3, H, W\)"):
        layer(torch.rand(3, 8, 8))
    with pytest.raises(SpectralValueError, match=r"\(B, 3, H, W\)"):
        layer(torch.rand(1, 1, 3, 8, 8))


@pytest.mark.parametrize(("k", "hw"), [(3, (1, 8)), (3, (8, 1)), (5, (2, 9)), (7, (3, 3))])
def test_reflect_on_too_small_input(k: int, hw: tuple[int, int]) -> None:
    layer = BlurLayer(1, k, padding="reflect")
    with pytest.raises(SpectralValueError, match=r"reflect.*replicate"):
        layer(torch.rand(1, 1, *hw))
    # the smallest size that works
    p = k // 2
    assert layer(torch.rand(1, 1, p + 1, p + 1)).shape == (1, 1, p + 1, p + 1)
    # replicate works on any size
    assert BlurLayer(1, k, padding="replicate")(torch.rand(1, 1, *hw)).shape == (1, 1, *hw)


def test_circular_on_too_small_input() -> None:
    with pytest.raises(SpectralValueError, match="circular"):
        BlurLayer(1, 7, padding="circular")(torch.rand(1, 1, 2, 2))


@pytest.mark.parametrize(
    "shape",
    [(3, 1, 3, 3), (2, 2, 3, 3), (2, 1, 3, 5), (2, 1, 4, 4)],
    ids=["channels", "not-depthwise", "non-square", "even"],
)
def test_blur2d_rejects_bad_weight(shape: tuple[int, ...]) -> None:
    x = torch.rand(1, 2, 8, 8)
    with pytest.raises(SpectralValueError, match=r"weight.*\(2, 1, k, k\)"):
        blur2d(x, torch.rand(shape))


def test_blur2d_rejects_bad_input_ndim() -> None:
    with pytest.raises(SpectralValueError, match=r"x.*\(B, C, H, W\)"):
        blur2d(torch.rand(2, 8, 8), torch.rand(2, 1, 3, 3))


def test_blur2d_rejects_weight_of_wrong_ndim() -> None:
    with pytest.raises(SpectralValueError, match="weight"):
        blur2d(torch.rand(1, 2, 8, 8), torch.rand(3, 3))


def test_extra_repr_mentions_options() -> None:
    text = repr(BlurLayer(4, 5, kind="gaussian", learnable=True, padding="replicate"))
    for part in ["4", "kernel_size=5", "gaussian", "learnable=True", "replicate"]:
        assert part in text


@cuda
@pytest.mark.parametrize("learnable", [False, True])
def test_cuda_matches_cpu(learnable: bool) -> None:
    x = torch.rand(2, 3, 9, 9, dtype=F64)
    layer = BlurLayer(3, 5, kind="gaussian", learnable=learnable).double()
    y = layer.to("cuda")(x.to("cuda"))
    assert y.device.type == "cuda" and y.dtype == F64
    torch.testing.assert_close(y.cpu(), layer.cpu()(x), rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------------------
# 4. insert_blur
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("position", "after", "channels"),
    [("first_conv", "conv1", 4), ("features.conv1", "conv1", 4), ("features.conv3", "conv3", 8)],
)
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"kernel_size": 5, "kind": "gaussian", "sigma": 1.3, "padding": "replicate"},
        {"kernel_size": 7, "padding": "zeros", "learnable": True},
    ],
    ids=["default", "gauss5", "box7"],
)
def test_insert_equals_manual_composition(
    position: str, after: str, channels: int, options: dict[str, object]
) -> None:
    orig = seeded_cnn()
    x = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(7))
    new = insert_blur(orig, position, **options)  # type: ignore[arg-type]
    ref_blur = BlurLayer(
        channels,
        int(options.get("kernel_size", 3)),  # type: ignore[call-overload]
        kind=str(options.get("kind", "box")),
        sigma=options.get("sigma"),  # type: ignore[arg-type]
        padding=str(options.get("padding", "reflect")),
    )
    with torch.no_grad():
        got = new(x)
        expect = manual_forward(orig, x, after, ref_blur)
        plain = orig(x)
    torch.testing.assert_close(got, expect, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(got, plain, atol=1e-4)  # the blur really changed something
    name = f"features.{after}_blur"
    layers = blur_layers(new)
    assert list(layers) == [name]
    inserted = layers[name]
    assert inserted.channels == channels
    assert inserted.learnable is bool(options.get("learnable", False))
    torch.testing.assert_close(inserted.weight.detach(), ref_blur.weight)
    children = [n for n, _ in new.features.named_children()]
    assert children[children.index(after) + 1] == f"{after}_blur"


def test_insert_at_input_equals_model_of_blurred_input() -> None:
    orig = seeded_cnn(1)
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(8))
    new = insert_blur(orig, "input", kernel_size=5, kind="gaussian")
    assert isinstance(new, InputBlur)
    blur = BlurLayer(3, 5, kind="gaussian")
    with torch.no_grad():
        torch.testing.assert_close(new(x), orig(blur(x)), rtol=1e-5, atol=1e-6)
        assert not torch.allclose(new(x), orig(x), atol=1e-4)
    layers = blur_layers(new)
    assert len(layers) == 1 and next(iter(layers.values())).channels == 3


@pytest.mark.parametrize(
    ("position", "after", "channels"),
    [
        ("features.relu2", "relu2", 4),
        ("features.relu3", "relu3", 8),
        ("features.pool1", "pool1", 4),
        ("first_relu", "relu1", 4),
    ],
)
def test_insert_after_activation_equals_manual_composition(
    position: str, after: str, channels: int
) -> None:
    orig = seeded_cnn(2)
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(18))
    new = insert_blur(orig, position, kernel_size=5)
    assert list(blur_layers(new)) == [f"features.{after}_blur"]
    with torch.no_grad():
        expect = manual_forward(orig, x, after, BlurLayer(channels, 5))
        torch.testing.assert_close(new(x), expect, rtol=1e-5, atol=1e-6)
        assert not torch.allclose(new(x), orig(x), atol=1e-4)


def test_insert_before_any_channel_count_raises() -> None:
    # the Normalize in front has no channel count and no conv precedes it
    with pytest.raises(SpectralValueError, match=r"'normalize'.*channels"):
        insert_blur(seeded_cnn(), "normalize")


@pytest.mark.parametrize("position", ["features.flatten", "classifier"])
def test_insert_after_non_image_output_fails_loudly(position: str) -> None:
    # the output is (B, C) or (B, classes): refused at insertion or at the first forward,
    # never silently wrong
    with pytest.raises(SpectralValueError):
        new = insert_blur(seeded_cnn(), position)
        new(torch.rand(2, 3, 16, 16))


@pytest.mark.parametrize("position", ["input", "first_conv", "features.conv3", "features.bn2"])
@pytest.mark.parametrize("training", [False, True])
def test_original_model_untouched(position: str, training: bool) -> None:
    orig = seeded_cnn(3).train(training)
    before = snapshot(orig)
    new = insert_blur(orig, position, learnable=True)
    assert new is not orig
    assert new.training is training
    assert all(m.training is training for m in new.modules())
    # use the new model hard: forward in train mode (BatchNorm statistics move), a step
    x = torch.rand(4, 3, 16, 16)
    new.train()
    opt = torch.optim.SGD(new.parameters(), lr=0.5)
    new(x).square().mean().backward()
    opt.step()
    with torch.no_grad():
        for p in new.parameters():
            p.add_(1.0)
    assert_same(orig, before)
    assert all(p.grad is None for p in orig.parameters())


def test_mixed_training_flags_are_kept() -> None:
    orig = seeded_cnn(4).train()
    orig.features.bn1.eval()
    new = insert_blur(orig, "first_conv")
    flags = dict((n, m.training) for n, m in orig.named_modules())
    for name, m in new.named_modules():
        if name in flags:
            assert m.training is flags[name], name


@pytest.mark.parametrize("position", ["first_conv", "features.conv2", "features.bn4"])
@pytest.mark.parametrize("learnable", [False, True])
def test_state_dict_keys_kept_for_sequential_insertion(position: str, learnable: bool) -> None:
    orig = seeded_cnn(5)
    new = insert_blur(orig, position, learnable=learnable)
    name = first_conv_name(orig) if position == "first_conv" else position
    blur_key = f"{name}_blur.weight"
    assert set(new.state_dict()) == set(orig.state_dict()) | {blur_key}
    # loading the original weights into a fresh blurred model reports only the blur
    fresh = insert_blur(SmallCNN(num_classes=5, width=4), position, learnable=learnable)
    result = fresh.load_state_dict(orig.state_dict(), strict=False)
    assert result.missing_keys == [blur_key]
    assert result.unexpected_keys == []
    fresh.eval()
    x = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(fresh(x), new(x), rtol=0, atol=0)


def test_unknown_position_lists_valid_names() -> None:
    model = seeded_cnn()
    for position in ["features.conv9", "conv1", "", "features.conv1.weight"]:
        with pytest.raises(SpectralValueError) as info:
            insert_blur(model, position)
        message = str(info.value)
        assert repr(position) in message
        for valid in ["'input'", "'first_conv'", "features.conv1", "features.bn1"]:
            assert valid in message
        assert "layer_names" in message


def test_non_sequential_parent_is_wrapped() -> None:
    torch.manual_seed(9)
    orig = Tiny().eval()
    before = snapshot(orig)
    x = torch.rand(2, 3, 10, 10)
    for position in ["conv", "first_conv"]:
        new = insert_blur(orig, position, kernel_size=5)
        blur = BlurLayer(4, 5)
        with torch.no_grad():
            expect = orig.head(torch.relu(blur(orig.conv(x))))
            torch.testing.assert_close(new(x), expect, rtol=1e-5, atol=1e-6)
        assert list(blur_layers(new)) == ["conv.second"]
        assert set(new.state_dict()) == {
            "conv.first.weight",
            "conv.first.bias",
            "conv.second.weight",
            "head.weight",
            "head.bias",
        }
    assert_same(orig, before)


def test_sequential_model_at_root() -> None:
    torch.manual_seed(10)
    orig = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 2, 1)).eval()
    new = insert_blur(orig, "first_conv", kind="gaussian")
    assert isinstance(new, nn.Sequential)
    assert [n for n, _ in new.named_children()] == ["0", "0_blur", "1", "2"]
    x = torch.rand(2, 3, 9, 9)
    with torch.no_grad():
        expect = orig[2](orig[1](BlurLayer(4, 3, kind="gaussian")(orig[0](x))))
        torch.testing.assert_close(new(x), expect, rtol=1e-5, atol=1e-6)
    assert [n for n, _ in orig.named_children()] == ["0", "1", "2"]


def test_model_without_conv() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 2))
    for position in ["first_conv", "input"]:
        with pytest.raises(SpectralValueError, match="Conv2d"):
            insert_blur(model, position)
    with pytest.raises(SpectralValueError, match="Conv2d"):
        first_conv_name(model)


def test_not_a_module() -> None:
    with pytest.raises(SpectralTypeError, match=r"nn\.Module"):
        insert_blur(lambda x: x, "input")  # type: ignore[arg-type]


def test_bad_options_are_rejected_by_insert() -> None:
    with pytest.raises(SpectralValueError, match="kernel_size"):
        insert_blur(seeded_cnn(), "first_conv", kernel_size=4)
    with pytest.raises(SpectralValueError, match="kind"):
        insert_blur(seeded_cnn(), "first_conv", kind="median")


def test_learnable_inserted_blur_trains() -> None:
    orig = seeded_cnn(11)
    new = insert_blur(orig, "first_conv", learnable=True).train()
    names = [n for n, p in new.named_parameters() if p.requires_grad]
    assert "features.conv1_blur.weight" in names
    blur = new.get_submodule("features.conv1_blur")
    assert isinstance(blur, BlurLayer)
    assert blur.weight.numel() == 4 * 9
    start = blur.weight.detach().clone()
    opt = torch.optim.SGD([blur.weight], lr=0.1)
    loss = F.cross_entropy(new(torch.rand(4, 3, 16, 16)), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    assert blur.weight.grad is not None and blur.weight.grad.abs().sum() > 0
    opt.step()
    assert not torch.equal(blur.weight.detach(), start)
    # the fixed variant has nothing to train
    fixed = insert_blur(orig, "first_conv")
    assert "features.conv1_blur.weight" not in dict(fixed.named_parameters())


def test_insert_twice_stacks_blurs() -> None:
    orig = seeded_cnn(12)
    new = insert_blur(insert_blur(orig, "first_conv"), "features.conv3", kernel_size=5)
    assert list(blur_layers(new)) == ["features.conv1_blur", "features.conv3_blur"]
    x = torch.rand(2, 3, 16, 16)
    b1, b3 = BlurLayer(4, 3), BlurLayer(8, 5)
    h = orig.normalize(x)
    with torch.no_grad():
        for name, module in orig.features.named_children():
            h = module(h)
            h = b1(h) if name == "conv1" else b3(h) if name == "conv3" else h
        torch.testing.assert_close(new(x), orig.classifier(h), rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------------------
# 5. L-inf penalty
# --------------------------------------------------------------------------------------


def test_linf_hand_computation() -> None:
    w = torch.tensor(
        [
            [[[1.0, -3.0], [0.5, 2.0]]],
            [[[0.1, 0.2], [0.0, -0.4]]],
            [[[-0.7, 0.6], [0.65, 0.1]]],
        ],
        dtype=F64,
    )
    expect = 2.5 / 3 * (3.0 + 0.4 + 0.7)
    assert linf_penalty(w, alpha=2.5).item() == pytest.approx(expect, rel=1e-15)
    # (K, k, k) gives the same
    assert linf_penalty(w[:, 0], alpha=2.5).item() == pytest.approx(expect, rel=1e-15)
    # alpha scales linearly; default alpha is 1
    assert linf_penalty(w).item() == pytest.approx(expect / 2.5, rel=1e-15)
    assert linf_penalty(w, alpha=0.0).item() == 0.0


def test_linf_random_matches_loop() -> None:
    gen = torch.Generator().manual_seed(13)
    w = torch.randn(5, 1, 3, 3, dtype=F64, generator=gen)
    total = 0.0
    for j in range(5):
        total += max(abs(v) for v in w[j].flatten().tolist())
    assert linf_penalty(w, alpha=0.3).item() == pytest.approx(0.3 * total / 5, rel=1e-14)


def test_linf_accepts_blur_layer() -> None:
    fixed = BlurLayer(4, 3)
    assert linf_penalty(fixed, alpha=2.0).item() == pytest.approx(2.0 / 9, rel=1e-6)
    assert not linf_penalty(fixed).requires_grad
    learned = BlurLayer(4, 5, learnable=True)
    value = linf_penalty(learned, alpha=3.0)
    assert value.item() == pytest.approx(3.0 / 25, rel=1e-6)
    value.backward()
    grad = learned.weight.grad
    assert grad is not None
    # a tie: the subgradient lands on the tied maxima; each kernel gets total alpha / K
    torch.testing.assert_close(grad.sum((1, 2, 3)), torch.full((4,), 3.0 / 4))


def test_linf_gradient_is_on_the_argmax() -> None:
    w = torch.tensor([[[[0.1, -0.9], [0.3, 0.2]]], [[[0.5, 0.4], [0.45, -0.2]]]], dtype=F64)
    w.requires_grad_(True)
    linf_penalty(w, alpha=4.0).backward()
    expect = torch.zeros_like(w)
    expect[0, 0, 0, 1] = -2.0  # alpha / K * sign
    expect[1, 0, 0, 0] = 2.0
    assert w.grad is not None
    torch.testing.assert_close(w.grad, expect, rtol=0, atol=0)


def test_linf_gradcheck() -> None:
    gen = torch.Generator().manual_seed(14)
    # distinct magnitudes away from 0 and from each other: a unique maximum per kernel
    mags = torch.randperm(4 * 9, generator=gen).to(F64) * 0.05 + 0.1
    signs = torch.where(torch.rand(4 * 9, generator=gen) < 0.5, -1.0, 1.0).to(F64)
    w = (mags * signs).reshape(4, 1, 3, 3).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: linf_penalty(t, alpha=0.7), (w,))
    assert torch.autograd.gradcheck(lambda t: linf_penalty(t[:, 0], alpha=1.3), (w,))


@pytest.mark.parametrize("alpha", [-1e-9, -1.0, math.nan])
def test_linf_bad_alpha(alpha: float) -> None:
    with pytest.raises(SpectralValueError, match="alpha"):
        linf_penalty(torch.rand(2, 1, 3, 3), alpha=alpha)


@pytest.mark.parametrize("shape", [(9,), (3, 3), (1, 2, 1, 3, 3)])
def test_linf_bad_ndim(shape: tuple[int, ...]) -> None:
    with pytest.raises(SpectralValueError, match=r"weight.*\(K, 1, k, k\)"):
        linf_penalty(torch.rand(shape))


def test_linf_not_a_tensor() -> None:
    with pytest.raises(SpectralValueError, match="weight"):
        linf_penalty([[1.0, 2.0]])  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# 6. TV penalty
# --------------------------------------------------------------------------------------


def tv_loop(f: torch.Tensor) -> float:
    """The slides' formula, written as plain Python loops."""
    n, k, h, w = f.shape
    a = f.tolist()
    total = 0.0
    for b, c in itertools.product(range(n), range(k)):
        for i in range(h):
            for j in range(w):
                if i + 1 < h:
                    total += abs(a[b][c][i + 1][j] - a[b][c][i][j])
                if j + 1 < w:
                    total += abs(a[b][c][i][j + 1] - a[b][c][i][j])
    return total / (n * k)


def test_tv_hand_computation() -> None:
    gen = torch.Generator().manual_seed(15)
    f = torch.randn(2, 3, 4, 5, dtype=F64, generator=gen)
    assert tv_penalty(f).item() == pytest.approx(tv_loop(f), rel=1e-13)
    assert tv_penalty(f, alpha=0.25).item() == pytest.approx(0.25 * tv_loop(f), rel=1e-13)
    # the docstring's example
    doc = torch.tensor([[[[0.0, 1.0], [3.0, 1.0]]]])
    assert tv_penalty(doc).item() == 6.0


def test_tv_alpha_linear() -> None:
    f = torch.rand(3, 2, 6, 6, dtype=F64)
    base = tv_penalty(f, alpha=1.0).item()
    for alpha in [0.0, 1e-4, 0.5, 3.0, 100.0]:
        assert tv_penalty(f, alpha=alpha).item() == pytest.approx(alpha * base, rel=1e-14)


def test_tv_constant_and_shift_invariant() -> None:
    assert tv_penalty(torch.full((2, 3, 7, 6), 4.2, dtype=F64)).item() == 0.0
    f = torch.rand(2, 3, 7, 6, dtype=F64)
    assert tv_penalty(f + 5.0).item() == pytest.approx(tv_penalty(f).item(), rel=1e-12)
    assert tv_penalty(-f).item() == pytest.approx(tv_penalty(f).item(), rel=1e-15)


@pytest.mark.parametrize(
    ("pos", "neighbours"),
    [((3, 4), 4), ((0, 0), 2), ((0, 3), 3), ((5, 2), 3), ((5, 7), 2)],
    ids=["interior", "corner", "top-edge", "bottom-edge", "far-corner"],
)
def test_tv_of_a_spike(pos: tuple[int, int], neighbours: int) -> None:
    h = 2.5
    f = torch.zeros(1, 1, 6, 8, dtype=F64)
    f[0, 0, pos[0], pos[1]] = h
    assert tv_penalty(f).item() == pytest.approx(neighbours * h, rel=1e-15)
    # averaged over N * K: the same spike in one of 2 x 3 maps counts one sixth
    g = torch.zeros(2, 3, 6, 8, dtype=F64)
    g[1, 2, pos[0], pos[1]] = h
    assert tv_penalty(g).item() == pytest.approx(neighbours * h / 6, rel=1e-15)


def test_tv_blur_lowers_tv_of_a_spike() -> None:
    # the slides' argument: a spike in the feature maps is flattened by the blur
    f = torch.zeros(1, 1, 12, 12, dtype=F64)
    f[0, 0, 6, 5] = 1.0
    assert tv_penalty(BlurLayer(1, 3).double()(f)).item() < tv_penalty(f).item()


def test_tv_gradcheck() -> None:
    gen = torch.Generator().manual_seed(16)
    f = torch.randn(2, 2, 4, 5, dtype=F64, generator=gen)
    dv = (f[..., 1:, :] - f[..., :-1, :]).abs().min()
    dh = (f[..., :, 1:] - f[..., :, :-1]).abs().min()
    assert min(dv, dh) > 1e-3  # no ties: |.| is differentiable at every difference
    f.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: tv_penalty(t, alpha=0.3), (f,))


@pytest.mark.parametrize("shape", [(4, 5), (3, 4, 5), (1, 2, 3, 4, 5)])
def test_tv_bad_ndim(shape: tuple[int, ...]) -> None:
    with pytest.raises(SpectralValueError, match=r"feature_maps.*\(N, K, H, W\)"):
        tv_penalty(torch.rand(shape))


@pytest.mark.parametrize("alpha", [-0.5, math.nan])
def test_tv_bad_alpha(alpha: float) -> None:
    with pytest.raises(SpectralValueError, match="alpha"):
        tv_penalty(torch.rand(1, 1, 4, 4), alpha=alpha)


def test_tv_not_a_tensor() -> None:
    with pytest.raises(SpectralValueError, match="feature_maps"):
        tv_penalty(np.zeros((1, 1, 4, 4)))  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# 7. the slides' point: L-inf regularisation makes the learned kernel a box
# --------------------------------------------------------------------------------------


def train_blur(alpha: float, *, seed: int, steps: int = 400) -> BlurLayer:
    """Learn a 3x3 depthwise blur whose task only fixes each kernel's sum (DC gain 1).

    On constant images ``layer(x) == sum(w) * x``, so the MSE to ``x`` is blind to how
    the weight is spread inside the kernel; only the L-inf penalty can shape it.
    """
    gen = torch.Generator().manual_seed(seed)
    layer = BlurLayer(4, 3, learnable=True, padding="circular")
    with torch.no_grad():
        layer.weight.copy_(blur_kernel(3) + 0.2 * torch.randn(4, 1, 3, 3, generator=gen))
    x = torch.ones(1, 4, 3, 3)
    opt = torch.optim.Adam(layer.parameters(), lr=0.05)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=1e-3 ** (1 / steps))
    for _ in range(steps):
        opt.zero_grad()
        loss = F.mse_loss(layer(x), x) + alpha * linf_penalty(layer)
        loss.backward()
        opt.step()
        sched.step()
    return layer


def spread(layer: BlurLayer) -> torch.Tensor:
    w = layer.weight.detach().reshape(layer.channels, -1)
    return (w.amax(1) - w.amin(1)) / w.mean(1)


def test_linf_training_makes_kernels_uniform() -> None:
    start = blur_kernel(3) + 0.2 * torch.randn(
        4, 1, 3, 3, generator=torch.Generator().manual_seed(17)
    )
    w0 = start.reshape(4, -1)
    assert ((w0.amax(1) - w0.amin(1)) / w0.mean(1)).min() > 1.0  # clearly non-uniform start

    alpha = 3.0
    regularised = train_blur(alpha, seed=17)
    assert spread(regularised).max() < 0.05, spread(regularised)
    # the optimum of (1/4) sum_c (s_c - 1)^2 + alpha/4 sum_c s_c/9 is s = 1 - alpha/18
    sums = regularised.weight.detach().sum((1, 2, 3))
    torch.testing.assert_close(sums, torch.full((4,), 1 - alpha / 18), rtol=0, atol=0.01)
    # a near-box: close to the box kernel scaled to that sum
    box = blur_kernel(3).expand(4, 1, 3, 3) * (1 - alpha / 18)
    torch.testing.assert_close(regularised.weight.detach(), box, rtol=0, atol=0.005)

    plain = train_blur(0.0, seed=17)
    torch.testing.assert_close(
        plain.weight.detach().sum((1, 2, 3)), torch.ones(4), atol=1e-3, rtol=0
    )
    assert spread(plain).min() > 1.0, spread(plain)  # the task alone leaves the kernel uneven
    assert linf_penalty(plain).item() > 2 * linf_penalty(regularised).item()


def test_first_relu_alias_and_positions_after_flatten() -> None:
    from spectral.models import first_activation_name

    orig = seeded_cnn(4)
    assert first_activation_name(orig) == "features.relu1"
    new = insert_blur(orig, "first_relu", kernel_size=3)
    names = [n for n, _ in new.features.named_children()]
    assert names[names.index("relu1") + 1] == "relu1_blur"
    assert new.features.relu1_blur.channels == orig.features.conv1.out_channels
    for position in ["features.flatten", "classifier"]:
        with pytest.raises(SpectralValueError, match=r"\(B, C, H, W\)"):
            insert_blur(orig, position)
    with pytest.raises(SpectralValueError, match="first_relu"):
        insert_blur(nn.Sequential(nn.Conv2d(3, 4, 3)), "first_relu")


def test_fixed_blur_after_first_conv_commutes_with_it() -> None:
    """A per-channel-identical blur right after a bias-free conv equals blurring the input
    (interior pixels; the borders differ through padding)."""
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 8, 3, padding=1, bias=False).double()
    x = torch.rand(2, 3, 24, 24, dtype=F64)
    after = BlurLayer(8, 5, padding="circular", dtype=F64)(conv(x))
    before = conv(BlurLayer(3, 5, padding="circular", dtype=F64)(x))
    torch.testing.assert_close(after[..., 4:-4, 4:-4], before[..., 4:-4, 4:-4])
    assert (after - before).abs().max() > 1e-3  # but not at the border
