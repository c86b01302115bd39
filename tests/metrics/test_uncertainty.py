"""Intervals: Wilson against scipy's, coverage by simulation, and the pairing of differences."""

from __future__ import annotations

import pytest
import torch
from scipy.stats import binomtest

from spectral.errors import SpectralTypeError, SpectralValueError
from spectral.metrics import (
    bootstrap_interval,
    bootstrap_statistic,
    format_interval,
    paired_difference,
    proportion_interval,
    wilson_interval,
)


@pytest.mark.parametrize("n", [1, 7, 50, 256])
def test_wilson_matches_scipy(n: int) -> None:
    for k in range(n + 1):
        ours = wilson_interval(k, n)
        ref = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert ours.low == pytest.approx(ref.low, abs=1e-12)
        assert ours.high == pytest.approx(ref.high, abs=1e-12)
        assert ours.low <= k / n <= ours.high and ours.n == n


def test_wilson_coverage_near_nominal() -> None:
    gen = torch.Generator().manual_seed(0)
    p, n, trials = 0.9, 64, 4000
    ks = (torch.rand(trials, n, generator=gen) < p).sum(1).tolist()
    covered = sum(wilson_interval(k, n).low <= p <= wilson_interval(k, n).high for k in ks)
    assert 0.92 <= covered / trials <= 0.98


def test_wider_level_gives_wider_interval() -> None:
    a, b = wilson_interval(30, 100, confidence=0.9), wilson_interval(30, 100, confidence=0.99)
    assert b.low < a.low and b.high > a.high


def test_bootstrap_matches_normal_theory_and_is_reproducible() -> None:
    gen = torch.Generator().manual_seed(1)
    v = torch.randn(400, generator=gen, dtype=torch.float64) * 2 + 5
    iv = bootstrap_interval(v, n_resamples=4000, seed=3)
    half = 1.96 * float(v.std()) / 400**0.5
    assert iv.estimate == pytest.approx(float(v.mean()))
    assert (iv.high - iv.low) / 2 == pytest.approx(half, rel=0.1)
    assert iv == bootstrap_interval(v, n_resamples=4000, seed=3)
    assert iv != bootstrap_interval(v, n_resamples=4000, seed=4)


def test_bootstrap_coverage() -> None:
    gen = torch.Generator().manual_seed(2)
    covered = 0
    for i in range(200):
        v = torch.empty(80, dtype=torch.float64).exponential_(1.0, generator=gen)
        iv = bootstrap_interval(v, n_resamples=500, seed=i)
        covered += iv.low <= 1.0 <= iv.high
    assert 0.87 <= covered / 200 <= 0.99


def test_paired_difference_uses_the_pairing() -> None:
    gen = torch.Generator().manual_seed(0)
    b = torch.randn(100, generator=gen, dtype=torch.float64) * 10  # large spread per image
    a = b + 0.05  # the same images, a small consistent gain
    d = paired_difference(a, b)
    assert d.estimate == pytest.approx(0.05) and d.excludes(0.0)
    unpaired = bootstrap_interval(a).low - bootstrap_interval(b).high
    assert unpaired < 0  # the marginal intervals overlap: only pairing sees the gain
    same = paired_difference(b, b.clone())
    assert (same.low, same.high) == (0.0, 0.0) and not same.excludes(0.0)


def test_proportion_interval_and_format() -> None:
    assert proportion_interval(0.0, 9) == wilson_interval(0, 9)
    assert proportion_interval(2 / 3, 3) == wilson_interval(2, 3)
    with pytest.raises(SpectralValueError, match="not a count"):
        proportion_interval(0.123, 10)
    text = format_interval(wilson_interval(1, 4))
    assert text.startswith("25.0% [") and text.endswith("n=4")
    assert wilson_interval(1, 4).to_dict()["ci95"] == [
        wilson_interval(1, 4).low,
        wilson_interval(1, 4).high,
    ]


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: wilson_interval(1, 0), SpectralValueError, "^n:"),
        (lambda: wilson_interval(5, 4), SpectralValueError, "^successes:"),
        (lambda: wilson_interval(1, 4, confidence=1.5), SpectralValueError, "^confidence:"),
        (lambda: wilson_interval(1.0, 4), SpectralTypeError, "^successes:"),
        (lambda: bootstrap_interval([1.0, 2.0]), SpectralTypeError, "^values:"),
        (lambda: bootstrap_interval(torch.tensor([1.0])), SpectralValueError, "^values:"),
        (lambda: paired_difference(torch.ones(3), torch.ones(4)), SpectralValueError, "^a, b:"),
    ],
)
def test_bad_input(call: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        call()  # type: ignore[operator]


def test_bootstrap_statistic_of_the_mean_is_bootstrap_interval() -> None:
    v = torch.rand(30, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    iv = bootstrap_statistic(30, lambda idx: v[idx].mean(1), seed=5, n_resamples=500)
    assert iv == bootstrap_interval(v, seed=5, n_resamples=500)
    assert iv.low <= iv.estimate <= iv.high and iv.n == 30
    assert iv.estimate == pytest.approx(float(v.mean()))


def test_bootstrap_statistic_is_seeded_and_checks_its_input() -> None:
    v = torch.arange(10, dtype=torch.float64)
    med = lambda idx: v[idx].median(1).values  # noqa: E731
    assert bootstrap_statistic(10, med, seed=1) == bootstrap_statistic(10, med, seed=1)
    with pytest.raises(SpectralValueError, match="n"):
        bootstrap_statistic(1, med)
    with pytest.raises(SpectralValueError, match="statistic"):
        bootstrap_statistic(10, lambda idx: v[idx].mean(1) / 0)  # inf
    with pytest.raises(SpectralValueError, match="statistic"):
        bootstrap_statistic(10, lambda idx: v[:2])  # not one value per row
