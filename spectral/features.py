"""Feature maps by module name (forward hooks) and their clean-vs-adversarial spectra.

Discovery next to extraction, as in torchvision's feature extraction: :func:`layer_names`
lists what :func:`feature_maps` accepts; an unknown name raises an error that says how
to list the valid ones. ``"first_conv"`` and ``"first_relu"`` are aliases for the
first convolution and the activation after it (the layer-1 feature maps).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from spectral._validate import check_images, check_same_shape
from spectral.accumulate import SpectrumAccumulator
from spectral.errors import SpectralTypeError, SpectralValueError
from spectral.metrics import _model_left_as_found
from spectral.spectra import BAND_NAMES, _band_fractions, _band_weights, _json_list

__all__ = ["FeatureSpectra", "feature_maps", "feature_spectra", "layer_names", "resolve_layer"]

ALIASES = ("first_conv", "first_relu")


def layer_names(model: nn.Module) -> list[str]:
    """Names accepted by :func:`feature_maps`: every submodule, in registration order.

    Examples:
        >>> from spectral.models import SmallCNN
        >>> layer_names(SmallCNN(width=4))[:4]
        ['normalize', 'features', 'features.conv1', 'features.bn1']
    """
    if not isinstance(model, nn.Module):
        raise SpectralTypeError(f"model: expected an nn.Module, got {type(model).__name__}")
    return [n for n, _ in model.named_modules() if n]


def resolve_layer(model: nn.Module, name: str) -> str:
    """The module name for ``name`` (resolving the aliases); raises if there is none."""
    from spectral.blur import first_activation_name, first_conv_name

    if name == "first_conv":
        return first_conv_name(model)
    if name == "first_relu":
        return first_activation_name(model)
    names = layer_names(model)
    if name not in names:
        shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
        raise SpectralValueError(
            f"layers: unknown layer {name!r}; valid: 'first_conv', 'first_relu', {shown} "
            "(list them all with spectral.layer_names(model))"
        )
    return name


def feature_maps(
    model: nn.Module,
    x: torch.Tensor,
    layers: str | Sequence[str],
    *,
    batch_size: int | None = None,
) -> dict[str, torch.Tensor]:
    """Outputs of the named modules for input ``x``, via forward hooks, in eval mode.

    The model is left as found: hooks are removed and every module's training flag is
    restored, also when the forward pass fails. No gradients are recorded.

    Args:
        model: any ``nn.Module`` taking ``x``.
        x: input batch.
        layers: a name or names from :func:`layer_names`, or the aliases ``"first_conv"``
            / ``"first_relu"``.
        batch_size: run the model on slices of this size (outputs concatenated).

    Returns:
        ``{name as given: output tensor}`` (on ``x``'s device).

    Raises:
        SpectralValueError: unknown layer (the message says how to list them), or a layer
            that did not run.

    Examples:
        >>> from spectral.models import SmallCNN
        >>> maps = feature_maps(SmallCNN(width=4), torch.rand(2, 3, 32, 32), "first_conv")
        >>> maps["first_conv"].shape
        torch.Size([2, 4, 32, 32])
    """
    names = [layers] if isinstance(layers, str) else list(layers)
    if not names:
        raise SpectralValueError("layers: expected at least one layer name, got none")
    if not isinstance(x, torch.Tensor) or x.ndim == 0 or x.shape[0] == 0:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise SpectralValueError(f"x: expected a non-empty batch, got {shape}")
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
    ):
        raise SpectralValueError(f"batch_size: expected an int >= 1, got {batch_size!r}")
    resolved = {n: resolve_layer(model, n) for n in names}
    modules = dict(model.named_modules())
    outputs: dict[str, list[torch.Tensor]] = {n: [] for n in names}
    calls: dict[str, int] = dict.fromkeys(names, 0)
    handles = []
    for given, real in resolved.items():

        def hook(_m: nn.Module, _i: Any, out: Any, given: str = given) -> None:
            if not isinstance(out, torch.Tensor):
                raise SpectralValueError(f"layers: {given!r} outputs {type(out).__name__}")
            calls[given] += 1
            # clone: a later in-place op (ReLU(inplace=True)) would overwrite the stored map
            outputs[given].append(out.detach().clone())

        handles.append(modules[real].register_forward_hook(hook))
    step = x.shape[0] if batch_size is None else batch_size
    n_slices = 0
    try:
        with _model_left_as_found(model), torch.no_grad():
            model.eval()
            for i in range(0, x.shape[0], step):
                model(x[i : i + step])
                n_slices += 1
    finally:
        for h in handles:
            h.remove()
    missing = [n for n, v in outputs.items() if not v]
    if missing:
        raise SpectralValueError(f"layers: {missing} did not run in the forward pass")
    repeated = {n: c // n_slices for n, c in calls.items() if c != n_slices}
    if repeated:
        raise SpectralValueError(
            f"layers: {sorted(repeated)} run more than once per forward pass (a shared module); "
            "its output is ambiguous, pick a module that runs once"
        )
    return {n: torch.cat(v) for n, v in outputs.items()}


@dataclass(frozen=True)
class FeatureSpectra:
    """Dataset-scale mean power spectra of one layer's feature maps.

    Attributes:
        layer: the layer name as given.
        clean: mean power spectrum ``(C, H, W)`` (centred) of the clean feature maps.
        adversarial: the same for the adversarial inputs.
        difference: the same for ``maps(x_adv) - maps(x)`` (what the attack added).
        count: number of images averaged.
        cutoffs: band cutoffs in cycles/pixel.
    """

    layer: str
    clean: torch.Tensor
    adversarial: torch.Tensor
    difference: torch.Tensor
    count: int
    cutoffs: tuple[float, float] = (1 / 8, 1 / 4)

    def band_energy(self, which: str) -> torch.Tensor:
        """``(C, 3)`` low/mid/high fractions of ``which``'s mean non-DC power, per channel."""
        spec = {"clean": self.clean, "adversarial": self.adversarial, "difference": self.difference}
        made_in = spec[which].dtype
        p = torch.fft.ifftshift(spec[which].to(torch.float64), dim=(-2, -1))
        c, h, w = p.shape
        half = p[..., : w // 2 + 1].reshape(c, -1)
        e = half @ torch.from_numpy(_band_weights(h, w, self.cutoffs, "float64")).to(p.device)
        return _band_fractions(e, h * w, made_in)  # NaN where non-DC power is round-off

    def to_dict(self) -> dict[str, Any]:
        """JSON summary: shape, count, band fractions (mean over channels) per signal."""

        def mean(which: str) -> list[float | None]:
            return list(_json_list(self.band_energy(which).nanmean(0)))

        return {
            "layer": self.layer,
            "shape": list(self.clean.shape),
            "count": self.count,
            "bands": list(BAND_NAMES),
            "band_energy": {k: mean(k) for k in ("clean", "adversarial", "difference")},
            "mean_power": {
                k: float(v.mean())
                for k, v in (
                    ("clean", self.clean),
                    ("adversarial", self.adversarial),
                    ("difference", self.difference),
                )
            },
        }


def feature_spectra(
    model: nn.Module,
    clean: torch.Tensor,
    adversarial: torch.Tensor,
    layers: str | Sequence[str],
    *,
    batch_size: int = 64,
    cutoffs: tuple[float, float] = (1 / 8, 1 / 4),
) -> dict[str, FeatureSpectra]:
    """Mean feature-map power spectra for clean and adversarial inputs, streamed.

    Batches of ``batch_size`` go through the model once each; their feature maps feed
    :class:`~spectral.SpectrumAccumulator` s and are dropped, so memory does not grow with
    the number of images (``benchmarks/feature_memory.py`` measures it).

    Args:
        model: the classifier.
        clean: clean images ``(B, C, H, W)``.
        adversarial: their adversarial versions (same shape).
        layers: layer names or aliases.
        batch_size: images per forward pass.
        cutoffs: band cutoffs.

    Returns:
        ``{layer: FeatureSpectra}``.

    Raises:
        SpectralValueError: mismatched inputs, unknown layers, or non-4-D feature maps.
    """
    check_images(clean, "clean")
    check_images(adversarial, "adversarial")
    check_same_shape(clean, adversarial, ("clean", "adversarial"))
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise SpectralValueError(f"batch_size: expected an int >= 1, got {batch_size!r}")
    names = [layers] if isinstance(layers, str) else list(layers)
    accs = {n: {k: SpectrumAccumulator() for k in ("c", "a", "d")} for n in names}
    for i in range(0, clean.shape[0], batch_size):
        fc = feature_maps(model, clean[i : i + batch_size], names)
        fa = feature_maps(model, adversarial[i : i + batch_size], names)
        for n in names:
            if fc[n].ndim != 4:
                raise SpectralValueError(
                    f"layers: {n!r} outputs shape {tuple(fc[n].shape)}, expected (B, C, H, W)"
                )
            a, c = fa[n].float(), fc[n].float()
            accs[n]["c"].update(c)
            accs[n]["a"].update(a)
            accs[n]["d"].update(a - c)
    return {
        n: FeatureSpectra(
            layer=n,
            clean=acc["c"].mean(),
            adversarial=acc["a"].mean(),
            difference=acc["d"].mean(),
            count=acc["c"].count,
            cutoffs=cutoffs,
        )
        for n, acc in accs.items()
    }
