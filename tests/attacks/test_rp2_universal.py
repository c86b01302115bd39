"""UniversalRP2: one sticker for the victim set, whole-image transforms, NPS and TV."""

from __future__ import annotations

import pytest
import torch

from spectral.attacks.rp2_universal import (
    PRINTABLE_PALETTE,
    UniversalRP2,
    non_printability,
    total_variation,
)
from spectral.errors import SpectralValueError


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 4)).eval()


def _mask() -> torch.Tensor:
    m = torch.zeros(8, 8)
    m[2:5, 1:7] = 1
    return m


X = torch.rand(6, 3, 8, 8, generator=torch.Generator().manual_seed(1))


def test_replace_mode_puts_the_same_sticker_on_every_image() -> None:
    atk = UniversalRP2(_net(), _mask(), mode="replace", steps=5)
    adv = atk(X, torch.full((6,), 3))
    inside = _mask().bool()
    assert torch.equal(adv[..., ~inside], X[..., ~inside])
    patch = adv[..., inside]
    assert torch.equal(patch, patch[:1].expand_as(patch))
    assert atk.perturbation is not None
    torch.testing.assert_close(atk.perturbation[:, inside], patch[0])


def test_add_mode_adds_one_shared_perturbation() -> None:
    atk = UniversalRP2(_net(), _mask(), mode="add", steps=5, eps=0.2, lr=0.05)
    adv = atk(X, torch.full((6,), 3))
    delta = atk.perturbation
    assert delta is not None and float(delta.abs().max()) <= 0.2 + 1e-6
    assert float(delta[:, ~_mask().bool()].abs().max()) == 0.0
    torch.testing.assert_close(adv, torch.clamp(X + delta, 0, 1))


def test_universal_sticker_pushes_the_whole_set_towards_the_target() -> None:
    net = _net()
    target = 2
    before = (net(X).argmax(1) == target).float().mean()
    atk = UniversalRP2(net, None, mode="replace", steps=60, lr=0.1, color_shift=0.0)
    adv = atk(X, torch.full((6,), target))
    after = (net(adv).argmax(1) == target).float().mean()
    assert after == 1.0 and after > before


def test_no_transform_is_the_identity_and_transforms_move_pixels() -> None:
    still = UniversalRP2(_net(), color_shift=0.0, max_crop=0.0, perspective=0.0, steps=1)
    gen = torch.Generator().manual_seed(0)
    torch.testing.assert_close(still._transform(X, gen), X, atol=1e-6, rtol=0)
    moving = UniversalRP2(_net(), color_shift=0.0, max_crop=0.3, perspective=0.3, steps=1)
    out = moving._transform(X, torch.Generator().manual_seed(0))
    assert out.shape == X.shape and float((out - X).abs().max()) > 0.05


def test_nps_is_zero_on_palette_colours_and_tv_matches_a_hand_count() -> None:
    assert float(non_printability(PRINTABLE_PALETTE[:5], PRINTABLE_PALETTE)) == 0.0
    assert float(non_printability(torch.tensor([[0.3, 0.3, 0.3]]), PRINTABLE_PALETTE)) > 0
    x = torch.tensor([[0.0, 1.0, 1.0], [0.0, 0.0, 1.0]])
    # |dx| = (1 + 0 + 0 + 1) / 4 = 0.5, |dy| = (0 + 1 + 0) / 3 = 1/3
    assert float(total_variation(x)) == pytest.approx(0.5 + 1 / 3)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"mode": "paint"}, "mode: expected 'add' or 'replace'"),
        ({"palette": torch.zeros(4, 2)}, "palette: expected (K, 3)"),
        ({"max_crop": 1.0}, "max_crop"),
        ({"nps_weight": -1.0}, "nps_weight"),
    ],
)
def test_bad_options_are_one_clear_error(kwargs: dict, needle: str) -> None:
    with pytest.raises(SpectralValueError) as err:
        UniversalRP2(_net(), _mask(), **kwargs)
    assert needle in str(err.value) and "\n" not in str(err.value)
