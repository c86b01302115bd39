"""The seeds' claims, checked on a report's numbers (ours | paper | agrees?)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from spectral.errors import SpectralValueError

__all__ = ["PaperClaim", "PaperComparison", "paper_comparison"]


@dataclass(frozen=True)
class PaperClaim:
    """One claim of a source paper and what we measured for it.

    Attributes:
        topic: short name of the phenomenon (``"perturbation spectra"``, ...).
        source: the paper.
        paper: the paper's claim (and its numbers where it gives them).
        ours: our measurement, as text with the numbers.
        agrees: True/False; None when the report lacks the numbers or they cannot
            decide (e.g. neither model has a sparse filter).
        values: the numbers compared, ``{label: value}``.
    """

    topic: str
    source: str
    paper: str
    ours: str
    agrees: bool | None
    values: dict[str, float]


@dataclass(frozen=True)
class PaperComparison:
    """All claims for one standard / robust model pair.

    Attributes:
        standard: the standard model's name in the report.
        robust: the adversarially trained model's name.
        claims: one :class:`PaperClaim` per checked claim.
    """

    standard: str
    robust: str
    claims: tuple[PaperClaim, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "standard": self.standard,
            "robust": self.robust,
            "claims": [asdict(c) for c in self.claims],
        }

    def rows(self) -> list[list[str]]:
        """``[topic, paper, ours, agrees]`` rows for a table (yes / no / undecided / n/a)."""
        word = {True: "yes", False: "no"}

        def verdict(c: PaperClaim) -> str:
            if c.agrees is None:
                return "undecided" if c.values else "n/a (not measured)"
            return word[c.agrees]

        return [[c.topic, c.paper, c.ours, verdict(c)] for c in self.claims]


YIN = "Yin et al. 2019 (A Fourier perspective on model robustness)"


BLURNET = "BlurNet slides (Raju 2019)"


GAVRIKOV = "Gavrikov & Keuper 2022 (robustness through the lens of convolutional filters)"


GRABINSKI = "Grabinski et al. 2022 (robust models are less over-confident)"


GRADIENTS = "Boychev 2023; Tsipras et al. 2019; the 2020 human-recognizability paper"


def _get(d: Mapping[str, Any] | None, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, Mapping) or k not in d:
            return None
        d = d[k]
    return d


def _mean(values: list[float]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def _claim(
    topic: str,
    source: str,
    paper: str,
    values: dict[str, float | None],
    ours: str,
    test: Any,
) -> PaperClaim:
    if any(v is None for v in values.values()):
        return PaperClaim(topic, source, paper, "not measured in this report", None, {})
    vals = {k: float(v) for k, v in values.items() if v is not None}
    verdict = test(vals)
    return PaperClaim(
        topic, source, paper, ours.format(**vals), None if verdict is None else bool(verdict), vals
    )


def paper_comparison(
    report: Mapping[str, Any], *, standard: str | None = None, robust: str | None = None
) -> PaperComparison:
    """Check the seeds' claims against a report's measurements (standard vs robust model).

    Args:
        report: ``report.json`` of ``spectral report`` as a dict (with two models).
        standard: the standard model's name (default: the report's first model).
        robust: the adversarially trained model's name (default: the second model).

    Returns:
        A :class:`PaperComparison`; see :meth:`PaperComparison.rows`.

    Raises:
        SpectralValueError: the report does not hold two models, or a name is not in it.

    Examples:
        >>> r = {"models": {"s": {"band_energy": {"perturbation": [0.2, 0.3, 0.5],
        ...                                         "clean": [0.8, 0.15, 0.05]}},
        ...                 "a": {"band_energy": {"perturbation": [0.4, 0.3, 0.3],
        ...                                         "clean": [0.8, 0.15, 0.05]}}}}
        >>> c = paper_comparison(r).claims[0]
        >>> c.topic, c.agrees
        ('perturbation spectra', True)
    """
    models = report.get("models")
    if not isinstance(models, Mapping) or len(models) < 2:
        raise SpectralValueError(
            "report: expected two models (a standard and a robust one, e.g. --compare-model), "
            f"got {list(models) if isinstance(models, Mapping) else models!r}"
        )
    names = list(models)
    std = standard or names[0]
    adv = robust or names[1]
    for n in (std, adv):
        if n not in models:
            raise SpectralValueError(f"model: {n!r} is not in the report (it has {names})")
    claims: list[PaperClaim] = []

    # perturbation spectra ------------------------------------------------------------------
    def pert(name: str, i: int) -> Any:
        return (_get(models, name, "band_energy", "perturbation") or [None] * 3)[i]

    clean_high = (_get(models, std, "band_energy", "clean") or [None] * 3)[2]
    claims.append(
        _claim(
            "perturbation spectra",
            f"{YIN}; {BLURNET}",
            "A standard model's adversarial perturbations carry more high-frequency energy "
            "than an adversarially trained model's, whose perturbations shift to lower "
            "frequencies (Yin et al.; no numbers given). BlurNet: perturbations add "
            "high-frequency content not found in natural images (qualitative).",
            {"std": pert(std, 2), "adv": pert(adv, 2), "clean": clean_high},
            "high-band share of perturbation energy: standard {std:.3f}, robust {adv:.3f} "
            "(clean images {clean:.3f})",
            lambda v: v["std"] > v["adv"] and v["std"] > v["clean"],
        )
    )

    # Fourier heat map ------------------------------------------------------------------------
    heat = _get(report, "heatmap", "models")

    def excess(name: str, band: str) -> float | None:
        err = _get(heat, name, "band_error", band)
        clean = _get(heat, name, "clean_error")
        return None if err is None or clean is None else err - clean

    claims.append(
        _claim(
            "Fourier heat map: high frequencies",
            YIN,
            "The standard model is sensitive to high-frequency Fourier perturbations; "
            "adversarial training makes the model insensitive there (CIFAR-10, L2 = 4).",
            {"std": excess(std, "high"), "adv": excess(adv, "high")},
            "high-band error above clean error: standard {std:+.3f}, robust {adv:+.3f}",
            lambda v: v["std"] > v["adv"],
        )
    )
    claims.append(
        _claim(
            "Fourier heat map: low frequencies",
            YIN,
            "Adversarial training shifts the sensitivity to low frequencies: the robust "
            "model errs more under low- than under high-frequency perturbations.",
            {"low": excess(adv, "low"), "high": excess(adv, "high")},
            "robust model, error above clean: low band {low:+.3f}, high band {high:+.3f}",
            lambda v: v["low"] > v["high"],
        )
    )

    # filters -----------------------------------------------------------------------------
    filt = _get(report, "filters")

    def layer_mean(name: str, key: str) -> float | None:
        rows = _get(filt, name)
        if not rows:
            return None
        return _mean([r.get(key) for r in rows])

    claims.append(
        _claim(
            "filters: sparsity",
            GAVRIKOV,
            "Robust models form fewer sparse 3x3 filters than normal ones (71 RobustBench "
            "models against the same architectures trained normally).",
            {"std": layer_mean(std, "sparsity"), "adv": layer_mean(adv, "sparsity")},
            "share of sparse filters (mean over 3x3 layers): standard {std:.3f}, robust {adv:.3f}",
            lambda v: None if v["adv"] == v["std"] else v["adv"] < v["std"],
        )
    )
    claims.append(
        _claim(
            "filters: orthogonality",
            GAVRIKOV,
            "Robust models form more orthogonal 3x3 filters.",
            {"std": layer_mean(std, "orthogonality"), "adv": layer_mean(adv, "orthogonality")},
            "orthogonality (mean over 3x3 layers): standard {std:.3f}, robust {adv:.3f}",
            lambda v: v["adv"] > v["std"],
        )
    )
    claims.append(
        _claim(
            "filters: diversity",
            GAVRIKOV,
            "Robust models form more diverse 3x3 filters (higher variance entropy).",
            {
                "std": layer_mean(std, "variance_entropy_normalized"),
                "adv": layer_mean(adv, "variance_entropy_normalized"),
            },
            "normalised variance entropy (mean over 3x3 layers): standard {std:.3f}, "
            "robust {adv:.3f}",
            lambda v: v["adv"] > v["std"],
        )
    )

    # over-confidence -----------------------------------------------------------------------
    cal = _get(report, "calibration", "models")
    for data in ("clean", "adversarial"):
        claims.append(
            _claim(
                f"over-confidence ({data} data)",
                GRABINSKI,
                "Adversarially trained models are less over-confident (lower mean "
                "confidence on their wrong predictions), on clean and on attacked data.",
                {
                    "std": _get(cal, std, data, "overconfidence"),
                    "adv": _get(cal, adv, data, "overconfidence"),
                },
                "mean confidence when wrong: standard {std:.3f}, robust {adv:.3f}",
                lambda v: v["adv"] < v["std"],
            )
        )

    # gradients -----------------------------------------------------------------------------
    grads = _get(report, "gradients", "models")
    claims.append(
        _claim(
            "input gradients: frequency",
            GRADIENTS,
            "A robust model's input gradients are smoother and lower-frequency.",
            {
                "std": _get(grads, std, "summary", "gradient", "mean_frequency"),
                "adv": _get(grads, adv, "summary", "gradient", "mean_frequency"),
            },
            "mean frequency of the gradient (cycles/px): standard {std:.3f}, robust {adv:.3f}",
            lambda v: v["adv"] < v["std"],
        )
    )
    claims.append(
        _claim(
            "input gradients: image-likeness",
            GRADIENTS,
            "A robust model's input gradients look more like the image (perceptually "
            "aligned; no metric given).",
            {
                "std": _get(grads, std, "summary", "gradient", "edge_correlation"),
                "adv": _get(grads, adv, "summary", "gradient", "edge_correlation"),
            },
            "correlation of |gradient| with the image's edges: standard {std:.3f}, "
            "robust {adv:.3f}",
            lambda v: v["adv"] > v["std"],
        )
    )

    # BlurNet Table 1 (black box) -------------------------------------------------------------
    rows = {r.get("defense"): r for r in (_get(report, "blur", "blackbox") or [])}
    claims.append(
        _claim(
            "BlurNet T1: blur vs transfer attacks",
            BLURNET,
            "A 5x5 blur on the layer-1 feature maps lowers the black-box (transfer) attack "
            "success rate: 90% -> 17.5% (accuracy 100% -> 87.5%).",
            {
                "base": _get(rows, "baseline", "attack_success_rate"),
                "blur": _get(rows, "5x5 on L1 feature maps", "attack_success_rate"),
            },
            "transfer success rate: no blur {base:.3f}, 5x5 on L1 feature maps {blur:.3f}",
            lambda v: v["blur"] < v["base"],
        )
    )
    return PaperComparison(std, adv, tuple(claims))
