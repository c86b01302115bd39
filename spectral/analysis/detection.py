"""Fourier-domain adversarial detection (Harder et al. 2021), with an adaptive attack.

The protocol of the paper: only correctly classified images are attacked, only the
successful adversarial examples (and their clean originals) are kept, the detector is
fitted on one split of the images and measured on a disjoint held-out split.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from spectral._internal.batching import resolve_batch_size
from spectral._internal.validate import (
    check_float,
    check_images,
    check_int,
    check_labels,
    check_model,
)
from spectral.analysis.detection_adaptive import detector_aware_pgd
from spectral.defenses.detector import Detector
from spectral.defenses.detector_features import (
    DetectorFeature,
    default_detector_layers,
    detector_features,
    parse_feature,
)
from spectral.errors import SpectralValueError
from spectral.metrics.classification import predict
from spectral.models import is_exported, is_scripted

__all__ = ["DETECTION_COLUMNS", "DetectionAnalysis", "detection_analysis", "detection_scores"]

DETECTION_COLUMNS = ("attack", "feature", "success", "train", "test", "ACC", "AUC", "TPR", "TNR")


def detection_scores(scores: Any, is_adversarial: Any) -> dict[str, float]:
    """ACC, AUC, TPR and TNR of decision values (threshold 0; > 0 means adversarial).

    Args:
        scores: ``(N,)`` decision values.
        is_adversarial: ``(N,)`` truth (1/True = adversarial), both classes present.

    Returns:
        ``{"acc", "auc", "tpr", "tnr"}`` as fractions; TPR = flagged adversarials /
        adversarials, TNR = passed clean images / clean images.

    Raises:
        SpectralValueError: lengths differ or a class is missing.

    Examples:
        >>> detection_scores([-2.0, 1.0, 3.0, -1.0], [0, 0, 1, 1])
        {'acc': 0.5, 'auc': 0.75, 'tpr': 0.5, 'tnr': 0.5}
    """
    from sklearn.metrics import roc_auc_score

    s = np.asarray(torch.as_tensor(scores).detach().cpu(), dtype=np.float64).ravel()
    t = np.asarray(torch.as_tensor(is_adversarial).detach().cpu()).ravel().astype(bool)
    if s.shape != t.shape or t.all() or not t.any():
        raise SpectralValueError(
            "scores: expected one score per image and both clean and adversarial images"
        )
    flagged = s > 0
    return {
        "acc": float((flagged == t).mean()),
        "auc": float(roc_auc_score(t, s)),
        "tpr": float(flagged[t].mean()),
        "tnr": float((~flagged[~t]).mean()),
    }


@dataclass(frozen=True)
class DetectionAnalysis:
    """Result of :func:`detection_analysis`.

    Attributes:
        n_images: images given.
        n_correct: correctly classified ones (the only ones attacked).
        n_train_images: correct images in the training split.
        n_test_images: correct images in the held-out split (disjoint by image).
        train_indices: positions in ``x`` of the training images.
        test_indices: positions in ``x`` of the held-out images.
        attacks: the attacks' names.
        features: the features' names.
        layers: layers read by Layer* features.
        results: per (attack, feature): success rate over the correct images, training
            and test pairs, ACC, AUC, TPR, TNR on the held-out pairs.
        roc: ``{"attack/feature": {"fpr": [...], "tpr": [...]}}`` on the held-out pairs.
        adaptive: per feature, the detector fitted on PGD against
            :func:`detector_aware_pgd` on the held-out images, next to plain PGD:
            success rate, "undetected" rate (misclassified and not flagged, over the
            held-out images), AUC and TPR on the successful ones.
        settings: eps, steps, seed, test fraction and the attacks' options.
        detectors: the fitted detectors by ``(attack, feature)`` (not in ``to_dict``).
    """

    n_images: int
    n_correct: int
    n_train_images: int
    n_test_images: int
    train_indices: tuple[int, ...]
    test_indices: tuple[int, ...]
    attacks: tuple[str, ...]
    features: tuple[str, ...]
    layers: tuple[str, ...]
    results: tuple[dict[str, Any], ...]
    roc: dict[str, dict[str, list[float]]]
    adaptive: tuple[dict[str, Any], ...]
    settings: dict[str, Any]
    detectors: dict[tuple[str, str], Detector] = field(default_factory=dict, repr=False)

    def rows(self) -> list[list[Any]]:
        """Table rows in :data:`DETECTION_COLUMNS` order (rates as fractions)."""
        return [
            [r["attack"], r["feature"], r["success_rate"], r["n_train"], r["n_test"]]
            + [r[k] for k in ("acc", "auc", "tpr", "tnr")]
            for r in self.results
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary (the detectors' parameters are left out)."""
        return {
            "n_images": self.n_images,
            "n_correct": self.n_correct,
            "n_train_images": self.n_train_images,
            "n_test_images": self.n_test_images,
            "train_indices": list(self.train_indices),
            "test_indices": list(self.test_indices),
            "attacks": list(self.attacks),
            "features": list(self.features),
            "layers": list(self.layers),
            "results": [dict(r) for r in self.results],
            "roc": self.roc,
            "adaptive": [dict(r) for r in self.adaptive],
            "settings": dict(self.settings),
        }


def _attack_options(name: str, eps: float, steps: int) -> dict[str, Any]:
    if name in ("cw", "deepfool"):
        return {"steps": 50}  # minimum-norm attacks: eps unused
    if name == "fgsm":
        return {"eps": eps}
    return {"eps": eps, "steps": steps}


def _split(n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint sorted train/test positions of ``n`` images (at least 2 train, 1 test)."""
    n_test = max(1, round(test_fraction * n))
    if n - n_test < 2:
        raise SpectralValueError(
            f"x: {n} correctly classified image(s) are too few to split; need at least 3"
        )
    perm = np.random.default_rng([seed, 14]).permutation(n)
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def _roc(scores: torch.Tensor, truth: np.ndarray) -> dict[str, list[float]]:
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(truth, scores.cpu().numpy())
    return {"fpr": [float(v) for v in fpr], "tpr": [float(v) for v in tpr]}


def detection_analysis(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    attacks: Sequence[str] = ("fgsm", "pgd", "cw", "deepfool"),
    features: Sequence[DetectorFeature | str] = ("InputMFS", "LayerMFS"),
    layers: Sequence[str] | None = None,
    eps: float = 8 / 255,
    steps: int = 10,
    attack_options: Mapping[str, Mapping[str, Any]] | None = None,
    test_fraction: float = 0.3,
    adaptive: bool = True,
    adaptive_steps: int = 20,
    adaptive_weight: float = 1.0,
    c: float = 1.0,
    seed: int = 0,
    batch_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DetectionAnalysis:
    """Fit and measure Harder et al.'s Fourier detectors, per attack and feature.

    1. The model classifies ``x``; only the correctly classified images go on.
    2. They are split by image into a training and a held-out part (``test_fraction``).
    3. Each attack runs on them; only successful adversarial examples are kept, each
       with its clean original (so both classes have the same images).
    4. Per feature, a :class:`~spectral.defenses.Detector` (standard scaler + logistic
       regression) is fitted on the training pairs and scored on the held-out pairs:
       ACC, AUC, TPR (adversarials flagged), TNR (clean images passed), threshold 0.
    5. With ``adaptive`` and ``"pgd"`` among the attacks, each PGD detector faces
       :func:`detector_aware_pgd` (same eps) on the held-out images (Layer* detectors
       only on eager models: the gradient goes through forward hooks).

    Args:
        model: classifier on images in ``[0, 1]`` (left as found).
        x: images ``(N, C, H, W)`` in ``[0, 1]``.
        y: labels ``(N,)``.
        attacks: :func:`spectral.make_attack` names.
        features: :class:`~spectral.defenses.DetectorFeature` names.
        layers: layers for Layer* features; None: the last ``Conv2d``.
        eps: L-inf budget of the eps attacks (fgsm, pgd, ... and the adaptive one).
        steps: iterations of the iterative eps attacks (cw and deepfool take 50).
        attack_options: per attack name, keyword options for ``make_attack`` that
            replace the defaults above.
        test_fraction: held-out share of the correct images, in (0, 1) (paper: 0.2).
        adaptive: run the adaptive attack.
        adaptive_steps: its iterations.
        adaptive_weight: its weight of the detector's score.
        c: logistic-regression inverse regularisation.
        seed: split, attacks' random starts.
        batch_size: images per attack / forward pass (default: from memory).
        progress: called as ``progress(done, total)`` after each attack.

    Returns:
        A :class:`DetectionAnalysis`. A pair of (attack, feature) with no successful
        example in one of the splits has NaN scores.

    Raises:
        SpectralValueError: bad images or labels, unknown attack or feature, fewer than
            3 correctly classified images, bad fractions or counts.
        SpectralTypeError: not a model.

    Shape:
        - x: :math:`(N, C, H, W)`; y: :math:`(N,)`

    Examples:
        >>> from spectral.models import SmallCNN
        >>> _ = torch.manual_seed(0)
        >>> net = SmallCNN(width=4, num_classes=2).eval()
        >>> x = torch.rand(12, 3, 8, 8); y = net(x).argmax(1)  # all correct
        >>> res = detection_analysis(net, x, y, attacks=["fgsm"], features=["InputMFS"])
        >>> res.n_correct, res.n_train_images, res.n_test_images
        (12, 8, 4)
    """
    from spectral.attacks import make_attack, parse_attack_name, run_attack

    check_model(model)
    check_images(x, "x", unit_range=True)
    check_labels(y, x, "y")
    names = [
        parse_attack_name(a).value for a in ([attacks] if isinstance(attacks, str) else attacks)
    ]
    feats = [parse_feature(f, "features") for f in features]
    if not names or not feats:
        raise SpectralValueError("attacks, features: expected at least one of each")
    test_fraction = check_float(test_fraction, "test_fraction")
    if not test_fraction < 1:
        raise SpectralValueError(f"test_fraction: expected a number in (0, 1), got {test_fraction}")
    seed = check_int(seed, "seed", 0)
    steps = check_int(steps, "steps", 1)
    adaptive_steps = check_int(adaptive_steps, "adaptive_steps", 1)
    needs_layers = any(f.uses_layers for f in feats)
    names_l = (
        tuple(default_detector_layers(model) if layers is None else layers) if needs_layers else ()
    )
    bs = resolve_batch_size(batch_size, model, x, backward=True)

    correct = (predict(model, x, batch_size=bs) == y).nonzero().flatten()
    xc, yc = x[correct], y[correct]
    train, test = _split(len(correct), test_fraction, seed)
    is_test = np.zeros(len(correct), dtype=bool)
    is_test[test] = True
    shape = (int(x.shape[1]), int(x.shape[2]), int(x.shape[3]))
    kw: dict[str, Any] = {"model": model, "layers": names_l, "batch_size": bs}

    clean_f = {f: detector_features(xc, f, **kw) for f in feats}
    results: list[dict[str, Any]] = []
    roc: dict[str, dict[str, list[float]]] = {}
    detectors: dict[tuple[str, str], Detector] = {}
    pgd_success: np.ndarray | None = None
    pgd_adv: torch.Tensor | None = None
    total = len(names) + (len(feats) if adaptive and "pgd" in names else 0)
    options: dict[str, dict[str, Any]] = {}
    for i, name in enumerate(names):
        opts = dict(_attack_options(name, eps, steps))
        opts.update((attack_options or {}).get(name, {}))
        options[name] = opts
        atk = make_attack(name, model, seed=seed, **opts)
        adv = run_attack(atk, model, xc, yc, batch_size=bs)
        ok = (predict(model, adv, batch_size=bs) != yc).cpu().numpy()
        if name == "pgd":
            pgd_success, pgd_adv = ok, adv
        tr, te = np.flatnonzero(ok & ~is_test), np.flatnonzero(ok & is_test)
        for f in feats:
            row: dict[str, Any] = {
                "attack": name,
                "feature": f.value,
                "success_rate": float(ok.mean()),
                "n_train": len(tr),
                "n_test": len(te),
            }
            if len(tr) and len(te):
                tr_t, te_t = torch.as_tensor(tr), torch.as_tensor(te)
                a_tr = detector_features(adv[tr_t.to(adv.device)], f, **kw)
                a_te = detector_features(adv[te_t.to(adv.device)], f, **kw)
                feats_tr = torch.cat([clean_f[f][tr_t.to(a_tr.device)], a_tr])
                truth = np.r_[np.zeros(len(tr)), np.ones(len(tr))]
                det = Detector.fit_features(
                    feats_tr, truth, f, image_shape=shape, layers=names_l, model=model, c=c
                )
                detectors[(name, f.value)] = det
                scores = det.score_features(torch.cat([clean_f[f][te_t.to(a_te.device)], a_te]))
                truth_te = np.r_[np.zeros(len(te)), np.ones(len(te))]
                row.update(detection_scores(scores, truth_te))
                roc[f"{name}/{f.value}"] = _roc(scores, truth_te)
            else:
                row.update(dict.fromkeys(("acc", "auc", "tpr", "tnr"), math.nan))
            results.append(row)
        if progress is not None:
            progress(i + 1, total)

    adaptive_rows: list[dict[str, Any]] = []
    hookable = not is_exported(model) and not is_scripted(model)  # gradients through hooks
    if adaptive and pgd_success is not None and pgd_adv is not None:
        test_t = torch.as_tensor(test).to(x.device)
        for k, f in enumerate(feats):
            det_or_none = detectors.get(("pgd", f.value))
            if det_or_none is not None and not (f.uses_layers and not hookable):
                adaptive_rows.append(
                    _adaptive_row(
                        model,
                        det_or_none,
                        xc[test_t],
                        yc[test_t],
                        pgd_adv[test_t],
                        pgd_success[test],
                        eps,
                        adaptive_steps,
                        adaptive_weight,
                        seed,
                        bs,
                    )
                )
            if progress is not None:
                progress(len(names) + k + 1, total)
    return DetectionAnalysis(
        n_images=int(x.shape[0]),
        n_correct=len(correct),
        n_train_images=len(train),
        n_test_images=len(test),
        train_indices=tuple(int(i) for i in correct[train].tolist()),
        test_indices=tuple(int(i) for i in correct[test].tolist()),
        attacks=tuple(names),
        features=tuple(f.value for f in feats),
        layers=names_l,
        results=tuple(results),
        roc=roc,
        adaptive=tuple(adaptive_rows),
        settings={
            "eps": eps,
            "steps": steps,
            "seed": seed,
            "test_fraction": test_fraction,
            "c": c,
            "attack_options": options,
            "adaptive_steps": adaptive_steps,
            "adaptive_weight": adaptive_weight,
        },
        detectors=detectors,
    )


def _adaptive_row(
    model: nn.Module,
    det: Detector,
    x: torch.Tensor,
    y: torch.Tensor,
    pgd_adv: torch.Tensor,
    pgd_ok: np.ndarray,
    eps: float,
    steps: int,
    weight: float,
    seed: int,
    bs: int,
) -> dict[str, Any]:
    """Plain PGD vs the detector-aware PGD on the held-out images, against one detector."""
    adv = detector_aware_pgd(
        model, det, x, y, eps=eps, steps=steps, weight=weight, seed=seed, batch_size=bs
    )
    ok = (predict(model, adv, batch_size=bs) != y).cpu().numpy()
    clean_s = det.decision_function(x, batch_size=bs).cpu()
    row: dict[str, Any] = {"feature": det.feature.value, "n_images": len(x)}
    for tag, a, succ in (("pgd", pgd_adv, pgd_ok), ("adaptive", adv, ok)):
        s = det.decision_function(a, batch_size=bs).cpu()
        flagged = (s > 0).numpy()
        row[f"{tag}_success_rate"] = float(succ.mean())
        row[f"{tag}_undetected_rate"] = float((succ & ~flagged).mean())
        if succ.any():
            m = torch.from_numpy(succ)
            n_ok = int(succ.sum())
            sc = detection_scores(
                torch.cat([clean_s[m], s[m]]), np.r_[np.zeros(n_ok), np.ones(n_ok)]
            )
            row[f"{tag}_auc"], row[f"{tag}_tpr"] = sc["auc"], sc["tpr"]
        else:
            row[f"{tag}_auc"] = row[f"{tag}_tpr"] = math.nan
    return row
