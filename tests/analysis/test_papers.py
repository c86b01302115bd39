"""paper_comparison: each claim reads the right numbers and decides as the paper predicts."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from spectral.analysis import paper_comparison
from spectral.errors import SpectralValueError


def _report(**over: Any) -> dict[str, Any]:
    def model(pert_high: float) -> dict[str, Any]:
        return {"band_energy": {"perturbation": [0.1, 0.2, pert_high], "clean": [0.8, 0.1, 0.1]}}

    r: dict[str, Any] = {
        "models": {"std": model(0.6), "adv": model(0.3)},
        "heatmap": {
            "models": {
                "std": {"clean_error": 0.1, "band_error": {"low": 0.3, "high": 0.6}},
                "adv": {"clean_error": 0.2, "band_error": {"low": 0.5, "high": 0.25}},
            }
        },
        "filters": {
            "std": [{"sparsity": 0.2, "orthogonality": 0.8, "variance_entropy_normalized": 0.7}],
            "adv": [{"sparsity": 0.1, "orthogonality": 0.9, "variance_entropy_normalized": 0.8}],
        },
        "calibration": {
            "models": {
                "std": {"clean": {"overconfidence": 0.9}, "adversarial": {"overconfidence": 0.95}},
                "adv": {"clean": {"overconfidence": 0.7}, "adversarial": {"overconfidence": 0.6}},
            }
        },
        "gradients": {
            "models": {
                "std": {"summary": {"gradient": {"mean_frequency": 0.2, "edge_correlation": 0.0}}},
                "adv": {"summary": {"gradient": {"mean_frequency": 0.1, "edge_correlation": 0.2}}},
            }
        },
        "blur": {
            "blackbox": [
                {"defense": "baseline", "attack_success_rate": 0.8},
                {"defense": "5x5 on L1 feature maps", "attack_success_rate": 0.5},
            ]
        },
    }
    r.update(over)
    return r


def test_a_report_that_shows_every_phenomenon_agrees_everywhere() -> None:
    c = paper_comparison(_report())
    assert c.standard == "std" and c.robust == "adv"
    assert [x.agrees for x in c.claims] == [True] * len(c.claims)
    assert len(c.claims) == 11
    heat = {x.topic: x for x in c.claims}["Fourier heat map: high frequencies"]
    assert heat.values == pytest.approx({"std": 0.5, "adv": 0.05})  # error minus clean error
    assert "+0.500" in heat.ours and "+0.050" in heat.ours
    assert all(row[3] == "yes" for row in c.rows())


def test_swapping_the_models_turns_each_claim_around() -> None:
    c = paper_comparison(_report(), standard="adv", robust="std")
    by = {x.topic: x.agrees for x in c.claims}
    assert by["filters: orthogonality"] is False and by["over-confidence (clean data)"] is False
    assert by["input gradients: frequency"] is False and by["perturbation spectra"] is False
    # claims about one model only do not depend on which is called standard
    assert by["BlurNet T1: blur vs transfer attacks"] is True


def test_missing_sections_and_ties_are_not_decided() -> None:
    r = _report()
    del r["heatmap"], r["gradients"]
    r["filters"]["adv"][0]["sparsity"] = r["filters"]["std"][0]["sparsity"] = 0.0
    c = {x.topic: x for x in paper_comparison(r).claims}
    assert c["Fourier heat map: low frequencies"].agrees is None
    assert c["Fourier heat map: low frequencies"].ours == "not measured in this report"
    assert c["filters: sparsity"].agrees is None and c["filters: sparsity"].values
    rows = {row[0]: row[3] for row in paper_comparison(r).rows()}
    assert rows["filters: sparsity"] == "undecided"
    assert rows["input gradients: frequency"].startswith("n/a")


def test_the_heat_map_low_band_claim_reads_the_robust_model() -> None:
    r = copy.deepcopy(_report())
    r["heatmap"]["models"]["adv"]["band_error"] = {"low": 0.21, "high": 0.5}
    c = {x.topic: x for x in paper_comparison(r).claims}
    assert c["Fourier heat map: low frequencies"].agrees is False
    assert c["Fourier heat map: low frequencies"].values == pytest.approx(
        {"low": 0.01, "high": 0.3}
    )


def test_bad_reports_raise() -> None:
    with pytest.raises(SpectralValueError, match="two models"):
        paper_comparison({"models": {"one": {}}})
    with pytest.raises(SpectralValueError, match="not in the report"):
        paper_comparison(_report(), robust="nope")
    d = paper_comparison(_report()).to_dict()
    assert d["claims"][0]["topic"] == "perturbation spectra" and d["standard"] == "std"
