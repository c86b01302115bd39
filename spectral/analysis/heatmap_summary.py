"""Summaries of Fourier heat maps: band means and the analysis the CLI runs on several models."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from spectral._internal.checkpoint import resumable_dir
from spectral._internal.jsonable import json_list
from spectral.analysis.heatmap import fourier_heatmap
from spectral.errors import SpectralValueError
from spectral.fourier.bands import BAND_NAMES, DEFAULT_CUTOFFS, check_cutoffs
from spectral.fourier.radial import frequency_radius
from spectral.metrics.classification import accuracy
from spectral.metrics.uncertainty import Interval, proportion_interval

__all__ = ["HeatmapAnalysis", "heatmap_analysis", "heatmap_bands"]


def heatmap_bands(
    heat: torch.Tensor, *, cutoffs: tuple[float, float] = DEFAULT_CUTOFFS
) -> dict[str, float]:
    """Mean error of a centred heat map in the low, mid and high bands (and at DC).

    Bands by radius ``r`` in cycles/pixel as in :func:`spectral.band_energy`: low
    ``0 < r < c1``, mid ``c1 <= r < c2``, high ``r >= c2``; ``dc`` is the centre cell.

    Args:
        heat: a centred map such as :func:`fourier_heatmap` returns (DC at
            ``(H // 2, W // 2)``).
        cutoffs: band cutoffs ``(low/mid, mid/high)`` in cycles/pixel.

    Returns:
        ``{"low", "mid", "high", "dc"}`` -> mean error over the band's evaluated cells
        (NaN cells, left out by a frequency subset, are skipped); NaN for a band with no
        such cell (a map too small to reach it, or a subset that skips it).

    Raises:
        SpectralValueError: not a 2-D map, or bad cutoffs.

    Shape:
        - heat: :math:`(H, W)`

    Examples:
        >>> heatmap_bands(torch.ones(16, 16))
        {'low': 1.0, 'mid': 1.0, 'high': 1.0, 'dc': 1.0}
        >>> heat = torch.zeros(8, 8)
        >>> heat[4, 4] = 1.0  # errors only at DC
        >>> heatmap_bands(heat)
        {'low': nan, 'mid': 0.0, 'high': 0.0, 'dc': 1.0}
    """
    if not isinstance(heat, torch.Tensor) or heat.ndim != 2 or heat.numel() == 0:
        shape = tuple(heat.shape) if isinstance(heat, torch.Tensor) else type(heat).__name__
        raise SpectralValueError(f"heat: expected an (H, W) map, got {shape}")
    c1, c2 = check_cutoffs(cutoffs)
    h, w = heat.shape
    r = torch.from_numpy(frequency_radius(h, w))
    v = heat.detach().to("cpu", torch.float64)
    known = ~v.isnan()  # cells a frequency subset left out are NaN
    masks = [known & m for m in ((r > 0) & (r < c1), (r >= c1) & (r < c2), r >= c2)]
    out = {
        name: float(v[m].mean()) if bool(m.any()) else math.nan
        for name, m in zip(BAND_NAMES, masks, strict=True)
    }
    out["dc"] = float(v[h // 2, w // 2])
    return out


@dataclass(frozen=True)
class HeatmapAnalysis:
    """Fourier heat maps of several models on the same images.

    Attributes:
        eps: L2 norm of each basis perturbation (per channel).
        n_images: images per map.
        maps: model -> ``(H, W)`` error rate per frequency, DC in the centre.
        clean_error: model -> error rate on the unperturbed images.
        subset: the frequency subset (``step``, ``max_radius``, ``frequencies``;
            :func:`~spectral.analysis.heatmap_cells`); cells outside it are NaN.
        precision: the model's arithmetic (``float32``, or ``bfloat16`` autocast).
    """

    eps: float
    n_images: int
    maps: dict[str, torch.Tensor] = field(repr=False)
    clean_error: dict[str, float]
    subset: dict[str, Any] = field(
        default_factory=lambda: {"step": 1, "max_radius": None, "frequencies": None}
    )
    precision: str = "float32"

    def rows(self) -> list[list[Any]]:
        """Table rows ``[model, clean error, mean error, low, mid, high]``."""
        rows = []
        for name, heat in self.maps.items():
            bands = heatmap_bands(heat)
            mean = float(heat.double().nanmean())
            rows.append([name, self.clean_error[name], mean, *(bands[b] for b in BAND_NAMES)])
        return rows

    def clean_error_interval(self, name: str) -> Interval:
        """95 % Wilson interval of model ``name``'s clean error on the ``n_images`` images.

        Args:
            name: a model of :attr:`maps`.

        Returns:
            The :class:`~spectral.metrics.uncertainty.Interval` (``n = n_images``).

        Raises:
            KeyError: an unknown model.

        Examples:
            >>> a = HeatmapAnalysis(1.0, 4, {}, {"net": 0.25})
            >>> iv = a.clean_error_interval("net")
            >>> iv.estimate, iv.n, iv.method
            (0.25, 4, 'wilson')
        """
        return proportion_interval(self.clean_error[name], self.n_images)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: eps, n_images, the layout, and per model its errors and map.

        Every cell of a map is an error rate ``k / n_images`` on the same images
        (``n_images`` once, not an interval per cell); each model's ``intervals`` has
        the 95 % Wilson interval of its clean error.
        """
        return {
            "eps": self.eps,
            "n_images": self.n_images,
            "layout": "centred: row - H//2 = k_y, col - W//2 = k_x (cycles per image)",
            "subset": self.subset,
            "precision": self.precision,
            "models": {
                name: {
                    "clean_error": self.clean_error[name],
                    "intervals": {"clean_error": self.clean_error_interval(name).to_dict()},
                    "mean_error": float(heat.double().nanmean()),
                    "cells_evaluated": int((~heat.isnan()).sum()),
                    "band_error": heatmap_bands(heat),
                    "map": json_list(heat),
                }
                for name, heat in self.maps.items()
            },
        }


def heatmap_analysis(
    models: Mapping[str, nn.Module],
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    eps: float = 4.0,
    seed: int = 0,
    batch_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    step: int = 1,
    max_radius: float | None = None,
    frequencies: Sequence[tuple[int, int]] | None = None,
    checkpoint_dir: str | Path | None = None,
    checkpoint_every: float = 60.0,
    precision: str = "float32",
) -> HeatmapAnalysis:
    """:func:`fourier_heatmap` and the clean error of every model, on the same images.

    Args:
        models: name -> classifier on images in ``[0, 1]`` returning logits.
        images: the images.
        labels: their labels.
        eps: L2 norm of each basis perturbation per channel.
        seed: seed of the random signs (the same for every model).
        batch_size: perturbed images per forward pass; ``None`` sizes it from the free
            memory, at most 64 on the CPU (channels-last small convolutions are fastest
            there) and 4096 on a GPU (:func:`fourier_heatmap`).
        progress: called with ``(done, total)`` over all models together.
        step: evaluate every ``step``-th frequency per axis (:func:`fourier_heatmap`).
        max_radius: evaluate only ``|k| <= max_radius`` (cycles per image), or None.
        frequencies: evaluate only these ``(k_y, k_x)`` and their mirrors, or None.
        checkpoint_dir: folder for resumable runs: model number ``i`` checkpoints to
            ``heatmap-{i}.pt`` in it (see :func:`fourier_heatmap`); None: the
            ``heatmap`` folder of the :func:`spectral.resumable` directory in force, or
            no checkpoints outside one.
        checkpoint_every: seconds between checkpoints.
        precision: ``"float32"`` or ``"bfloat16"`` (autocast; see :func:`fourier_heatmap`).

    Returns:
        A :class:`HeatmapAnalysis`.

    Raises:
        SpectralValueError: no models, or what :func:`fourier_heatmap` refuses.
        SpectralTypeError: what :func:`fourier_heatmap` refuses.

    Shape:
        - images: :math:`(B, C, H, W)`; labels: :math:`(B,)`; each map :math:`(H, W)`.

    Examples:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48, 3))
        >>> x, y = torch.rand(2, 3, 4, 4), torch.tensor([0, 2])
        >>> a = heatmap_analysis({"net": net}, x, y, eps=1.0)
        >>> tuple(a.maps["net"].shape), a.rows()[0][0]
        ((4, 4), 'net')
    """
    if not models:
        raise SpectralValueError("models: expected at least one model, got none")
    maps: dict[str, torch.Tensor] = {}
    clean_error: dict[str, float] = {}
    store = resumable_dir()
    folder = Path(checkpoint_dir) if checkpoint_dir is not None else store and store / "heatmap"
    for i, (name, net) in enumerate(models.items()):
        tick = None
        if progress is not None:
            # every model sees the same images, so each has the same number of passes
            def tick(done: int, total: int, i: int = i) -> None:
                progress(i * total + done, total * len(models))

        maps[name] = fourier_heatmap(
            net,
            images,
            labels,
            eps=eps,
            seed=seed,
            batch_size=batch_size,
            progress=tick,
            step=step,
            max_radius=max_radius,
            frequencies=frequencies,
            checkpoint=None if folder is None else folder / f"heatmap-{i}.pt",
            checkpoint_every=checkpoint_every,
            precision=precision,
        )
        clean_error[name] = 1.0 - accuracy(net, images, labels)
    subset = {
        "step": step,
        "max_radius": max_radius,
        "frequencies": None if frequencies is None else [list(map(int, f)) for f in frequencies],
    }
    return HeatmapAnalysis(
        eps=float(eps),
        n_images=int(images.shape[0]),
        maps=maps,
        clean_error=clean_error,
        subset=subset,
        precision=precision,
    )
