"""Detector features (Harder et al. 2021): raw DFT magnitude or phase of inputs and layers."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Any

import torch
from torch import nn

from spectral._internal.modelstate import model_left_as_found, set_eval
from spectral._internal.validate import check_batch_size, check_images, check_model, parse_enum
from spectral.errors import SpectralValueError
from spectral.models import (
    conv2d_weights,
    feature_maps,
    is_exported,
    is_scripted,
    resolve_layer,
    split_call,
)

__all__ = [
    "DetectorFeature",
    "default_detector_layers",
    "detector_features",
    "fourier_features",
    "parse_feature",
]


class DetectorFeature(str, Enum):
    """Harder et al.'s features: magnitude (MFS) or phase (PFS) of the input or of layers."""

    INPUT_MFS = "InputMFS"
    INPUT_PFS = "InputPFS"
    LAYER_MFS = "LayerMFS"
    LAYER_PFS = "LayerPFS"

    @property
    def kind(self) -> str:
        """``"magnitude"`` or ``"phase"``."""
        return "magnitude" if self.value.endswith("MFS") else "phase"

    @property
    def uses_layers(self) -> bool:
        """Whether the feature reads layer feature maps (needs the model)."""
        return self.value.startswith("Layer")


def parse_feature(value: Any, name: str = "feature") -> DetectorFeature:
    """The :class:`DetectorFeature` that ``value`` names, case-insensitively.

    Args:
        value: a member or its name (``"InputMFS"``, ``"layermfs"``, ...).
        name: the argument name used in error messages.

    Returns:
        The member.

    Raises:
        SpectralTypeError: not a str or member.
        SpectralValueError: an unknown name (the message lists the four).

    Examples:
        >>> parse_feature(" layermfs ")
        <DetectorFeature.LAYER_MFS: 'LayerMFS'>
    """
    if isinstance(value, DetectorFeature):
        return value
    if isinstance(value, str):
        for member in DetectorFeature:
            if member.value.lower() == value.strip().lower():
                return member
    return parse_enum(value, DetectorFeature, name)


def fourier_features(x: torch.Tensor, *, kind: str = "magnitude") -> torch.Tensor:
    """Per-image ``|fft2(x)|`` or ``|angle(fft2(x))|``, per channel, unshifted, flattened.

    The raw DFT over the last two axes (no ``fftshift``, no log, no normalisation) as
    Harder et al. use it. The phase of a zero coefficient is 0 (as ``numpy.angle``); its
    gradient is 0 there, so the features are differentiable everywhere an attack needs.

    Args:
        x: real tensor ``(B, C, H, W)`` (images or feature maps, any range).
        kind: ``"magnitude"`` or ``"phase"``.

    Returns:
        ``(B, C * H * W)`` tensor of ``x``'s dtype and device, ordered like
        ``x.reshape(B, -1)``.

    Raises:
        SpectralTypeError: not a real floating tensor.
        SpectralValueError: not 4-D, NaN/Inf, or an unknown ``kind``.

    Shape:
        - x: :math:`(B, C, H, W)`
        - Output: :math:`(B, C H W)`

    Examples:
        >>> x = torch.zeros(1, 1, 4, 4); x[0, 0, 0, 0] = 1.0  # an impulse: flat spectrum
        >>> fourier_features(x).tolist() == [[1.0] * 16]
        True
        >>> float(fourier_features(torch.ones(1, 1, 2, 2), kind="phase").abs().max())
        0.0
    """
    check_images(x.detach() if isinstance(x, torch.Tensor) else x, "x")
    if kind not in ("magnitude", "phase"):
        raise SpectralValueError(f"kind: expected 'magnitude' or 'phase', got {kind!r}")
    f = torch.fft.fft2(x)
    if kind == "magnitude":
        out = f.abs()
    else:
        nonzero = f != 0
        safe = torch.where(nonzero, f, torch.ones_like(f))
        out = torch.where(nonzero, torch.atan2(safe.imag, safe.real).abs(), 0.0)
    return out.to(x.dtype).reshape(x.shape[0], -1)


def default_detector_layers(model: nn.Module) -> tuple[str, ...]:
    """The layer the Layer* features read by default: the model's last ``Conv2d``.

    Harder et al. read several deep activation layers of a VGG-16; one deep layer keeps
    the feature vector small (``256 x 8 x 8`` for the zoo's models) and, measured on the
    built-in default, already separates PGD examples (README, "Detecting adversarial
    examples").

    Args:
        model: the classifier.

    Returns:
        A one-name tuple.

    Raises:
        SpectralValueError: the model has no ``Conv2d`` (pass ``layers`` then).

    Examples:
        >>> from spectral.models import SmallCNN
        >>> default_detector_layers(SmallCNN(width=4))
        ('features.conv5',)
    """
    convs = list(conv2d_weights(check_model(model)))
    if not convs:
        raise SpectralValueError(
            "layers: the model has no Conv2d to default to; name layers (see layer_names)"
        )
    return (convs[-1],)


def _hooked_maps(model: nn.Module, x: torch.Tensor, layers: Sequence[str]) -> list[torch.Tensor]:
    """The named layers' outputs with the autograd graph kept (for adaptive attacks)."""
    wanted = [split_call(resolve_layer(model, n)) for n in layers]
    modules = dict(model.named_modules())
    if is_exported(model) or any(is_scripted(modules[b]) for b, _ in wanted):
        raise SpectralValueError(
            "layers: gradients through feature maps need an eager model (hooks); "
            "load it as 'package.module:factory' with --weights"
        )
    runs: dict[str, int] = {}
    got: dict[int, torch.Tensor] = {}

    def make_hook(base: str) -> Any:
        def hook(_m: nn.Module, _i: Any, out: Any) -> None:
            k = runs.get(base, 0)
            runs[base] = k + 1
            for j, (b, call) in enumerate(wanted):
                if b == base and call in (None, k) and isinstance(out, torch.Tensor):
                    got[j] = out.clone()

        return hook

    handles = [modules[b].register_forward_hook(make_hook(b)) for b in {b for b, _ in wanted}]
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
    missing = [layers[j] for j in range(len(wanted)) if j not in got]
    if missing:
        raise SpectralValueError(f"layers: {missing} did not run or output no tensor")
    return [got[j] for j in range(len(wanted))]


def detector_features(
    x: torch.Tensor,
    feature: DetectorFeature | str,
    *,
    model: nn.Module | None = None,
    layers: Sequence[str] = (),
    batch_size: int | None = None,
    grad: bool = False,
) -> torch.Tensor:
    """The detector's feature vector of each image (InputMFS/PFS, LayerMFS/PFS).

    Input* features are :func:`fourier_features` of ``x``; Layer* features are those of
    each named layer's output (a ``(B, K, H', W')`` map) for ``x``, concatenated in the
    order of ``layers``. The model runs in eval mode and is left as found.

    Args:
        x: images ``(B, C, H, W)`` in ``[0, 1]``.
        feature: a :class:`DetectorFeature` or its name (case-insensitive).
        model: the classifier (required for Layer* features).
        layers: layer names (:func:`spectral.models.layer_names`; ``name:k`` for a
            shared module) for Layer* features; ignored for Input* features.
        batch_size: images per forward pass (default: all at once).
        grad: keep the autograd graph from ``x`` to the features (one pass, hooks).

    Returns:
        ``(B, D)`` features on ``x``'s device.

    Raises:
        SpectralTypeError: not images, not a model.
        SpectralValueError: an unknown feature, Layer* without a model or layers, a layer
            that is unknown or does not output a 4-D map, ``batch_size < 1``.

    Shape:
        - x: :math:`(B, C, H, W)`
        - Output: :math:`(B, D)`; ``D = C H W`` for Input* features.

    Examples:
        >>> from spectral.models import SmallCNN
        >>> x = torch.rand(2, 3, 8, 8)
        >>> detector_features(x, "InputMFS").shape
        torch.Size([2, 192])
        >>> net = SmallCNN(width=4)
        >>> detector_features(x, "LayerPFS", model=net, layers=["features.conv1"]).shape
        torch.Size([2, 256])
    """
    feat = parse_feature(feature)
    check_images(x.detach() if isinstance(x, torch.Tensor) else x, "x", unit_range=True)
    if not feat.uses_layers:
        return fourier_features(x, kind=feat.kind)
    if model is None:
        raise SpectralValueError(f"model: {feat.value} reads feature maps; pass the model")
    check_model(model)
    names = [layers] if isinstance(layers, str) else list(layers)
    if not names:
        raise SpectralValueError(f"layers: {feat.value} needs at least one layer name")
    step = x.shape[0] if batch_size is None else check_batch_size(batch_size)
    if grad:
        with model_left_as_found(model):
            set_eval(model)
            maps = _hooked_maps(model, x, names)
    else:
        out = feature_maps(model, x, names, batch_size=step)
        maps = [out[n] for n in names]
    for name, m in zip(names, maps, strict=True):
        if m.ndim != 4:
            raise SpectralValueError(
                f"layers: {name!r} outputs shape {tuple(m.shape)}, expected a (B, K, H, W) map"
            )
    return torch.cat([fourier_features(m, kind=feat.kind) for m in maps], dim=1)
