"""Uncertainty of measured numbers: Wilson intervals, bootstrap intervals, paired differences.

A proportion measured on ``n`` images (an accuracy, a success rate, an error rate) gets
a Wilson score interval; a mean of per-image values gets a percentile bootstrap interval
over images; a difference between two models measured on the same images gets a paired
bootstrap interval, and :meth:`Interval.excludes` says whether it excludes 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import torch

from spectral._internal.validate import check_float, check_int
from spectral.errors import SpectralTypeError, SpectralValueError

__all__ = [
    "Interval",
    "bootstrap_interval",
    "bootstrap_statistic",
    "format_interval",
    "paired_difference",
    "proportion_interval",
    "wilson_interval",
]


@dataclass(frozen=True)
class Interval:
    """An estimate with a two-sided confidence interval.

    Attributes:
        estimate: the measured value.
        low: lower end of the interval.
        high: upper end of the interval.
        n: the number of images it was measured on.
        method: ``"wilson"``, ``"bootstrap"`` or ``"paired-bootstrap"``.
        confidence: the interval's confidence level (0.95 for a 95 % interval).
    """

    estimate: float
    low: float
    high: float
    n: int
    method: str
    confidence: float = 0.95

    def excludes(self, value: float = 0.0) -> bool:
        """Whether ``value`` lies outside the interval (for a difference: is it not 0?)."""
        return not (self.low <= value <= self.high)

    def to_dict(self) -> dict[str, Any]:
        """``{"estimate", "ci95" (or ci<level>): [low, high], "n", "method"}``."""
        key = f"ci{round(self.confidence * 100):d}"
        return {
            "estimate": self.estimate,
            key: [self.low, self.high],
            "n": self.n,
            "method": self.method,
        }


def _z(confidence: float) -> float:
    c = check_float(confidence, "confidence")
    if not 0.0 < c < 1.0:
        raise SpectralValueError(f"confidence: expected a level in (0, 1), got {confidence!r}")
    return NormalDist().inv_cdf(0.5 + c / 2)


def wilson_interval(successes: int, n: int, *, confidence: float = 0.95) -> Interval:
    """Wilson score interval of a proportion ``successes / n``.

    Unlike the normal approximation it stays inside [0, 1] and keeps its coverage near
    0 and 1 and for small ``n`` (Wilson 1927; Brown, Cai & DasGupta 2001):
    ``(p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)``.

    Args:
        successes: the count, ``0 <= successes <= n``.
        n: the number of trials (images), ``>= 1``.
        confidence: the confidence level.

    Returns:
        An :class:`Interval` with ``method="wilson"``.

    Raises:
        SpectralTypeError: counts that are not ints.
        SpectralValueError: ``n < 1``, a count outside ``[0, n]``, a level outside (0, 1).

    Examples:
        >>> iv = wilson_interval(8, 10)
        >>> round(iv.estimate, 3), round(iv.low, 3), round(iv.high, 3)
        (0.8, 0.49, 0.943)
        >>> wilson_interval(0, 5).low, wilson_interval(5, 5).high
        (0.0, 1.0)
    """
    n_i = check_int(n, "n", 1)
    k = check_int(successes, "successes", 0)
    if k > n_i:
        raise SpectralValueError(f"successes: expected <= n = {n_i}, got {k}")
    z = _z(confidence)
    p = k / n_i
    denom = 1 + z * z / n_i
    center = (p + z * z / (2 * n_i)) / denom
    half = z * math.sqrt(p * (1 - p) / n_i + z * z / (4 * n_i * n_i)) / denom
    low = 0.0 if k == 0 else max(0.0, center - half)
    high = 1.0 if k == n_i else min(1.0, center + half)
    return Interval(p, low, high, n_i, "wilson", confidence)


def proportion_interval(p: float, n: int, *, confidence: float = 0.95) -> Interval:
    """Wilson interval of a proportion given as a fraction of ``n`` (e.g. an accuracy).

    Args:
        p: the fraction, which must be ``k / n`` for a whole ``k``.
        n: the number of images it was measured on.
        confidence: the confidence level.

    Returns:
        :func:`wilson_interval` of ``round(p * n)`` out of ``n``.

    Raises:
        SpectralValueError: ``p`` is not a multiple of ``1 / n`` (a mean, not a count).

    Examples:
        >>> proportion_interval(0.75, 4) == wilson_interval(3, 4)
        True
    """
    n_i = check_int(n, "n", 1)
    pf = check_float(p, "p", minimum=0.0, strict=False)
    k = round(pf * n_i)
    if abs(k - pf * n_i) > 1e-6 * max(1, n_i):
        raise SpectralValueError(f"p: {p!r} is not a count out of n = {n_i}")
    return wilson_interval(k, n_i, confidence=confidence)


def _values(values: Any, name: str) -> torch.Tensor:
    if not isinstance(values, torch.Tensor):
        raise SpectralTypeError(f"{name}: expected a torch.Tensor, got {type(values).__name__}")
    v = values.detach().to("cpu", torch.float64).flatten()
    if v.numel() < 2:
        raise SpectralValueError(f"{name}: expected at least 2 values, got {v.numel()}")
    if not torch.isfinite(v).all():
        raise SpectralValueError(f"{name}: holds NaN or Inf")
    return v


def bootstrap_interval(
    values: torch.Tensor,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
    method: str = "bootstrap",
) -> Interval:
    """Percentile bootstrap interval of the mean of per-image ``values``.

    Resamples the images with replacement ``n_resamples`` times (seeded, so the interval
    is reproducible) and takes the ``(1 - confidence) / 2`` quantiles of the resampled
    means.

    Args:
        values: one value per image, any shape (flattened).
        confidence: the confidence level.
        n_resamples: bootstrap resamples (>= 100).
        seed: seed of the resampling.
        method: the name recorded in the result.

    Returns:
        An :class:`Interval` around ``values.mean()``.

    Raises:
        SpectralTypeError: ``values`` is not a tensor.
        SpectralValueError: fewer than 2 values, NaN/Inf, ``n_resamples < 100``.

    Shape:
        - values: :math:`(n,)` (or anything with ``n`` elements)

    Examples:
        >>> iv = bootstrap_interval(torch.tensor([1.0, 2.0, 3.0, 4.0]))
        >>> iv.estimate, 1.0 <= iv.low < 2.5 < iv.high <= 4.0
        (2.5, True)
    """
    v = _values(values, "values")
    return bootstrap_statistic(
        v.numel(),
        lambda idx: v[idx].mean(1),
        confidence=confidence,
        n_resamples=n_resamples,
        seed=seed,
        method=method,
    )


def bootstrap_statistic(
    n: int,
    statistic: Callable[[torch.Tensor], torch.Tensor],
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
    method: str = "bootstrap",
) -> Interval:
    """Percentile bootstrap interval of any statistic of ``n`` images (e.g. the ECE).

    ``statistic`` gets a batch of image indices ``(R, n)`` (one resample per row; the
    first call gets the single row ``0, ..., n - 1``, the images as measured) and returns
    the statistic of each row, ``(R,)``; computing it on all rows at once keeps 1,000
    images x 2,000 resamples fast. The images are resampled with replacement (seeded, so
    the interval is reproducible) and the ``(1 - confidence) / 2`` quantiles of the
    resampled statistics are the interval.

    Args:
        n: the number of images, ``>= 2``.
        statistic: indices ``(R, n)`` -> statistic per row ``(R,)``.
        confidence: the confidence level.
        n_resamples: bootstrap resamples (>= 100).
        seed: seed of the resampling.
        method: the name recorded in the result.

    Returns:
        An :class:`Interval` around the statistic of the images as measured.

    Raises:
        SpectralValueError: ``n < 2``, ``n_resamples < 100``, a level outside (0, 1), or
            a statistic that is not finite or not one value per row.

    Examples:
        >>> v = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
        >>> iv = bootstrap_statistic(4, lambda idx: v[idx].mean(1))
        >>> iv == bootstrap_interval(v)
        True
    """
    n_i = check_int(n, "n", 2)
    _z(confidence)  # validates the level; the percentile method needs no z
    reps = check_int(n_resamples, "n_resamples", 100)
    gen = torch.Generator().manual_seed(check_int(seed, "seed", 0))

    def run(idx: torch.Tensor) -> torch.Tensor:
        out = torch.as_tensor(statistic(idx)).detach().to("cpu", torch.float64).flatten()
        if out.numel() != idx.shape[0] or not bool(torch.isfinite(out).all()):
            raise SpectralValueError(
                f"statistic: expected {idx.shape[0]} finite values, got {out.tolist()[:4]}..."
            )
        return out

    estimate = float(run(torch.arange(n_i).unsqueeze(0))[0])
    stats = torch.empty(reps, dtype=torch.float64)
    chunk = max(1, 2_000_000 // n_i)
    for start in range(0, reps, chunk):
        stop = min(reps, start + chunk)
        stats[start:stop] = run(torch.randint(n_i, (stop - start, n_i), generator=gen))
    q = torch.tensor([(1 - confidence) / 2, (1 + confidence) / 2], dtype=torch.float64)
    low, high = torch.quantile(stats, q).tolist()
    return Interval(estimate, low, high, n_i, method, confidence)


def paired_difference(
    a: torch.Tensor,
    b: torch.Tensor,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Interval:
    """Bootstrap interval of ``mean(a) - mean(b)`` for values paired by image.

    For two models measured on the same images (e.g. per-image correctness 0/1), the
    images are resampled together, which keeps the pairing; the difference is
    significant at the given level when the interval :meth:`~Interval.excludes` 0.

    Args:
        a: per-image values of the first model.
        b: per-image values of the second model, same number of images.
        confidence: the confidence level.
        n_resamples: bootstrap resamples (>= 100).
        seed: seed of the resampling.

    Returns:
        An :class:`Interval` with ``method="paired-bootstrap"``.

    Raises:
        SpectralTypeError: not tensors.
        SpectralValueError: different numbers of values, fewer than 2, NaN/Inf.

    Shape:
        - a: :math:`(n,)`
        - b: :math:`(n,)`

    Examples:
        >>> a = torch.ones(50); b = torch.zeros(50)
        >>> d = paired_difference(a, b)
        >>> d.estimate, d.excludes(0.0)
        (1.0, True)
    """
    va, vb = _values(a, "a"), _values(b, "b")
    if va.numel() != vb.numel():
        raise SpectralValueError(
            f"a, b: expected the same images, got {va.numel()} and {vb.numel()} values"
        )
    return bootstrap_interval(
        va - vb,
        confidence=confidence,
        n_resamples=n_resamples,
        seed=seed,
        method="paired-bootstrap",
    )


def format_interval(iv: Interval, *, percent: bool = True, digits: int = 1) -> str:
    """``"87.4% [84.1, 90.0], n=256"`` (or without percent: ``"0.123 [0.101, 0.145], n=64"``).

    Args:
        iv: the interval.
        percent: show fractions as percentages.
        digits: decimals (of the percentage, or of the value plus two when not percent).

    Returns:
        The text.

    Examples:
        >>> format_interval(wilson_interval(8, 10))
        '80.0% [49.0, 94.3], n=10'
    """
    if percent:
        e, lo, hi = (100 * iv.estimate, 100 * iv.low, 100 * iv.high)
        return f"{e:.{digits}f}% [{lo:.{digits}f}, {hi:.{digits}f}], n={iv.n}"
    d = digits + 2
    return f"{iv.estimate:.{d}f} [{iv.low:.{d}f}, {iv.high:.{d}f}], n={iv.n}"
