"""The Fourier-domain adversarial detector of Harder et al. (2021, SpectralDefense).

Per image, the magnitude or phase of the 2-D DFT of the input or of chosen layers'
feature maps (:mod:`spectral.defenses.detector_features`), then a standard scaler and a
logistic regression (fitted with scikit-learn, evaluated in torch so that an adaptive
attacker can differentiate through it). Saved as JSON, never pickled.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from spectral._internal.validate import (
    check_float,
    check_images,
    check_int,
    check_model,
)
from spectral.defenses.detector_features import (
    DetectorFeature,
    default_detector_layers,
    detector_features,
    parse_feature,
)
from spectral.errors import SpectralValueError

__all__ = ["Detector"]

FORMAT = "spectral-fourier-detector"
VERSION = 1


def _array(d: dict[str, Any], key: str, n: int | None) -> np.ndarray:
    try:
        a = np.asarray(d[key], dtype=np.float64)
    except (KeyError, TypeError, ValueError):
        raise SpectralValueError(f"detector file: {key!r} missing or not numbers") from None
    if a.ndim != 1 or (n is not None and a.shape[0] != n) or not np.isfinite(a).all():
        raise SpectralValueError(f"detector file: {key!r} expected {n} finite numbers")
    return a


@dataclass(frozen=True, eq=False)
class Detector:
    """A fitted Fourier detector: features, standard scaler, logistic regression.

    The decision value is ``((f(x) - mean) / scale) . coef + intercept`` (the log-odds of
    "adversarial"); positive means adversarial. It equals scikit-learn's
    ``LogisticRegression.decision_function`` after ``StandardScaler.transform`` and is
    computed in float64 torch, so gradients flow through it.

    Attributes:
        feature: which features (:class:`DetectorFeature`).
        layers: layer names read by Layer* features (empty for Input* features).
        image_shape: ``(C, H, W)`` of the images it was fitted on.
        mean: per-feature mean of the training features (``(D,)``).
        scale: per-feature standard deviation (1 where it is 0).
        coef: logistic-regression weights (``(D,)``).
        intercept: logistic-regression bias.
        n_train: training vectors (clean + adversarial).
        model: the classifier whose layers Layer* features read (not saved).
    """

    feature: DetectorFeature
    layers: tuple[str, ...]
    image_shape: tuple[int, int, int]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    n_train: int = 0
    model: nn.Module | None = field(default=None, repr=False)

    @classmethod
    def fit(
        cls,
        clean: torch.Tensor,
        adversarial: torch.Tensor,
        feature: DetectorFeature | str,
        *,
        model: nn.Module | None = None,
        layers: Sequence[str] | None = None,
        c: float = 1.0,
        max_iter: int = 1000,
        batch_size: int | None = None,
    ) -> Detector:
        """Fit on clean (label 0) and adversarial (label 1) images.

        Args:
            clean: clean images ``(N, C, H, W)`` in ``[0, 1]``.
            adversarial: adversarial images ``(M, C, H, W)``.
            feature: a :class:`DetectorFeature` or its name.
            model: the classifier (required for Layer* features).
            layers: for Layer* features; None means :func:`default_detector_layers`.
            c: inverse L2 regularisation strength of the logistic regression (> 0).
            max_iter: L-BFGS iterations (>= 1).
            batch_size: images per forward pass for the features.

        Returns:
            The fitted :class:`Detector`.

        Raises:
            SpectralValueError: bad images, shapes that differ, a class with no image,
                bad ``c`` / ``max_iter``, or a bad feature or layer.

        Shape:
            - clean: :math:`(N, C, H, W)`; adversarial: :math:`(M, C, H, W)`

        Examples:
            >>> x = torch.rand(8, 1, 4, 4) * 0.5
            >>> det = Detector.fit(x, (x + 0.3 * torch.rand_like(x)).clamp(0, 1), "InputMFS")
            >>> det.predict(x).shape, det.coef.shape
            (torch.Size([8]), (16,))
        """
        feat = parse_feature(feature)
        check_images(clean, "clean", unit_range=True)
        check_images(adversarial, "adversarial", unit_range=True)
        if clean.shape[1:] != adversarial.shape[1:]:
            raise SpectralValueError(
                f"adversarial: expected images of shape {tuple(clean.shape[1:])} like clean, "
                f"got {tuple(adversarial.shape[1:])}"
            )
        names: tuple[str, ...] = ()
        if feat.uses_layers:
            if model is None:
                raise SpectralValueError(f"model: {feat.value} reads feature maps; pass the model")
            names = tuple(default_detector_layers(model) if layers is None else layers)
        kw: dict[str, Any] = {"model": model, "layers": names, "batch_size": batch_size}
        f = torch.cat(
            [detector_features(clean, feat, **kw), detector_features(adversarial, feat, **kw)]
        )
        labels = np.r_[np.zeros(len(clean)), np.ones(len(adversarial))]
        shape = (int(clean.shape[1]), int(clean.shape[2]), int(clean.shape[3]))
        return cls.fit_features(
            f, labels, feat, image_shape=shape, layers=names, model=model, c=c, max_iter=max_iter
        )

    @classmethod
    def fit_features(
        cls,
        features: torch.Tensor | np.ndarray,
        labels: torch.Tensor | np.ndarray,
        feature: DetectorFeature | str,
        *,
        image_shape: tuple[int, int, int],
        layers: Sequence[str] = (),
        model: nn.Module | None = None,
        c: float = 1.0,
        max_iter: int = 1000,
    ) -> Detector:
        """Fit on precomputed :func:`detector_features` (labels: 1 = adversarial).

        Args:
            features: ``(N, D)`` feature vectors.
            labels: ``(N,)`` 0/1 labels, both classes present.
            feature: which features they are.
            image_shape: ``(C, H, W)`` of the images.
            layers: the layers Layer* features were read from.
            model: the classifier (kept for Layer* features).
            c: inverse L2 regularisation strength (> 0).
            max_iter: L-BFGS iterations (>= 1).

        Returns:
            The fitted :class:`Detector`.

        Raises:
            SpectralValueError: shapes that disagree, labels not 0/1 or one class only,
                non-finite features, bad ``c`` / ``max_iter``.

        Examples:
            >>> f = torch.tensor([[0.0], [1.0], [4.0], [5.0]])
            >>> det = Detector.fit_features(f, [0, 0, 1, 1], "InputMFS", image_shape=(1, 1, 1))
            >>> det.mean.tolist(), det.predict(torch.tensor([[[[0.9]]]])).tolist()
            ([2.5], [False])
        """
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        feat = parse_feature(feature)
        c = check_float(c, "c")
        max_iter = check_int(max_iter, "max_iter", 1)
        f = np.asarray(features.detach().cpu() if isinstance(features, torch.Tensor) else features)
        y = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels)
        if f.ndim != 2 or y.shape != (f.shape[0],):
            raise SpectralValueError(
                f"features: expected (N, D) with (N,) labels, got {f.shape} and {y.shape}"
            )
        if not np.isfinite(f).all():
            raise SpectralValueError("features: expected finite values, got NaN or Inf")
        if not np.isin(y, (0, 1)).all() or len(np.unique(y)) != 2:
            raise SpectralValueError("labels: expected 0 (clean) and 1 (adversarial), both present")
        f64 = f.astype(np.float64)
        scaler = StandardScaler().fit(f64)
        clf = LogisticRegression(C=c, max_iter=max_iter).fit(scaler.transform(f64), y.astype(int))
        return cls(
            feature=feat,
            layers=tuple(layers) if feat.uses_layers else (),
            image_shape=(int(image_shape[0]), int(image_shape[1]), int(image_shape[2])),
            mean=np.asarray(scaler.mean_, dtype=np.float64),
            scale=np.asarray(scaler.scale_, dtype=np.float64),
            coef=np.asarray(clf.coef_[0], dtype=np.float64),
            intercept=float(clf.intercept_[0]),
            n_train=len(y),
            model=model,
        )

    def features(
        self, images: torch.Tensor, *, grad: bool = False, batch_size: int | None = None
    ) -> torch.Tensor:
        """:func:`detector_features` of ``images`` with this detector's feature and layers."""
        if isinstance(images, torch.Tensor) and tuple(images.shape[1:]) != self.image_shape:
            raise SpectralValueError(
                f"images: the detector was fitted on images of shape {self.image_shape}, "
                f"got {tuple(images.shape[1:])}"
            )
        return detector_features(
            images,
            self.feature,
            model=self.model,
            layers=self.layers,
            batch_size=batch_size,
            grad=grad,
        )

    def decision_function(
        self, images: torch.Tensor, *, grad: bool = False, batch_size: int | None = None
    ) -> torch.Tensor:
        """Log-odds that each image is adversarial (float64; > 0: flagged).

        Args:
            images: ``(B, C, H, W)`` in ``[0, 1]``, of the fitted shape.
            grad: keep the graph (for an attacker who knows the detector).
            batch_size: images per forward pass (Layer* features).

        Returns:
            ``(B,)`` float64 on ``images``' device.

        Raises:
            SpectralValueError: images of another shape; Layer* features without a model.

        Shape:
            - images: :math:`(B, C, H, W)`
            - Output: :math:`(B,)`
        """
        return self.score_features(self.features(images, grad=grad, batch_size=batch_size))

    def score_features(self, features: torch.Tensor) -> torch.Tensor:
        """The decision value of precomputed :meth:`features` ``(B, D)`` (float64, ``(B,)``)."""
        if not isinstance(features, torch.Tensor) or features.shape[1:] != self.coef.shape:
            got = tuple(features.shape) if isinstance(features, torch.Tensor) else features
            raise SpectralValueError(
                f"features: expected (B, {self.coef.shape[0]}) detector features, got {got}"
            )
        f = features.double()
        dev = f.device
        mean = torch.as_tensor(self.mean, device=dev)
        scale = torch.as_tensor(self.scale, device=dev)
        coef = torch.as_tensor(self.coef, device=dev)
        return ((f - mean) / scale) @ coef + self.intercept

    def predict(self, images: torch.Tensor, *, batch_size: int | None = None) -> torch.Tensor:
        """``decision_function(images) > 0``: True for images flagged as adversarial."""
        return self.decision_function(images, batch_size=batch_size) > 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable parameters (what :meth:`save` writes)."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "feature": self.feature.value,
            "layers": list(self.layers),
            "image_shape": list(self.image_shape),
            "n_train": self.n_train,
            "intercept": self.intercept,
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
        }

    def save(self, path: str | Path) -> None:
        """Write the detector as JSON (floats written exactly; no pickle)."""
        Path(path).write_text(json.dumps(self.to_dict()), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path, *, model: nn.Module | None = None) -> Detector:
        """Read a detector written by :meth:`save`.

        Args:
            path: the JSON file.
            model: the classifier it was fitted with (required for Layer* features).

        Returns:
            The detector; its scores equal the saved one's exactly.

        Raises:
            SpectralValueError: not a detector file, a field missing or inconsistent,
                Layer* features without a model.
            SpectralTypeError: ``model`` is not an ``nn.Module``.
        """
        try:
            d = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise SpectralValueError(
                f"detector file {str(path)!r}: cannot read it ({err})"
            ) from None
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise SpectralValueError(f"detector file {str(path)!r}: not a {FORMAT} file")
        if d.get("version") != VERSION:
            raise SpectralValueError(f"detector file: version {d.get('version')!r} unknown")
        feat = parse_feature(d.get("feature"), "detector file: feature")
        if model is not None:
            check_model(model)
        elif feat.uses_layers:
            raise SpectralValueError(f"model: a {feat.value} detector needs the classifier")
        shape, layers = d.get("image_shape"), d.get("layers")
        if not (
            isinstance(shape, list) and len(shape) == 3 and all(isinstance(s, int) for s in shape)
        ):
            raise SpectralValueError(
                f"detector file: image_shape expected [C, H, W], got {shape!r}"
            )
        if not (isinstance(layers, list) and all(isinstance(s, str) for s in layers)):
            raise SpectralValueError("detector file: layers expected a list of names")
        coef = _array(d, "coef", None)
        intercept = d.get("intercept")
        if not isinstance(intercept, int | float) or not math.isfinite(intercept):
            raise SpectralValueError(
                f"detector file: intercept expected a number, got {intercept!r}"
            )
        return cls(
            feature=feat,
            layers=tuple(layers),
            image_shape=(shape[0], shape[1], shape[2]),
            mean=_array(d, "mean", len(coef)),
            scale=_array(d, "scale", len(coef)),
            coef=coef,
            intercept=float(intercept),
            n_train=int(d.get("n_train", 0)),
            model=model,
        )
