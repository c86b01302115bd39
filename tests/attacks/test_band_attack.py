"""Band-limited PGD: the perturbation stays in its band and budget; blind bands cannot hurt."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import spectral as sp
from spectral.attacks import AttackName, BandPGD, make_attack
from spectral.errors import SpectralTypeError, SpectralValueError
from spectral.fourier import band_project

BANDS = {"low": 0, "mid": 1, "high": 2}


class LowpassModel(nn.Module):
    """A linear classifier behind an ideal low-pass (keeps r < radius): blind above it."""

    def __init__(self, size: int = 16, classes: int = 4, radius: float = 0.25) -> None:
        super().__init__()
        self.radius = radius
        self.fc = nn.Linear(3 * size * size, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(sp.lowpass(x - 0.5, self.radius, boundary="strict").flatten(1))


def _data(gen: torch.Generator, n: int = 12, size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.rand(n, 3, size, size, generator=gen)
    return x, torch.arange(n) % 4


def _model(size: int = 16) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * size * size, 4))


@pytest.mark.parametrize("norm,eps", [("Linf", 8 / 255), ("L2", 0.5)])
@pytest.mark.parametrize("band", ["low", "mid", "high"])
def test_perturbation_has_no_energy_outside_its_band_and_fits_the_budget(
    band: str, norm: str, eps: float, gen: torch.Generator
) -> None:
    x, y = _data(gen)
    x = x.double()
    atk = make_attack("bandpgd", _model().double(), eps=eps, steps=5, band=band, norm=norm)
    delta = atk(x, y) - x
    e = sp.band_energy(delta)
    outside = torch.cat([e[..., : BANDS[band]], e[..., BANDS[band] + 1 :]], -1)
    assert float(outside.max()) < 1e-20  # numerically zero (float64)
    assert torch.allclose(band_project(delta, band), delta, atol=1e-14)
    size = delta.flatten(1).abs().amax(1) if norm == "Linf" else delta.flatten(1).norm(dim=1)
    assert float(size.max()) <= eps * (1 + 1e-9)
    assert float(size.min()) > 0.5 * eps  # the steps push to the budget


def test_float32_perturbation_leaks_only_round_off(gen: torch.Generator) -> None:
    x, y = _data(gen)
    atk = make_attack("bandpgd", _model(), eps=8 / 255, steps=5, band="low")
    delta = (atk(x, y) - x).double()
    e = sp.band_energy(delta)
    assert float(e[..., 1:].sum(-1).max()) < 1e-9


def test_projection_is_idempotent_and_ascent_direction(gen: torch.Generator) -> None:
    atk = BandPGD(_model(), band="mid")
    g = torch.randn(4, 3, 16, 16, generator=gen, dtype=torch.float64)
    p = atk.project(g)
    assert torch.allclose(atk.project(p), p, atol=1e-14)
    # <g, P g> = ||P g||^2 >= 0: the projected gradient never descends
    assert torch.allclose((g * p).sum(), p.square().sum())


def test_attack_in_a_band_the_model_cannot_see_fails(gen: torch.Generator) -> None:
    x, _ = _data(gen, n=32)
    net = LowpassModel()
    y = net(x).argmax(1)  # labels the model gets right: clean accuracy 1
    # high: r >= 1/4, exactly the bins the strict low-pass at 1/4 removes
    atk = make_attack("bandpgd", net, eps=32 / 255, steps=10, band="high")
    adv = atk(x, y)
    assert float((adv - x).abs().max()) > 16 / 255  # a real perturbation...
    assert torch.allclose(net(adv), net(x), atol=1e-4)  # ...that the model cannot see
    assert bool((net(adv).argmax(1) == y).all())
    # the same budget in the bands the model sees (low and mid: r < 1/4) does hurt it
    seen = make_attack("bandpgd", net, eps=32 / 255, steps=10, band=(0.0, 0.25))
    assert float((net(seen(x, y)).argmax(1) == y).float().mean()) < 0.5


def test_targeted_mode_moves_towards_the_target(gen: torch.Generator) -> None:
    x, _ = _data(gen, n=16)
    net = _model()
    target = (net(x).argmax(1) + 1) % 4
    atk = make_attack("bandpgd", net, eps=0.5, steps=10, band="all", targeted=True)
    with torch.no_grad():
        before = nn.functional.cross_entropy(net(x), target)
        after = nn.functional.cross_entropy(net(atk(x, target)), target)
    assert float(after) < float(before)


def test_box_clip_returns_valid_images_and_none_may_leave_the_box(gen: torch.Generator) -> None:
    x, y = _data(gen)
    x[:, :, :4] = 0.0  # saturated pixels
    net = _model()
    clip = make_attack("bandpgd", net, eps=16 / 255, steps=3, band="low", box="clip")(x, y)
    assert float(clip.min()) >= 0.0 and float(clip.max()) <= 1.0
    free = make_attack("bandpgd", net, eps=16 / 255, steps=3, band="low")(x, y)
    assert float(free.min()) < 0.0  # no clipping: the perturbation stays in band
    assert float(free.min()) >= -16 / 255 - 1e-6


def test_make_attack_by_name_options_and_errors(gen: torch.Generator) -> None:
    net = _model()
    atk = make_attack(" BandPGD ", net, eps=4 / 255, steps=3, band=(0.1, 0.3))
    assert isinstance(atk, BandPGD) and atk.band == (0.1, 0.3)
    assert atk.alpha == pytest.approx(1 / 255) and AttackName("bandpgd") is AttackName.BANDPGD
    named = make_attack("bandpgd", net, band="mid", cutoffs=(0.1, 0.2))
    assert named.band == (0.1, 0.2)  # a name resolves with the given cutoffs
    x, y = _data(gen, n=2)
    a1, a2 = atk(x, y), atk(x, y)
    assert torch.equal(a1, a2)  # seeded random start
    with pytest.raises(SpectralValueError, match="band"):
        make_attack("bandpgd", net, band="ultra")
    with pytest.raises(SpectralValueError, match="L-inf budget"):
        make_attack("bandpgd", net, eps=8)
    make_attack("bandpgd", net, eps=8, norm="L2")  # an L2 radius may exceed 1
    with pytest.raises(SpectralValueError, match="step_size"):
        make_attack("bandpgd", net, alpha=0.1)
    with pytest.raises(SpectralValueError, match="box"):
        make_attack("bandpgd", net, box="wrap")
    with pytest.raises(SpectralTypeError, match="norm"):
        make_attack("bandpgd", net, norm=2)
    with pytest.raises(SpectralValueError, match="holds no frequency"):
        make_attack("bandpgd", net, band="low")(torch.rand(1, 3, 4, 4), torch.tensor([0]))


def test_model_left_as_found(gen: torch.Generator) -> None:
    net = _model().train()
    x, y = _data(gen, n=4)
    make_attack("bandpgd", net, steps=2)(x, y)
    assert net.training and all(p.grad is None for p in net.parameters())


@pytest.mark.parametrize("norm", ["Linf", "L2"])
def test_seeded_random_starts_are_per_image(norm: str) -> None:
    # an image's start is drawn from the image itself: the same adversarial whatever batch
    # it is in, wherever in the batch; another seed gives another start
    gen = torch.Generator().manual_seed(4)
    x, y = _data(gen, n=6)
    atk = make_attack(
        "bandpgd",
        _model(),
        eps=8 / 255 if norm == "Linf" else 0.5,
        steps=2,
        band="mid",
        norm=norm,
        seed=3,
    )
    whole = atk(x, y)
    halves = torch.cat([atk(x[:2], y[:2]), atk(x[2:], y[2:])])
    flipped = atk(x.flip(0), y.flip(0)).flip(0)
    torch.testing.assert_close(halves, whole, rtol=0, atol=1e-6)
    torch.testing.assert_close(flipped, whole, rtol=0, atol=1e-6)
    start = make_attack("bandpgd", _model(), steps=1, step_size=1e-9, band="mid", norm=norm, seed=3)
    other = make_attack("bandpgd", _model(), steps=1, step_size=1e-9, band="mid", norm=norm, seed=4)
    assert not torch.equal(start(x, y), other(x, y))  # the start itself depends on the seed
