"""Filtered-accuracy curves and band-attack analysis, against models with known answers."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import spectral as sp
from spectral.analysis import (
    BandAttackAnalysis,
    FilteredAccuracy,
    band_attack_analysis,
    filtered_accuracy,
)
from spectral.errors import SpectralTypeError, SpectralValueError


class MeanModel(nn.Module):
    """Class 1 iff the image's mean exceeds 0.25: reads only the DC component."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = x.mean((1, 2, 3))
        return torch.stack([0.25 - m, m - 0.25], 1)


class BandDetector(nn.Module):
    """Class 1 iff the image has energy at the frequency (0, k): sees exactly one ring."""

    def __init__(self, k: int, size: int = 16) -> None:
        super().__init__()
        self.k, self.size = k, size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = torch.fft.fft2(x.mean(1)).abs()[:, 0, self.k] / self.size**2
        return torch.stack([0.01 - f, f - 0.01], 1)


class LowpassLinear(nn.Module):
    def __init__(self, size: int = 16, radius: float = 0.25) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc, self.radius = nn.Linear(3 * size * size, 4), radius

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(sp.lowpass(x - 0.5, self.radius, boundary="strict").flatten(1))


def test_mean_model_keeps_its_accuracy_on_lowpass_and_loses_it_on_highpass() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(20, 3, 16, 16, generator=gen) * 0.5  # means near 0.25, both sides
    y = MeanModel()(x).argmax(1)
    y[:3] = 1 - y[:3]  # three wrong labels: clean accuracy 17/20
    a = filtered_accuracy({"m": MeanModel()}, x, y, radii=(1 / 16, 0.25), kinds=("ideal",))
    assert a.clean_accuracy["m"] == pytest.approx(17 / 20)
    # low-pass keeps DC: predictions unchanged
    assert a.accuracy["m"]["lowpass"]["ideal"] == pytest.approx([17 / 20, 17 / 20])
    # high-pass removes DC: mean 0 -> always class 0, right for the images labelled 0
    expected = float((y == 0).double().mean())
    assert a.accuracy["m"]["highpass"]["ideal"] == pytest.approx([expected, expected])


def test_strict_boundary_decides_whether_the_ring_is_low_or_high() -> None:
    # images holding only the frequency (0, 4) of a 16x16 image: radius exactly 4/16
    xs = torch.arange(16, dtype=torch.float64)
    wave = 0.5 + 0.3 * torch.cos(2 * torch.pi * 4 * xs / 16)
    x = wave.expand(4, 3, 16, 16).clone()
    y = torch.ones(4, dtype=torch.long)  # the detector sees the ring: class 1
    net = BandDetector(4).double()
    for boundary, low, high in (("strict", 0.0, 1.0), ("inclusive", 1.0, 0.0)):
        a = filtered_accuracy(
            {"d": net}, x, y, radii=(4 / 16,), kinds=("ideal",), boundary=boundary
        )
        assert a.accuracy["d"]["lowpass"]["ideal"] == [low], boundary
        assert a.accuracy["d"]["highpass"]["ideal"] == [high], boundary


def test_accuracies_equal_a_hand_computation_for_every_kind(gen: torch.Generator) -> None:
    x = torch.rand(10, 3, 16, 16, generator=gen)
    net = LowpassLinear(radius=0.3)
    y = torch.arange(10) % 4
    radii = (0.1, 0.2, 0.4)
    kinds = ("ideal", "gaussian", "butterworth")
    a = filtered_accuracy({"n": net}, x, y, radii=radii, kinds=kinds, batch_size=3)
    with torch.no_grad():
        for k in kinds:
            for p, fn in (("lowpass", sp.lowpass), ("highpass", sp.highpass)):
                hand = [
                    float((net(fn(x, r, kind=k, boundary="strict")).argmax(1) == y).float().mean())
                    for r in radii
                ]
                assert a.accuracy["n"][p][k] == pytest.approx(hand), (k, p)
    d = a.to_dict()
    json.dumps(d)
    assert d["radii_pixels"] == pytest.approx([1.6, 3.2, 6.4])
    assert d["models"]["n"]["clean_interval"]["n"] == 10
    assert len(a.rows()) == 2 * 3 and a.rows()[0][:3] == ["n", "lowpass", "ideal"]


def test_filtered_accuracy_progress_and_errors(gen: torch.Generator) -> None:
    x, y = torch.rand(4, 3, 8, 8, generator=gen), torch.tensor([0, 1, 0, 1])
    calls: list[tuple[int, int]] = []
    nets = {"a": MeanModel(), "b": MeanModel()}
    tick = lambda d, t: calls.append((d, t))  # noqa: E731
    filtered_accuracy(nets, x, y, radii=(0.25,), kinds=("ideal",), progress=tick)
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    with pytest.raises(SpectralValueError, match="models"):
        filtered_accuracy({}, x, y)
    with pytest.raises(SpectralValueError, match="radii"):
        filtered_accuracy(nets, x, y, radii=(0.0,))
    with pytest.raises(SpectralValueError, match="kinds"):
        filtered_accuracy(nets, x, y, kinds=("box",))
    with pytest.raises(SpectralValueError, match="boundary"):
        filtered_accuracy(nets, x, y, boundary="open")
    with pytest.raises(SpectralTypeError, match="progress"):
        filtered_accuracy(nets, x, y, progress=3)  # type: ignore[arg-type]


def test_band_attack_fails_where_the_model_is_blind(gen: torch.Generator) -> None:
    x = torch.rand(24, 3, 16, 16, generator=gen)
    net = LowpassLinear()  # keeps r < 1/4: blind to the high band (r >= 1/4)
    with torch.no_grad():
        y = net(x).argmax(1)
    a = band_attack_analysis(
        {"lp": net}, x, y, bands=("high", (0.0, 0.25)), eps=(16 / 255, 32 / 255), steps=8
    )
    assert a.clean_accuracy["lp"] == 1.0
    assert a.robust_accuracy["lp"]["high"] == [1.0, 1.0]
    seen = a.robust_accuracy["lp"]["0-0.25"]
    assert seen[1] < 0.5 and seen[1] <= seen[0]  # a larger budget hurts at least as much
    assert a.out_of_band["lp"]["high"] < 1e-9  # float32 round-off only
    d = a.to_dict()
    json.dumps(d)
    assert d["ranges"] == [[0.25, None], [0.0, 0.25]]
    assert d["models"]["lp"]["robust_intervals"]["high"][0]["n"] == 24
    assert a.rows()[0] == ["lp", "clean", 1.0, 1.0]


def test_band_attack_options_and_errors(gen: torch.Generator) -> None:
    x, y = torch.rand(4, 3, 16, 16, generator=gen), torch.tensor([0, 1, 2, 3])
    net = LowpassLinear()
    a = band_attack_analysis({"n": net}, x, y, bands=("low",), eps=(0.5,), norm="L2", steps=1)
    assert isinstance(a, BandAttackAnalysis) and a.norm == "L2" and a.step_fraction == 0.25
    for kwargs, needle in (
        ({"bands": ()}, "bands"),
        ({"bands": "low"}, "bands"),
        ({"bands": ("ultra",)}, "band"),
        ({"eps": ()}, "eps"),
        ({"eps": (0.0,)}, "eps"),
        ({"norm": "L1"}, "norm"),
        ({"box": "wrap"}, "box"),
        ({"steps": 0}, "steps"),
    ):
        with pytest.raises(SpectralValueError, match=needle):
            band_attack_analysis({"n": net}, x, y, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(SpectralValueError, match="holds no frequency of 4x4"):
        band_attack_analysis({"n": MeanModel()}, torch.rand(2, 3, 4, 4), torch.tensor([0, 1]))


def test_figures_draw_both_analyses() -> None:
    from spectral.plot import bands_figure

    f = FilteredAccuracy(
        (0.125, 0.25), ("ideal", "gaussian"), "strict", 10, (32, 32), {"a": 0.9},
        {"a": {"lowpass": {"ideal": [0.3, 0.8], "gaussian": [0.2, 0.7]},
               "highpass": {"ideal": [0.5, 0.1], "gaussian": [0.4, 0.2]}}},
    )  # fmt: skip
    b = BandAttackAnalysis(
        ("low", "high"), ((0.0, 0.125), (0.25, float("inf"))), (4 / 255, 8 / 255), "Linf",
        10, 0.25, "none", 10, {"a": 0.9}, {"a": {"low": [0.4, 0.2], "high": [0.8, 0.7]}},
        {"a": {"low": 0.0, "high": 0.0}},
    )  # fmt: skip
    fig = bands_figure(f, b)
    assert len(fig.axes) == 4
    lines = fig.axes[0].get_lines()
    assert [ln.get_ydata().tolist() for ln in lines] == [[30.0, 80.0], [50.0, 10.0]]
    assert [round(float(r.get_height()), 6) for r in fig.axes[3].patches] == [90.0, 20.0, 70.0]
    assert "8/255" in fig.axes[3].get_title()
