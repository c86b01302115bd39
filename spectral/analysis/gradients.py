"""Spectra of input gradients: band energy, slope, mean frequency, edge correlation."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from spectral._internal.batching import resolve_batch_size
from spectral._internal.jsonable import json_list
from spectral._internal.progress import Progress
from spectral.analysis.attribution import _check, _check_path, input_gradients, integrated_gradients
from spectral.analysis.gradient_stats import (
    _centroid,
    _has_spectrum,
    _power_without_dc,
    edge_correlation,
)
from spectral.distributed import gather_rows, shard_of
from spectral.errors import SpectralValueError
from spectral.fourier.bands import BAND_NAMES, DEFAULT_CUTOFFS, band_energy, check_cutoffs
from spectral.fourier.radial import powerlaw_slope, radial_profile

__all__ = [
    "GRADIENT_COLUMNS",
    "GradientAnalysis",
    "GradientSpectra",
    "gradient_analysis",
    "gradient_spectra",
]


@dataclass(frozen=True)
class GradientSpectra:
    """Attributions of one model on a batch, with their spectra and smoothness.

    Attributes:
        gradients: input gradients ``(B, C, H, W)``.
        integrated: integrated gradients ``(B, C, H, W)``.
        radii: ring radii ``(n_bins,)`` in cycles/pixel.
        radial_power: kind -> ``(n_bins,)`` mean radial power of the per-image normalised
            maps (each image's non-DC power sums to 1, so models whose gradients differ
            in scale compare; maps without non-DC power are left out, NaN if all are);
            kinds ``gradient``, ``integrated`` and ``image``.
        band_energy: kind -> ``(B, C, 3)`` low/mid/high fractions.
        slope: kind -> ``(B, C)`` power-law slope of the radial power.
        mean_frequency: kind -> ``(B,)`` spectral centroid (:func:`mean_frequency`).
        edge_correlation: ``gradient``/``integrated`` -> ``(B,)`` (:func:`edge_correlation`).
        cutoffs: band cutoffs in cycles/pixel.
    """

    gradients: torch.Tensor
    integrated: torch.Tensor
    radii: torch.Tensor
    radial_power: dict[str, torch.Tensor]
    band_energy: dict[str, torch.Tensor]
    slope: dict[str, torch.Tensor]
    mean_frequency: dict[str, torch.Tensor]
    edge_correlation: dict[str, torch.Tensor]
    cutoffs: tuple[float, float]

    def summary(self) -> dict[str, dict[str, float]]:
        """Kind -> means over images (and channels), NaN ignored."""
        out: dict[str, dict[str, float]] = {}
        for kind, be in self.band_energy.items():
            bands = be.reshape(-1, 3).to(torch.float64).nanmean(0).tolist()
            row = dict(zip(BAND_NAMES, bands, strict=True))
            row["slope"] = float(self.slope[kind].to(torch.float64).nanmean())
            row["mean_frequency"] = float(self.mean_frequency[kind].to(torch.float64).nanmean())
            if kind in self.edge_correlation:
                row["edge_correlation"] = float(
                    self.edge_correlation[kind].to(torch.float64).nanmean()
                )
            out[kind] = row
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable means, radial profiles and per-image smoothness (NaN -> None)."""
        return {
            "n_images": int(self.gradients.shape[0]),
            "cutoffs": list(self.cutoffs),
            "bands": list(BAND_NAMES),
            "summary": {
                kind: {k: v if math.isfinite(v) else None for k, v in row.items()}
                for kind, row in self.summary().items()
            },
            "radii": json_list(self.radii),
            "radial_power": {k: json_list(v) for k, v in self.radial_power.items()},
            "per_image": {
                "mean_frequency": {k: json_list(v) for k, v in self.mean_frequency.items()},
                "edge_correlation": {k: json_list(v) for k, v in self.edge_correlation.items()},
            },
        }


def gradient_spectra(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    steps: int = 32,
    baseline: float | torch.Tensor = 0.0,
    cutoffs: tuple[float, float] = DEFAULT_CUTOFFS,
    batch_size: int | None = None,
    progress: Progress = None,
) -> GradientSpectra:
    """Input and integrated gradients of ``model`` and how smooth and image-like they are.

    The images themselves are analysed alongside as the reference ``image`` (their DC
    left out like everywhere else).

    Args:
        model: classifier, as in :func:`input_gradients`.
        images: ``(B, C, H, W)`` images, ``H, W >= 2``.
        labels: ``(B,)`` classes whose score is attributed.
        steps: integrated-gradient path points.
        baseline: integrated-gradient baseline.
        cutoffs: band cutoffs for :func:`spectral.band_energy`.
        batch_size: images (or path points) per backward pass; None (default)
            sizes it from the free memory (:func:`~spectral.metrics.auto_batch_size`).
        progress: called with ``(done, total)`` in units of one image's backward pass
            (``total = B * (1 + steps)``).

    Returns:
        A :class:`GradientSpectra`.

    Raises:
        SpectralTypeError: not a model, not float images, non-integer labels, a
            ``baseline`` that is neither a number nor a tensor, a non-int ``batch_size``
            or a ``progress`` that is not callable.
        SpectralValueError: bad shapes (also ``H`` or ``W < 2``), NaN, labels out of the
            model's range, bad options (``cutoffs``, ``steps``, ``baseline``,
            ``batch_size``).

    Shape:
        - images: :math:`(B, C, H, W)`
        - labels: :math:`(B,)`
        - Output: ``gradients``, ``integrated``: :math:`(B, C, H, W)`; ``radii``,
          ``radial_power[kind]``: :math:`(n_{bins},)`; ``band_energy[kind]``:
          :math:`(B, C, 3)`; ``slope[kind]``: :math:`(B, C)`; ``mean_frequency[kind]``,
          ``edge_correlation[kind]``: :math:`(B,)`

    Examples:
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48, 3))
        >>> x, y = torch.rand(2, 3, 4, 4), torch.tensor([0, 2])
        >>> s = gradient_spectra(net, x, y, steps=4)
        >>> tuple(s.gradients.shape), tuple(s.band_energy["gradient"].shape)
        ((2, 3, 4, 4), (2, 3, 3))
        >>> sorted(s.radial_power), tuple(s.mean_frequency["image"].shape)
        (['gradient', 'image', 'integrated'], (2,))
        >>> # a linear model: integrated gradients from black are image * gradient
        >>> torch.allclose(s.integrated, x * s.gradients)
        True
    """
    cut = check_cutoffs(cutoffs)
    _check(model, images, labels, batch_size, progress)
    x0 = _check_path(images, baseline, steps)
    if min(images.shape[-2:]) < 2:
        raise SpectralValueError(
            f"images: expected H and W >= 2 for spectra, got {tuple(images.shape[-2:])}"
        )
    bs = resolve_batch_size(batch_size, model, images, backward=True)
    n = images.shape[0]
    work = n * (1 + steps)

    def grad_tick(done: int, _: int) -> None:
        if progress is not None:
            progress(done, work)

    def ig_tick(done: int, _: int) -> None:
        if progress is not None:
            progress(n + done * steps, work)

    # under torch.distributed each rank attributes its shard of the images; the maps are
    # gathered back in image order, and everything after is computed on all of them
    mine, x_mine, y_mine = shard_of(images, labels)
    base = x0.index_select(0, mine)  # the baseline broadcast to the images, sharded too
    grads = input_gradients(model, x_mine, y_mine, batch_size=bs, progress=grad_tick)
    ig = integrated_gradients(
        model,
        x_mine,
        y_mine,
        baseline=base,
        steps=steps,
        batch_size=bs,
        progress=ig_tick,
    )
    grads, ig = gather_rows(grads, n), gather_rows(ig, n)
    maps = {"gradient": grads, "integrated": ig, "image": images}
    radii = torch.empty(0)
    radial: dict[str, torch.Tensor] = {}
    bands: dict[str, torch.Tensor] = {}
    slopes: dict[str, torch.Tensor] = {}
    centroid: dict[str, torch.Tensor] = {}
    for kind, m in maps.items():
        p = _power_without_dc(m)
        ok = _has_spectrum(p.sum(1), m)  # maps with only round-off besides DC: left out
        centroid[kind] = _centroid(p.sum(1), m)
        energy = p.sum((1, 2, 3), keepdim=True)
        p = torch.where(ok[:, None, None, None], p / energy, torch.zeros_like(p))
        radii, prof = radial_profile(p)
        radial[kind] = prof[ok].sum(1).mean(0).to(images.dtype)
        slope = powerlaw_slope(radii, prof)
        slopes[kind] = torch.where(ok[:, None], slope, torch.full_like(slope, math.nan)).to(
            images.dtype
        )
        bands[kind] = band_energy(m.detach(), cutoffs=cut)
    return GradientSpectra(
        gradients=grads,
        integrated=ig,
        radii=radii.to(images.dtype),
        radial_power=radial,
        band_energy=bands,
        slope=slopes,
        mean_frequency=centroid,
        edge_correlation={
            "gradient": edge_correlation(grads, images),
            "integrated": edge_correlation(ig, images),
        },
        cutoffs=cut,
    )


#: Columns of a gradient table after model and map kind (keys of a summary row).
GRADIENT_COLUMNS = ("low", "mid", "high", "slope", "mean_frequency", "edge_correlation")


@dataclass(frozen=True)
class GradientAnalysis:
    """:func:`gradient_spectra` of several models on the same images.

    Attributes:
        images: the analysed images ``(B, C, H, W)`` (kept for figures, not copied).
        steps: integrated-gradient path points.
        results: model -> its :class:`GradientSpectra`.
    """

    images: torch.Tensor = field(repr=False)
    steps: int
    results: dict[str, GradientSpectra]

    def rows(self) -> list[list[Any]]:
        """Table rows ``[model, map, *GRADIENT_COLUMNS]``; the images' own row once."""
        rows = []
        for i, (name, r) in enumerate(self.results.items()):
            for kind, s in r.summary().items():
                if kind == "image" and i:
                    continue
                label = "images" if kind == "image" else name
                values = (s.get(c) for c in GRADIENT_COLUMNS)
                rows.append(
                    [label, kind, *(v if v is None or math.isfinite(v) else None for v in values)]
                )
        return rows

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: n_images, steps, what is attributed, and each model's spectra."""
        return {
            "n_images": int(self.images.shape[0]),
            "steps": self.steps,
            "score": "logit of the true label",
            "baseline": "black image",
            "models": {name: r.to_dict() for name, r in self.results.items()},
        }


def gradient_analysis(
    models: Mapping[str, nn.Module],
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    steps: int = 32,
    batch_size: int | None = None,
    progress: Progress = None,
) -> GradientAnalysis:
    """:func:`gradient_spectra` of every model (black baseline), on the same images.

    Args:
        models: name -> classifier on images in ``[0, 1]`` returning logits.
        images: the images.
        labels: the classes whose logits are attributed.
        steps: integrated-gradient path points.
        batch_size: images (or path points) per backward pass; None (default)
            sizes it from the free memory (:func:`~spectral.metrics.auto_batch_size`).
        progress: called with ``(done, total)`` over all models together.

    Returns:
        A :class:`GradientAnalysis`.

    Raises:
        SpectralValueError: no models, or what :func:`gradient_spectra` refuses.
        SpectralTypeError: what :func:`gradient_spectra` refuses.

    Shape:
        - images: :math:`(B, C, H, W)`; labels: :math:`(B,)`.

    Examples:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48, 3))
        >>> x, y = torch.rand(2, 3, 4, 4), torch.tensor([0, 2])
        >>> a = gradient_analysis({"net": net}, x, y, steps=4)
        >>> a.to_dict()["n_images"], sorted(a.results["net"].summary())
        (2, ['gradient', 'image', 'integrated'])
    """
    if not models:
        raise SpectralValueError("models: expected at least one model, got none")
    per_model = int(images.shape[0]) * (1 + steps) if isinstance(images, torch.Tensor) else 0
    total = per_model * len(models)
    results = {}
    for i, (name, net) in enumerate(models.items()):
        tick = None
        if progress is not None:

            def tick(done: int, _: int, offset: int = i * per_model) -> None:
                progress(offset + done, total)

        results[name] = gradient_spectra(
            net, images, labels, steps=steps, batch_size=batch_size, progress=tick
        )
    return GradientAnalysis(images=images, steps=steps, results=results)
