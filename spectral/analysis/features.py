"""Spectra of first-layer feature maps, clean vs adversarial."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from spectral._internal.batching import resolve_batch_size
from spectral._internal.jsonable import json_list
from spectral._internal.validate import check_images, check_same_shape
from spectral.distributed import image_block
from spectral.errors import SpectralValueError
from spectral.fourier.accumulate import SpectrumAccumulator
from spectral.fourier.bands import (
    BAND_NAMES,
    DEFAULT_CUTOFFS,
    band_fractions,
    band_weights,
)
from spectral.models.features import feature_maps

__all__ = ["FeatureSpectra", "feature_spectra"]


@dataclass(frozen=True)
class FeatureSpectra:
    """Dataset-scale mean power spectra of one layer's feature maps.

    Attributes:
        layer: the layer name as given.
        clean: mean power spectrum ``(C, H, W)`` (centred) of the clean feature maps.
        adversarial: the same for the adversarial inputs.
        perturbation: the same for ``maps(x_adv) - maps(x)`` (what the attack added), named
            like :attr:`spectral.fourier.SpectrumComparison.perturbation`.
        count: number of images averaged.
        cutoffs: band cutoffs in cycles/pixel.
    """

    layer: str
    clean: torch.Tensor
    adversarial: torch.Tensor
    perturbation: torch.Tensor
    count: int
    cutoffs: tuple[float, float] = DEFAULT_CUTOFFS

    def band_energy(self, which: str) -> torch.Tensor:
        """``(C, 3)`` low/mid/high fractions of ``which``'s mean non-DC power, per channel."""
        spec = {
            "clean": self.clean,
            "adversarial": self.adversarial,
            "perturbation": self.perturbation,
        }
        made_in = spec[which].dtype
        p = torch.fft.ifftshift(spec[which].to(torch.float64), dim=(-2, -1))
        c, h, w = p.shape
        half = p[..., : w // 2 + 1].reshape(c, -1)
        e = half @ torch.from_numpy(band_weights(h, w, self.cutoffs, "float64")).to(p.device)
        return band_fractions(e, h * w, made_in)  # NaN where non-DC power is round-off

    def to_dict(self) -> dict[str, Any]:
        """JSON summary: shape, count, band fractions (mean over channels) per signal."""

        def mean(which: str) -> list[float | None]:
            return list(json_list(self.band_energy(which).nanmean(0)))

        return {
            "layer": self.layer,
            "shape": list(self.clean.shape),
            "count": self.count,
            "bands": list(BAND_NAMES),
            "band_energy": {k: mean(k) for k in ("clean", "adversarial", "perturbation")},
            "mean_power": {
                k: float(v.mean())
                for k, v in (
                    ("clean", self.clean),
                    ("adversarial", self.adversarial),
                    ("perturbation", self.perturbation),
                )
            },
        }


def feature_spectra(
    model: nn.Module,
    clean: torch.Tensor,
    adversarial: torch.Tensor,
    layers: str | Sequence[str],
    *,
    batch_size: int | None = None,
    cutoffs: tuple[float, float] = DEFAULT_CUTOFFS,
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
        batch_size: images per forward pass; None (default) sizes it from the free
            memory (:func:`~spectral.metrics.auto_batch_size`).
        cutoffs: band cutoffs.

    Returns:
        ``{layer: FeatureSpectra}``.

    Raises:
        SpectralValueError: mismatched inputs, unknown layers, or non-4-D feature maps;
            images that are not ``(B, C, H, W)`` or hold NaN/Inf; ``batch_size < 1``.
        SpectralTypeError: ``clean`` or ``adversarial`` not a float32/float64 tensor, or
            their dtypes differ; a ``batch_size`` that is not an int.

    Shape:
        - clean: :math:`(B, C, H, W)`
        - adversarial: :math:`(B, C, H, W)`, like ``clean``
        - Output: ``clean``, ``adversarial`` and ``perturbation`` of each
          :class:`FeatureSpectra` are :math:`(C', H', W')`, the shape of one feature map

    Examples:
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3, padding=1), torch.nn.ReLU())
        >>> x = torch.rand(3, 3, 8, 8)
        >>> s = feature_spectra(net, x, x, "first_conv", batch_size=2)["first_conv"]
        >>> tuple(s.clean.shape), s.count
        ((2, 8, 8), 3)
        >>> float(s.perturbation.abs().max())  # no perturbation: nothing added
        0.0
    """
    check_images(clean, "clean", unit_range=True)
    check_images(adversarial, "adversarial", unit_range=True)
    check_same_shape(clean, adversarial, ("clean", "adversarial"))
    bs = resolve_batch_size(batch_size, model, clean, backward=False)
    names = [layers] if isinstance(layers, str) else list(layers)
    accs = {n: {k: SpectrumAccumulator() for k in ("c", "a", "d")} for n in names}
    first, stop = image_block(clean.shape[0])  # under torch.distributed: this rank's
    for i in range(first, stop, bs):
        fc = feature_maps(model, clean[i : min(i + bs, stop)], names)
        fa = feature_maps(model, adversarial[i : min(i + bs, stop)], names)
        for n in names:
            if fc[n].ndim != 4:
                raise SpectralValueError(
                    f"layers: {n!r} outputs shape {tuple(fc[n].shape)}, expected (B, C, H, W)"
                )
            a, c = fa[n].float(), fc[n].float()
            accs[n]["c"].update(c)
            accs[n]["a"].update(a)
            accs[n]["d"].update(a - c)
    accs = {n: {k: a.merge_ranks() for k, a in acc.items()} for n, acc in accs.items()}
    return {
        n: FeatureSpectra(
            layer=n,
            clean=acc["c"].mean(),
            adversarial=acc["a"].mean(),
            perturbation=acc["d"].mean(),
            count=acc["c"].count,
            cutoffs=cutoffs,
        )
        for n, acc in accs.items()
    }
