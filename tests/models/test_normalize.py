"""with_normalization: normalises in front of the model and keeps every layer name."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from spectral.errors import SpectralTypeError, SpectralValueError
from spectral.models import SmallCNN, feature_maps, insert_blur, parse_normalization
from spectral.models import with_normalization as wn


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 3)
    ).eval()


MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def test_output_is_the_model_on_normalised_input_and_names_are_kept() -> None:
    net = _net()
    normed = wn(net, "imagenet")
    x = torch.rand(5, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(normed(x), net((x - MEAN) / STD))
    assert [n for n, _ in normed.named_modules()] == [n for n, _ in net.named_modules()]
    # the given model is left alone
    assert not net._forward_pre_hooks
    torch.testing.assert_close(net(x), _net()(x))


def test_layers_are_addressed_by_the_models_own_names() -> None:
    net = _net()
    normed = wn(net, "0.5,0.5,0.5,0.25,0.25,0.25")
    x = torch.rand(2, 3, 8, 8)
    got = feature_maps(normed, x, ["0"])["0"]
    want = net[0]((x - 0.5) / 0.25)
    torch.testing.assert_close(got, want)
    blurred = insert_blur(normed, "0", kernel_size=3)
    assert blurred(x).shape == (2, 3)  # the copy keeps normalising after surgery
    assert not torch.allclose(blurred(x), insert_blur(net, "0", kernel_size=3)(x))


def test_none_returns_the_model_and_presets_parse() -> None:
    net = SmallCNN(width=4)
    assert wn(net, "none") is net and wn(net, None) is net
    assert parse_normalization("CIFAR10")[1] == (0.2470, 0.2435, 0.2616)


@pytest.mark.parametrize(
    ("spec", "error", "match"),
    [
        ("imagenett", SpectralValueError, "expected one of"),
        ("0.5,0.5,0.5", SpectralValueError, "as many stds"),
        ("0.5,0.5,0.5,0.2,0.0,0.2", SpectralValueError, "std must be > 0"),
        (3, SpectralTypeError, "normalize"),
    ],
)
def test_bad_specs(spec: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        wn(_net(), spec)


def test_channel_mismatch_is_one_clear_error() -> None:
    normed = wn(nn.Sequential(nn.Conv2d(1, 2, 1)), "imagenet")
    with pytest.raises(SpectralValueError, match="1 channels, the normalisation 3"):
        normed(torch.rand(1, 1, 4, 4))
