"""attack_analysis: the report's attack step equals the library functions it combines."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import spectral as sp
from spectral.analysis import attack_analysis


def _net(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 3)
    ).eval()


@pytest.fixture(scope="module")
def case():  # type: ignore[no-untyped-def]
    models = {"a": _net(0), "b": _net(1)}
    x = torch.rand(6, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    seen: list[tuple[int, int]] = []
    res = attack_analysis(
        models,
        x,
        y,
        attack="fgsm",
        eps=0.05,
        steps=1,
        seed=3,
        progress=lambda done, total: seen.append((done, total)),
    )
    return models, x, y, res, seen


def test_metrics_equal_the_library_functions(case) -> None:  # type: ignore[no-untyped-def]
    models, x, y, res, seen = case
    assert seen == [(1, 2), (2, 2)] and res.main == "a"
    for name, m in models.items():
        x_adv = sp.make_attack("fgsm", m, eps=0.05, steps=1, seed=3)(x, y)
        torch.testing.assert_close(res.adversarial[name], x_adv, rtol=0, atol=0)
        got = res.metrics[name]
        assert got["clean_accuracy"] == sp.accuracy(m, x, y)
        assert got["adversarial_accuracy"] == sp.accuracy(m, x_adv, y)
        assert got["attack_success_rate"] == sp.attack_success_rate(m, x, x_adv)
        assert got["l2_dissimilarity"] == pytest.approx(sp.l2_dissimilarity(x, x_adv))
        assert got["band_energy"] == sp.compare_spectra(x, x_adv).to_dict()["band_energy"]


def test_radial_profiles_are_of_the_main_models_batch(case) -> None:  # type: ignore[no-untyped-def]
    _, x, _, res, _ = case
    x_adv = res.adversarial["a"]
    for kind, batch in (("clean", x), ("adversarial", x_adv), ("perturbation", x_adv - x)):
        radii, prof = sp.radial_profile(sp.power_spectrum(batch).mean(0, keepdim=True))
        torch.testing.assert_close(res.radii, radii)
        torch.testing.assert_close(res.radial_power[kind], prof[0].mean(0))
        assert res.radial_slope[kind] == pytest.approx(
            float(sp.powerlaw_slope(radii, prof[0].mean(0)))
        )


def test_to_dict_puts_the_main_model_on_top_and_is_json(case) -> None:  # type: ignore[no-untyped-def]
    _, _, _, res, _ = case
    d = res.to_dict()
    assert d["clean_accuracy"] == res.metrics["a"]["clean_accuracy"]
    assert list(d["models"]) == ["a", "b"]
    assert set(d["band_energy"]) == {"clean", "adversarial", "perturbation"}
    json.dumps(d, allow_nan=False)


def test_no_models_is_an_error() -> None:
    with pytest.raises(sp.SpectralValueError, match="at least one model"):
        attack_analysis({}, torch.rand(1, 3, 8, 8), torch.tensor([0]))


def test_attack_figures_draw_the_analysis(case) -> None:  # type: ignore[no-untyped-def]
    from spectral import plot

    _, _, _, res, _ = case
    figs = plot.attack_figures(res)
    assert list(figs) == ["fig1_input_spectra", "fig4_radial_profiles", "fig5_band_energy"]
    (ax4,) = figs["fig4_radial_profiles"].axes
    assert [line.get_label().split(" (")[0] for line in ax4.get_lines()] == [
        "clean",
        "adversarial",
        "perturbation",
    ]
    titles = [ax.get_title() for ax in figs["fig5_band_energy"].axes]
    assert titles == ["a", "b"]


def test_intervals_and_paired_differences(case) -> None:  # type: ignore[no-untyped-def]
    models, x, _, res, _ = case
    for name in models:
        got = res.metrics[name]
        assert got["n_images"] == len(x)
        for k in ("clean_accuracy", "adversarial_accuracy", "attack_success_rate"):
            iv = got["intervals"][k]
            want = sp.metrics.proportion_interval(got[k], len(x))
            assert iv == want.to_dict() and iv["estimate"] == got[k]
            assert iv["ci95"][0] <= got[k] <= iv["ci95"][1]
    assert "difference_vs_main" not in res.metrics["a"]
    diff = res.metrics["b"]["difference_vs_main"]
    for k in ("clean_accuracy", "adversarial_accuracy", "attack_success_rate"):
        d = diff[k]
        assert d["estimate"] == pytest.approx(res.metrics["b"][k] - res.metrics["a"][k])
        lo, hi = d["ci95"]
        assert lo <= d["estimate"] <= hi and d["excludes_zero"] == (not lo <= 0.0 <= hi)
        assert d["n"] == len(x) and d["method"] == "paired-bootstrap"


def test_band_energy_intervals_bracket_the_reported_means(case) -> None:  # type: ignore[no-untyped-def]
    _, x, _, res, _ = case
    for name in res.metrics:
        ivs = res.metrics[name]["intervals"]["perturbation_band_energy"]
        reported = res.metrics[name]["band_energy"]["perturbation"]
        per_image = res.comparison[name].band_energy_perturbation.double().nanmean(1)
        for j, band in enumerate(("low", "mid", "high")):
            d = ivs[band]
            assert d["method"] == "bootstrap" and d["n"] == len(x)
            assert d["estimate"] == pytest.approx(reported[j], abs=1e-9)
            assert d["estimate"] == pytest.approx(float(per_image[:, j].mean()))
            assert d["ci95"][0] <= d["estimate"] <= d["ci95"][1]
            # an interval as wide as the data itself would say nothing
            spread = float(per_image[:, j].max() - per_image[:, j].min())
            assert d["ci95"][1] - d["ci95"][0] <= spread + 1e-12


def test_calibration_analysis_carries_intervals() -> None:
    from spectral.analysis import calibration_analysis
    from spectral.metrics import calibration_intervals, proportion_interval

    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    x, y = torch.rand(20, 3, 2, 2), torch.arange(20) % 3
    x_adv = (x + 0.1).clamp(0, 1)
    a = calibration_analysis({"net": net}, x, y, {"net": x_adv}, attack="t", eps=0.1, seed=3)
    with torch.no_grad():
        ref = calibration_intervals(net(x_adv), y, seed=3)
    m = a.to_dict()["models"]["net"]
    for kind in ("clean", "adversarial"):
        ivs = m[kind]["intervals"]
        assert ivs["accuracy"] == proportion_interval(m[kind]["accuracy"], 20).to_dict()
        assert ivs["ece"]["n"] == 20 and ivs["ece"]["method"] == "bootstrap"
        lo, hi = ivs["ece"]["ci95"]
        assert lo <= m[kind]["ece"] <= hi
        assert m[kind]["ece"] == pytest.approx(ivs["ece"]["estimate"])
    assert m["adversarial"]["intervals"]["ece"] == ref["ece"].to_dict()  # type: ignore[union-attr]
    json.dumps(a.to_dict())
