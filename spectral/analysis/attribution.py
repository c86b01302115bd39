"""Input gradients and integrated gradients of a classifier."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from spectral._internal.batching import resolve_batch_size
from spectral._internal.modelstate import model_left_as_found, model_logits, set_eval
from spectral._internal.progress import Progress
from spectral._internal.validate import (
    check_batch_size,
    check_images,
    check_labels,
    check_model,
)
from spectral.errors import SpectralTypeError, SpectralValueError

__all__ = ["input_gradients", "integrated_gradients"]


def _score_grad(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Gradient of ``sum_i f(x_i)[y_i]`` with respect to ``x`` (no graph kept)."""
    xg = x.detach().requires_grad_(True)
    scores = model_logits(model, xg, y).gather(1, y[:, None])[:, 0]
    (g,) = torch.autograd.grad(scores.sum(), xg)
    return g


def _check(model: Any, images: Any, labels: Any, batch_size: Any, progress: Any = None) -> None:
    if progress is not None and not callable(progress):
        raise SpectralTypeError(f"progress: expected a callable, got {type(progress).__name__}")
    check_model(model)
    check_images(images, "images")
    check_labels(labels, images)
    if batch_size is not None:
        check_batch_size(batch_size)


def input_gradients(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    batch_size: int | None = None,
    progress: Progress = None,
) -> torch.Tensor:
    """Gradient of each image's class score (the logit of its label) w.r.t. the image.

    Args:
        model: classifier on ``(B, C, H, W)`` images in ``[0, 1]`` returning logits
            ``(B, K)``; evaluated in eval mode and left as found (``.grad`` untouched).
        images: ``(B, C, H, W)`` images.
        labels: ``(B,)`` classes whose score is differentiated (true labels, or the
            model's predictions from :func:`spectral.predict`).
        batch_size: images per backward pass; None (default)
            sizes it from the free memory (:func:`~spectral.metrics.auto_batch_size`).
        progress: called with ``(images done, images)`` after each pass.

    Returns:
        ``(B, C, H, W)`` gradients like ``images``.

    Raises:
        SpectralTypeError: not a model, not float images, non-integer labels, a
            non-int ``batch_size`` or a ``progress`` that is not callable.
        SpectralValueError: bad shapes, NaN, labels out of the model's range,
            ``batch_size < 1``, or a model whose output is not ``(B, K)`` logits.

    Shape:
        - images: :math:`(B, C, H, W)`
        - labels: :math:`(B,)`
        - Output: :math:`(B, C, H, W)`

    Examples:
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
        >>> g = input_gradients(net, torch.rand(3, 1, 2, 2), torch.tensor([0, 1, 1]))
        >>> torch.equal(g[0].flatten(), net[1].weight[0].detach())
        True
    """
    _check(model, images, labels, batch_size, progress)
    bs = resolve_batch_size(batch_size, model, images, backward=True)
    out = []
    n = images.shape[0]
    with model_left_as_found(model), torch.enable_grad():
        set_eval(model)
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
    batch_size: int | None = None,
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
        batch_size: path points per backward pass; None (default)
            sizes it from the free memory (:func:`~spectral.metrics.auto_batch_size`).
        progress: called with ``(images done, images)`` after each image's path (or
            group of images' paths).

    Returns:
        ``(B, C, H, W)`` attributions like ``images``.

    Raises:
        SpectralTypeError: not a model, not float images, non-integer labels, a
            ``baseline`` that is neither a number nor a tensor, a non-int ``batch_size``
            or a ``progress`` that is not callable.
        SpectralValueError: bad shapes, NaN, labels out of the model's range, ``steps``
            that is not an int >= 1, a ``baseline`` tensor that does not broadcast, a
            non-finite ``baseline``, ``batch_size < 1``.

    Shape:
        - images: :math:`(B, C, H, W)`
        - labels: :math:`(B,)`
        - baseline: a number or a tensor broadcastable to :math:`(B, C, H, W)`
        - Output: :math:`(B, C, H, W)`

    Examples:
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
        >>> x, y = torch.rand(3, 1, 2, 2), torch.tensor([0, 1, 1])
        >>> ig = integrated_gradients(net, x, y, steps=4)
        >>> f = lambda z: net(z).gather(1, y[:, None])[:, 0]
        >>> torch.allclose(ig.sum((1, 2, 3)), f(x) - f(torch.zeros_like(x)), atol=1e-5)
        True
    """
    _check(model, images, labels, batch_size, progress)
    x0 = _check_path(images, baseline, steps)
    bs = resolve_batch_size(batch_size, model, images, backward=True)
    alphas = (torch.arange(steps, dtype=images.dtype, device=images.device) + 0.5) / steps
    per_image = max(1, bs // steps)  # images per pass, each with all its path points
    out = []
    with model_left_as_found(model), torch.enable_grad():
        set_eval(model)
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
