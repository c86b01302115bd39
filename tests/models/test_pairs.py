"""Each nn.Module agrees with the function it wraps (kornia style: the pair gives one result)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from spectral.models import BlurLayer, InputBlur, blur2d, blur_kernel

KINDS = ["box", "gaussian"]
PADDINGS = ["reflect", "replicate", "circular", "zeros"]


@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("size", [1, 3, 5])
def test_blur_layer_equals_blur2d_with_its_kernel(
    size: int, kind: str, padding: str, dtype: torch.dtype, gen: torch.Generator
) -> None:
    layer = BlurLayer(3, size, kind=kind, padding=padding).to(dtype)
    x = torch.rand(2, 3, 9, 7, generator=gen, dtype=dtype)
    weight = blur_kernel(size, kind=kind, dtype=dtype).expand(3, 1, size, size)
    # the layer builds its kernel in float32, so float64 agrees to float32 precision
    torch.testing.assert_close(layer(x), blur2d(x, weight, padding=padding), rtol=1e-6, atol=1e-6)


def test_learned_blur_layer_equals_blur2d_with_its_current_weights(gen: torch.Generator) -> None:
    layer = BlurLayer(4, 3, learnable=True)
    with torch.no_grad():  # move the kernels away from the box they start from
        layer.weight.add_(0.05 * torch.randn(layer.weight.shape, generator=gen))
    x = torch.rand(2, 4, 8, 8, generator=gen)
    torch.testing.assert_close(layer(x), blur2d(x, layer.weight, padding=layer.padding))


def test_blur2d_is_a_depthwise_conv_in_the_interior(
    dtype: torch.dtype, gen: torch.Generator
) -> None:
    # away from the border the padding mode cannot matter: plain F.conv2d, groups = C
    x = torch.rand(1, 2, 12, 12, generator=gen, dtype=dtype)
    weight = torch.rand(2, 1, 3, 3, generator=gen, dtype=dtype)
    inner = F.conv2d(x, weight, groups=2)
    for padding in PADDINGS:
        torch.testing.assert_close(blur2d(x, weight, padding=padding)[..., 1:-1, 1:-1], inner)


def test_input_blur_runs_the_model_on_the_blurred_image(gen: torch.Generator) -> None:
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 6 * 6, 4))
    blur = BlurLayer(3, 3)
    x = torch.rand(5, 3, 6, 6, generator=gen)
    torch.testing.assert_close(InputBlur(blur, model)(x), model(blur(x)))
