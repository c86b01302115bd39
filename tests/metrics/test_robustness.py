"""Filter statistics and calibration metrics on constructed cases with known answers."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from spectral.analysis import filter_metrics, layer_filter_metrics
from spectral.errors import SpectralValueError
from spectral.metrics import (
    bootstrap_interval,
    calibration_intervals,
    calibration_metrics,
    proportion_interval,
    wilson_interval,
)


def test_identical_filters_have_no_diversity_and_zero_orthogonality() -> None:
    f = torch.randn(9, generator=torch.Generator().manual_seed(0)).reshape(3, 3)
    w = f.expand(4, 2, 3, 3).clone()
    m = layer_filter_metrics(w)
    assert m["n"] == 8 and m["sparsity"] == 0.0
    assert m["variance_entropy"] == 0.0  # every filter is the same: no variance
    assert m["orthogonality"] == pytest.approx(0.0, abs=1e-12)  # identical rows


def test_random_gaussian_filters_are_diverse() -> None:
    w = torch.randn(64, 64, 3, 3, generator=torch.Generator().manual_seed(1))
    m = layer_filter_metrics(w)
    # i.i.d. Gaussian filters spread their variance evenly over the 9 directions
    assert 0.98 < m["variance_entropy_normalized"] <= 1.0
    assert m["variance_entropy"] == pytest.approx(m["variance_entropy_normalized"] * math.log10(9))
    # random 576-dim rows are nearly orthogonal: mean |cos| ~ sqrt(2 / (pi * 576))
    expect = 1 - math.sqrt(2 / (math.pi * 576))
    assert m["orthogonality"] == pytest.approx(expect, abs=0.01)


def test_orthonormal_rows_have_orthogonality_one() -> None:
    q, _ = torch.linalg.qr(torch.randn(18, 18, dtype=torch.float64))
    w = q[:5].reshape(5, 2, 3, 3)  # 5 orthonormal rows of length 2 * 9
    assert layer_filter_metrics(w)["orthogonality"] == pytest.approx(1.0, abs=1e-12)


def test_variance_entropy_of_known_spectrum() -> None:
    # filters +-a e1 and +-b e2: centred variance only along two axes with ratio a^2 : b^2
    a, b = 3.0, 1.0
    rows = []
    for s in (1, -1):
        rows += [torch.eye(9)[0] * a * s, torch.eye(9)[1] * b * s]
    w = torch.stack(rows).reshape(4, 1, 3, 3)
    p = torch.tensor([a * a, b * b]) / (a * a + b * b)
    expect = float(-(p * torch.log10(p)).sum())
    assert layer_filter_metrics(w)["variance_entropy"] == pytest.approx(expect, rel=1e-6)


def test_sparsity_threshold_and_all_zero_layer() -> None:
    w = torch.zeros(2, 2, 3, 3)
    w[0, 0] = 1.0  # the max
    w[0, 1, 1, 1] = 0.009  # below 1% of max: sparse
    w[1, 0, 0, 0] = 0.02  # above: not sparse
    m = layer_filter_metrics(w)
    assert m["sparsity"] == pytest.approx(2 / 4)  # filters [0,1] and [1,1]
    assert math.isnan(m["variance_entropy_nonsparse"]) is False
    z = layer_filter_metrics(torch.zeros(3, 2, 3, 3))
    assert z["sparsity"] == 1.0 and z["variance_entropy"] == 0.0
    assert math.isnan(z["orthogonality"]) and math.isnan(z["variance_entropy_nonsparse"])


def test_filter_metrics_rows_per_3x3_conv_and_errors() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 1), nn.Conv2d(4, 2, 3))
    rows = filter_metrics(model)
    assert [r["name"] for r in rows] == ["0", "2"]
    assert [r["n"] for r in rows] == [12, 8]
    with pytest.raises(SpectralValueError, match="3x3"):
        filter_metrics(nn.Sequential(nn.Conv2d(3, 4, 5)))
    with pytest.raises(SpectralValueError, match=r"\(c_out, c_in, 3, 3\)"):
        layer_filter_metrics(torch.zeros(2, 2, 5, 5))


def test_calibration_perfectly_calibrated_case() -> None:
    # 4 predictions at confidence 0.75 (one bin), 3 of them right: acc == conf -> ECE 0
    logit = math.log(3.0)  # softmax([log 3, 0]) = [0.75, 0.25]
    logits = torch.tensor([[logit, 0.0]] * 4, dtype=torch.float64)
    labels = torch.tensor([0, 0, 0, 1])
    m = calibration_metrics(logits, labels)
    assert m["accuracy"] == 0.75 and m["mean_confidence"] == pytest.approx(0.75)
    assert m["ece"] == pytest.approx(0.0, abs=1e-12)
    assert m["overconfidence"] == pytest.approx(0.75)
    assert m["underconfidence"] == pytest.approx(0.25)


def test_calibration_all_wrong_case() -> None:
    logits = torch.tensor([[4.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    labels = torch.tensor([1, 2])
    m = calibration_metrics(logits, labels)
    conf = torch.softmax(logits.double(), 1).max(1).values
    assert m["accuracy"] == 0.0
    assert m["ece"] == pytest.approx(float(conf.mean()))  # |0 - conf| in each bin
    assert m["overconfidence"] == pytest.approx(float(conf.mean()))
    assert math.isnan(m["underconfidence"])


def test_calibration_bins_hand_computed() -> None:
    # confidences 0.9 (right) and 0.6 (wrong), 2 bins: (0, .5], (.5, 1] -> both in bin 2
    logits = torch.tensor([[math.log(9.0), 0.0], [math.log(1.5), 0.0]])
    labels = torch.tensor([0, 1])
    m = calibration_metrics(logits, labels, n_bins=2)
    assert m["ece"] == pytest.approx(abs(0.5 - 0.75))
    m10 = calibration_metrics(logits, labels, n_bins=10)  # separate bins
    assert m10["ece"] == pytest.approx(0.5 * abs(1 - 0.9) + 0.5 * abs(0 - 0.6))


@pytest.mark.parametrize(
    ("logits", "labels", "needle"),
    [
        (torch.zeros(3), torch.zeros(3, dtype=torch.long), "logits"),
        (torch.zeros(3, 2), torch.zeros(2, dtype=torch.long), "labels"),
        (torch.zeros(3, 2), torch.tensor([0, 1, 2]), r"\[0, 2\)"),
        (torch.zeros(3, 2), torch.zeros(3), "integer"),
        (torch.tensor([[float("nan"), 0.0]]), torch.tensor([0]), "finite"),
    ],
)
def test_calibration_bad_input(logits, labels, needle) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SpectralValueError, match=needle):
        calibration_metrics(logits, labels)


def test_calibration_bins_match_metrics() -> None:
    from spectral.metrics import calibration_bins

    g = torch.Generator().manual_seed(3)
    logits = torch.randn(200, 4, generator=g, dtype=torch.float64) * 2
    labels = torch.randint(0, 4, (200,), generator=g)
    bins = calibration_bins(logits, labels, n_bins=10)
    assert len(bins) == 10 and sum(b["count"] for b in bins) == 200
    conf = torch.softmax(logits, 1).max(1).values
    for b in bins:  # every confidence lies in its bin's (lower, upper]
        inside = (conf > b["lower"]) & (conf <= b["upper"])
        assert int(inside.sum()) == b["count"]
        if b["count"]:
            assert b["confidence"] == pytest.approx(float(conf[inside].mean()))
        else:
            assert math.isnan(b["accuracy"])
    ece = sum(b["count"] / 200 * abs(b["accuracy"] - b["confidence"]) for b in bins if b["count"])
    assert calibration_metrics(logits, labels, n_bins=10)["ece"] == pytest.approx(ece)


def _calibration_case(n: int = 60) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(4)
    return 2 * torch.randn(n, 4, generator=gen), torch.randint(0, 4, (n,), generator=gen)


def test_calibration_intervals_estimates_are_the_metrics() -> None:
    logits, labels = _calibration_case()
    m = calibration_metrics(logits, labels, n_bins=10)
    iv = calibration_intervals(logits, labels, n_bins=10, seed=2, n_resamples=300)
    assert iv["accuracy"] == proportion_interval(m["accuracy"], 60)
    conf = torch.softmax(logits.double(), 1).max(1).values
    wrong = logits.argmax(1) != labels
    for k, n in [("ece", 60), ("mean_confidence", 60), ("overconfidence", int(wrong.sum()))]:
        v = iv[k]
        assert v is not None and v.n == n and v.method == "bootstrap"
        assert v.estimate == pytest.approx(m[k], abs=1e-12)
        assert v.low <= v.estimate <= v.high
    under = iv["underconfidence"]
    assert under is not None and under.n == 60 - int(wrong.sum())
    assert under == bootstrap_interval(1 - conf[~wrong], seed=2, n_resamples=300)


def test_ece_interval_resamples_images_with_the_same_bins() -> None:
    # the vectorised ECE of every resample equals calibration_metrics on those images
    logits, labels = _calibration_case(25)
    iv = calibration_intervals(logits, labels, n_bins=5, seed=7, n_resamples=100)
    assert iv["ece"] is not None
    gen = torch.Generator().manual_seed(7)
    idx = torch.randint(25, (100, 25), generator=gen)
    eces = [calibration_metrics(logits[i], labels[i], n_bins=5)["ece"] for i in idx]
    q = torch.tensor([0.025, 0.975], dtype=torch.float64)
    lo, hi = torch.quantile(torch.tensor(eces, dtype=torch.float64), q)
    assert (iv["ece"].low, iv["ece"].high) == pytest.approx((float(lo), float(hi)), abs=1e-12)
    assert iv["ece"].high > iv["ece"].low  # 25 images: a real spread


def test_calibration_intervals_none_with_fewer_than_two_wrong() -> None:
    logits = torch.tensor([[3.0, 0.0], [0.0, 3.0], [3.0, 0.0]])
    iv = calibration_intervals(logits, torch.tensor([0, 1, 1]), n_resamples=100)
    assert iv["overconfidence"] is None and iv["underconfidence"] is not None
    assert iv["accuracy"] == wilson_interval(2, 3)
    with pytest.raises(SpectralValueError, match="at least 2"):
        calibration_intervals(logits[:1], torch.tensor([0]))
