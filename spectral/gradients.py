"""Input gradients, integrated gradients, and how smooth and image-like they are.

Adversarially trained models are reported to have input gradients that look like the
image (Boychev 2023, ``shared/seeds/003_*``; the human-recognizability paper,
``shared/seeds/004_*``, traces it to the smoothness that adversarial training adds).
This module computes the attributions and *measures* those properties instead of
assuming them:

* **spectrum** — radial power profile, low/mid/high band energy, power-law slope and
  the power-weighted mean frequency (the spectral centroid: lower is smoother);
* **image-likeness** — the Pearson correlation between the attribution's magnitude and
  the image's edge magnitude (Sobel), per image.

Attributions are of the *class score*: the logit of the given label.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from spectral._validate import check_cutoffs, check_images
from spectral.errors import SpectralTypeError, SpectralValueError
from spectral.metrics import (
    _check_batch_size,
    _check_labels,
    _check_model,
    _logits,
    _model_left_as_found,
)
from spectral.spectra import (
    BAND_NAMES,
    _json_list,
    band_energy,
    frequency_radius,
    power_spectrum,
    powerlaw_slope,
    radial_profile,
)

Progress = Callable[[int, int], None] | None

__all__ = [
    "GradientSpectra",
    "edge_correlation",
    "gradient_spectra",
    "input_gradients",
    "integrated_gradients",
    "mean_frequency",
]


def _score_grad(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Gradient of ``sum_i f(x_i)[y_i]`` with respect to ``x`` (no graph kept)."""
    xg = x.detach().requires_grad_(True)
    scores = _logits(model, xg, y).gather(1, y[:, None])[:, 0]
    (g,) = torch.autograd.grad(scores.sum(), xg)
    return g


def _check(model: Any, images: Any, labels: Any, batch_size: Any, progress: Any = None) -> int:
    if progress is not None and not callable(progress):
        raise SpectralTypeError(f"progress: expected a callable, got {type(progress).__name__}")
    _check_model(model)
    check_images(images, "images")
    _check_labels(labels, images)
    return _check_batch_size(batch_size)


def input_gradients(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    batch_size: int = 128,
    progress: Progress = None,
) -> torch.Tensor:
    """Gradient of each image's class score (the logit of its label) w.r.t. the image.

    Args:
        model: classifier on ``(B, C, H, W)`` images in ``[0, 1]`` returning logits
            ``(B, K)``; evaluated in eval mode and left as found (``.grad`` untouched).
        images: ``(B, C, H, W)`` images.
        labels: ``(B,)`` classes whose score is differentiated (true labels, or the
            model's predictions from :func:`spectral.predict`).
        batch_size: images per backward pass.
        progress: called with ``(images done, images)`` after each pass.

    Returns:
        ``(B, C, H, W)`` gradients like ``images``.

    Raises:
        SpectralTypeError: not a model, not float images, non-integer labels.
        SpectralValueError: bad shapes, NaN, labels out of the model's range.

    Examples:
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
        >>> g = input_gradients(net, torch.rand(3, 1, 2, 2), torch.tensor([0, 1, 1]))
        >>> torch.equal(g[0].flatten(), net[1].weight[0].detach())
        True
    """
    bs = _check(model, images, labels, batch_size, progress)
    out = []
    n = images.shape[0]
    with _model_left_as_found(model), torch.enable_grad():
        model.eval()
        for i in range(0, n, bs):
            out.append(_score_grad(model, images[i : i + bs], labels[i : i + bs]))
            if progress is not None:
                progress(min(n, i + bs), n)
    return torch.cat(out)


def _check_path(images: torch.Tensor, baseline: Any, steps: Any) -> torch.Tensor:
    """Validate ``steps`` and return the baseline broadcast to ``images`` (detached)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise SpectralValueError(f"steps: expected an int >= 1, got {steps!r}")
    if isinstance(baseline, torch.Tensor):
        try:
            x0 = torch.broadcast_to(baseline.detach().to(images), images.shape)
        except RuntimeError:
            raise SpectralValueError(
                f"baseline: expected a shape broadcastable to {tuple(images.shape)}, "
                f"got {tuple(baseline.shape)}"
            ) from None
    elif isinstance(baseline, int | float) and not isinstance(baseline, bool):
        x0 = torch.full_like(images, float(baseline)).detach()
    else:
        raise SpectralTypeError(
            f"baseline: expected a number or a tensor, got {type(baseline).__name__}"
        )
    if not bool(torch.isfinite(x0).all()):
        raise SpectralValueError("baseline: expected finite values, found NaN/Inf")
    return x0


def integrated_gradients(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    baseline: float | torch.Tensor = 0.0,
    steps: int = 32,
    batch_size: int = 128,
    progress: Progress = None,
) -> torch.Tensor:
    """Integrated gradients of each image's class score (Sundararajan et al. 2017).

    ``IG(x) = (x - x0) * mean_k grad f(x0 + a_k (x - x0))`` with the midpoint rule
    ``a_k = (k + 1/2) / steps``. Completeness: ``sum IG(x) ~ f(x) - f(x0)``, exactly for a
    model that is linear in its input.

    Args:
        model: classifier, as in :func:`input_gradients`.
        images: ``(B, C, H, W)`` images.
        labels: ``(B,)`` classes whose score is attributed.
        baseline: the reference image ``x0``: a number (a constant image, default black)
            or a tensor broadcastable to ``images``.
        steps: points on the straight path (>= 1).
        batch_size: path points per backward pass.
        progress: called with ``(images done, images)`` after each image's path (or
            group of images' paths).

    Returns:
        ``(B, C, H, W)`` attributions like ``images``.

    Raises:
        SpectralTypeError: not a model, not float images, non-integer labels.
        SpectralValueError: bad shapes, NaN, bad ``steps`` or ``baseline``.

    Examples:
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
        >>> x, y = torch.rand(3, 1, 2, 2), torch.tensor([0, 1, 1])
        >>> ig = integrated_gradients(net, x, y, steps=4)
        >>> f = lambda z: net(z).gather(1, y[:, None])[:, 0]
        >>> torch.allclose(ig.sum((1, 2, 3)), f(x) - f(torch.zeros_like(x)), atol=1e-5)
        True
    """
    bs = _check(model, images, labels, batch_size, progress)
    x0 = _check_path(images, baseline, steps)
    alphas = (torch.arange(steps, dtype=images.dtype, device=images.device) + 0.5) / steps
    per_image = max(1, bs // steps)  # images per pass, each with all its path points
    out = []
    with _model_left_as_found(model), torch.enable_grad():
        model.eval()
        for i in range(0, images.shape[0], per_image):
            x = images[i : i + per_image].detach()
            b, y = x0[i : i + per_image], labels[i : i + per_image]
            total = torch.zeros_like(x)
            for k in range(0, steps, bs):
                a = alphas[k : k + bs]
                path = b[None] + a[:, None, None, None, None] * (x - b)[None]
                g = _score_grad(model, path.reshape(-1, *x.shape[1:]), y.repeat(len(a)))
                total += g.reshape(len(a), *x.shape).sum(0)
            out.append((x - b) * total / steps)
            if progress is not None:
                progress(min(images.shape[0], i + per_image), images.shape[0])
    return torch.cat(out)


def mean_frequency(x: torch.Tensor) -> torch.Tensor:
    """Power-weighted mean frequency radius (spectral centroid) per image, DC left out.

    ``sum_f |f| P(f) / sum_f P(f)`` over all non-DC frequencies, with the power of all
    channels summed; in cycles/pixel (white noise: about 0.38 on a square image; smooth
    images: much lower). NaN for an image with no non-DC power.

    Returns:
        ``(B,)`` tensor like ``x``.

    Examples:
        >>> x = torch.zeros(1, 1, 16, 16, dtype=torch.float64)
        >>> x[..., ::2] = 1.0  # all non-DC power at f_x = 1/2
        >>> mean_frequency(x).tolist()
        [0.5]
    """
    check_images(x)
    return _centroid(_power_without_dc(x).sum(1), x)


def _power_without_dc(x: torch.Tensor) -> torch.Tensor:
    """Centred float64 power spectrum ``(B, C, H, W)`` of ``x`` with the DC bin zeroed."""
    p = power_spectrum(x.detach().to(torch.float64), center=True)
    h, w = x.shape[-2:]
    p[..., h // 2, w // 2] = 0.0
    return p


def _centroid(p: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """:func:`mean_frequency` from ``p``, the channel-summed ``(B, H, W)`` DC-free power."""
    r = torch.from_numpy(frequency_radius(*x.shape[-2:])).to(p.device)
    out = (p * r).sum((1, 2)) / p.sum((1, 2))
    return torch.where(_has_spectrum(p, x), out, torch.full_like(out, float("nan"))).to(x.dtype)


def _has_spectrum(p: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``(B,)``: non-DC power above the FFT's round-off (as :func:`spectral.band_energy`).

    ``p`` is the ``(B, H, W)`` power with DC zeroed; round-off of a transform in ``x``'s
    precision is about ``64 eps^2 log2(N)`` of the total energy ``sum x^2``.
    """
    eps = torch.finfo(x.dtype).eps
    n = x.shape[-1] * x.shape[-2]
    energy = x.detach().to(torch.float64).square().sum((1, 2, 3))
    return p.sum((1, 2)) > 64 * eps**2 * math.log2(max(n, 2)) * energy


_SOBEL = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])


def edge_correlation(attributions: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of ``|attribution|`` with the image's Sobel edge magnitude.

    Both are taken on the channel sum (``sum_c |a_c|``; the grey image ``mean_c x_c``),
    so a value near 1 means the attribution is large exactly on the image's edges, as
    for the perceptually aligned gradients of robust models; noise-like gradients give
    values near 0. NaN where either map is constant.

    Returns:
        ``(B,)`` tensor like ``attributions``.

    Raises:
        SpectralValueError: shapes differ, or NaN/Inf.
    """
    check_images(attributions, "attributions")
    check_images(images, "images")
    if attributions.shape != images.shape:
        raise SpectralValueError(
            f"attributions: expected the shape of images {tuple(images.shape)}, "
            f"got {tuple(attributions.shape)}"
        )
    grey = images.to(torch.float64).mean(1, keepdim=True)
    k = _SOBEL.to(grey)
    gx = F.conv2d(F.pad(grey, (1, 1, 1, 1), mode="replicate"), k[None, None])
    gy = F.conv2d(F.pad(grey, (1, 1, 1, 1), mode="replicate"), k.T[None, None])
    edges = torch.hypot(gx, gy).flatten(1)
    mag = attributions.to(torch.float64).abs().sum(1).flatten(1)
    a = mag - mag.mean(1, keepdim=True)
    b = edges - edges.mean(1, keepdim=True)
    corr = (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))
    varies = _varies(mag, attributions.dtype) & _varies(edges, images.dtype)
    return torch.where(varies, corr, torch.full_like(corr, float("nan"))).to(attributions.dtype)


def _varies(v: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``(B,)``: the rows of ``v`` are not constant up to round-off in ``dtype``."""
    span = v.amax(1) - v.amin(1)
    return span > 16 * torch.finfo(dtype).eps * v.abs().amax(1)


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
            "radii": _json_list(self.radii),
            "radial_power": {k: _json_list(v) for k, v in self.radial_power.items()},
            "per_image": {
                "mean_frequency": {k: _json_list(v) for k, v in self.mean_frequency.items()},
                "edge_correlation": {k: _json_list(v) for k, v in self.edge_correlation.items()},
            },
        }


def gradient_spectra(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    steps: int = 32,
    baseline: float | torch.Tensor = 0.0,
    cutoffs: tuple[float, float] = (1 / 8, 1 / 4),
    batch_size: int = 128,
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
        batch_size: images (or path points) per backward pass.
        progress: called with ``(done, total)`` in units of one image's backward pass
            (``total = B * (1 + steps)``).

    Returns:
        A :class:`GradientSpectra`.

    Raises:
        SpectralTypeError: not a model, not float images, non-integer labels.
        SpectralValueError: bad shapes, NaN, bad options.
    """
    cut = check_cutoffs(cutoffs)
    _check(model, images, labels, batch_size, progress)
    _check_path(images, baseline, steps)
    if min(images.shape[-2:]) < 2:
        raise SpectralValueError(
            f"images: expected H and W >= 2 for spectra, got {tuple(images.shape[-2:])}"
        )
    n = images.shape[0]
    work = n * (1 + steps)

    def grad_tick(done: int, _: int) -> None:
        if progress is not None:
            progress(done, work)

    def ig_tick(done: int, _: int) -> None:
        if progress is not None:
            progress(n + done * steps, work)

    grads = input_gradients(model, images, labels, batch_size=batch_size, progress=grad_tick)
    ig = integrated_gradients(
        model,
        images,
        labels,
        baseline=baseline,
        steps=steps,
        batch_size=batch_size,
        progress=ig_tick,
    )
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
