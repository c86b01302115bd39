"""Fourier-detector protocol (Harder et al. 2021) and the adaptive attack, on the built-in model."""

from __future__ import annotations

import json
import math

import pytest
import torch

import spectral as sp
import spectral.attacks
from spectral.analysis import (
    DetectionAnalysis,
    detection_analysis,
    detection_scores,
    detector_aware_pgd,
)
from spectral.defenses import Detector
from spectral.errors import SpectralValueError
from spectral.metrics import predict


@pytest.fixture(scope="module")
def data():  # type: ignore[no-untyped-def]
    model = sp.load_model("builtin:standard")
    ds = sp.load_dataset("builtin", "test", seed=0)
    return model, ds.images[:40], ds.labels[:40]


@pytest.fixture(scope="module")
def result(data) -> DetectionAnalysis:  # type: ignore[no-untyped-def]
    model, x, y = data
    return detection_analysis(
        model, x, y, attacks=["fgsm", "pgd"], features=["InputMFS", "LayerMFS"],
        adaptive_steps=10, batch_size=40,
    )  # fmt: skip


def test_split_is_disjoint_by_image_and_covers_the_correct_images(data, result) -> None:  # type: ignore[no-untyped-def]
    model, x, y = data
    correct = set((predict(model, x) == y).nonzero().flatten().tolist())
    train, test = set(result.train_indices), set(result.test_indices)
    assert not train & test
    assert train | test == correct and result.n_correct == len(correct) < len(x)
    assert len(test) == round(0.3 * len(correct))


def test_counts_match_a_hand_run_of_the_deterministic_attack(data, result) -> None:  # type: ignore[no-untyped-def]
    model, x, y = data
    idx = torch.tensor(sorted(result.train_indices + result.test_indices))
    adv = sp.make_attack("fgsm", model, eps=8 / 255)(x[idx], y[idx])
    ok = predict(model, adv) != y[idx]
    row = next(r for r in result.results if r["attack"] == "fgsm")
    assert row["n_train"] + row["n_test"] == int(ok.sum())
    assert row["success_rate"] == pytest.approx(float(ok.double().mean()))
    test_ok = [int(i) for i, s in zip(idx, ok, strict=True) if s and int(i) in result.test_indices]
    assert row["n_test"] == len(test_ok)


def test_only_correct_images_are_attacked_and_only_successes_kept(data, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    model, x, y = data
    real = spectral.attacks.run_attack
    seen = []

    def half_fails(attack, net, xb, yb, **kw):  # type: ignore[no-untyped-def]
        seen.append((xb.clone(), yb.clone()))
        adv = real(attack, net, xb, yb, **kw)
        adv[::2] = xb[::2]  # every other "adversarial" is the clean image: a failure
        return adv

    monkeypatch.setattr(spectral.attacks, "run_attack", half_fails)
    res = detection_analysis(model, x, y, attacks=["pgd"], features=["InputMFS"], adaptive=False)
    ((xb, yb),) = seen
    assert bool((predict(model, xb) == yb).all()) and len(xb) == res.n_correct
    row = res.results[0]
    assert row["n_train"] + row["n_test"] <= math.floor(res.n_correct / 2)
    assert row["success_rate"] <= 0.5


def test_detection_scores_by_hand() -> None:
    scores = torch.tensor([-3.0, -1.0, 0.5, 2.0, 1.0, -0.5])
    truth = [0, 0, 0, 1, 1, 1]
    got = detection_scores(scores, truth)
    # flagged: 0.5, 2.0, 1.0 -> TPR 2/3, TNR 2/3, ACC 4/6; AUC: 8 of the 9
    # (adversarial, clean) pairs have the adversarial scored higher (-0.5 < 0.5 does not)
    assert got == pytest.approx({"acc": 4 / 6, "auc": 8 / 9, "tpr": 2 / 3, "tnr": 2 / 3})


def test_pgd_is_detected_on_held_out_images(result) -> None:  # type: ignore[no-untyped-def]
    rows = {(r["attack"], r["feature"]): r for r in result.results}
    assert rows[("pgd", "InputMFS")]["auc"] > 0.8
    assert rows[("pgd", "LayerMFS")]["auc"] > 0.8
    assert set(result.roc) == {f"{a}/{f}" for a, f in rows}
    json.dumps(result.to_dict())  # serialisable


def test_adaptive_attack_lowers_detection(result) -> None:  # type: ignore[no-untyped-def]
    assert [r["feature"] for r in result.adaptive] == ["InputMFS", "LayerMFS"]
    for r in result.adaptive:
        assert r["adaptive_success_rate"] >= 0.5
        assert r["adaptive_tpr"] < r["pgd_tpr"] or r["adaptive_auc"] < r["pgd_auc"]
        assert r["adaptive_undetected_rate"] > r["pgd_undetected_rate"]


def test_adaptive_attack_stays_in_the_eps_ball(data, result) -> None:  # type: ignore[no-untyped-def]
    model, x, y = data
    det = result.detectors[("pgd", "InputMFS")]
    assert isinstance(det, Detector)
    adv = detector_aware_pgd(model, det, x[:6], y[:6], eps=4 / 255, steps=3)
    assert float((adv - x[:6]).abs().max()) <= 4 / 255 + 1e-6
    assert float(adv.min()) >= 0 and float(adv.max()) <= 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"attacks": ["magic"]}, "magic"),
        ({"features": ["InputXYZ"]}, "'InputMFS'"),
        ({"test_fraction": 1.5}, "test_fraction"),
        ({"attacks": []}, "at least one"),
    ],
)
def test_bad_input_gives_one_clear_line(data, kwargs, message) -> None:  # type: ignore[no-untyped-def]
    model, x, y = data
    with pytest.raises(SpectralValueError) as err:
        detection_analysis(model, x[:4], y[:4], **kwargs)
    assert message in str(err.value) and len(str(err.value).splitlines()) == 1


def test_too_few_correct_images_is_one_line(data) -> None:  # type: ignore[no-untyped-def]
    model, x, y = data
    wrong = (y[:2] + 1) % 10
    with pytest.raises(SpectralValueError, match="too few to split"):
        detection_analysis(model, x[:2], wrong, attacks=["fgsm"], features=["InputMFS"])
