"""An attacker who knows the Fourier detector: PGD on the classifier's loss minus its score."""

from __future__ import annotations

import torch
from torch import nn

from spectral._internal.batching import resolve_batch_size
from spectral._internal.modelstate import model_left_as_found, set_eval
from spectral._internal.validate import check_float, check_images, check_int, check_labels
from spectral.defenses.detector import Detector
from spectral.errors import SpectralValueError

__all__ = ["detector_aware_pgd"]

MARGIN = 1.0  # hinge margin of both losses (logits / log-odds)


def detector_aware_pgd(
    model: nn.Module,
    detector: Detector,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float = 8 / 255,
    steps: int = 20,
    step_size: float | None = None,
    weight: float = 1.0,
    seed: int = 0,
    batch_size: int | None = None,
) -> torch.Tensor:
    """L-inf PGD that fools the classifier and evades the detector (an adaptive attack).

    Each step descends, per image, ``g_f / |g_f|_1 + weight * g_d / |g_d|_1``: the
    gradients of the classifier's hinge ``relu(z_y - max_{j != y} z_j + 1)`` and of the
    detector's hinge ``relu(d(x') + 1)``, where ``d`` is the detector's decision value
    (log-odds of "adversarial", differentiated through the torch FFT features, the
    scaler and the logistic regression). The hinges stop pushing once an image is
    misclassified (or passes the detector) with a margin of 1; normalising each gradient
    keeps either loss from drowning the other. It starts at a uniform random point of
    the ``eps`` ball and returns, per image, the misclassified iterate with the lowest
    detector score (the last iterate if none was misclassified).

    Args:
        model: the classifier (eval mode, left as found).
        detector: a fitted :class:`~spectral.defenses.Detector` (its ``model`` is the
            classifier for Layer* features).
        x: images ``(B, C, H, W)`` in ``[0, 1]``.
        y: their labels.
        eps: L-inf budget in ``(0, 1]``.
        steps: PGD iterations (>= 1).
        step_size: step (> 0); None means ``2.5 * eps / steps`` (Madry et al.).
        weight: weight of the detector's gradient against the classifier's (>= 0; 0 is
            a plain margin-loss PGD with the selection above).
        seed: seed of the random start.
        batch_size: images per step (default: from memory).

    Returns:
        Adversarial images like ``x``, within ``eps`` of it and in ``[0, 1]``.

    Raises:
        SpectralValueError: bad images, labels, eps, steps, step size or weight.

    Shape:
        - x: :math:`(B, C, H, W)`; y: :math:`(B,)`
        - Output: :math:`(B, C, H, W)`

    Examples:
        >>> from spectral.defenses import Detector
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 2))
        >>> x = torch.rand(6, 3, 2, 2) * 0.5
        >>> det = Detector.fit(x, (x + 0.4).clamp(0, 1), "InputMFS")
        >>> adv = detector_aware_pgd(net, det, x, torch.zeros(6, dtype=torch.long), steps=3)
        >>> bool((adv - x).abs().max() <= 8 / 255 + 1e-6)
        True
    """
    check_images(x, "x", unit_range=True)
    check_labels(y, x)
    eps = check_float(eps, "eps")
    if eps > 1:
        raise SpectralValueError(f"eps: expected an L-inf budget in (0, 1], got {eps:g}")
    steps = check_int(steps, "steps", 1)
    step = 2.5 * eps / steps if step_size is None else check_float(step_size, "step_size")
    weight = check_float(weight, "weight", strict=False)
    seed = check_int(seed, "seed", 0)
    bs = resolve_batch_size(batch_size, model, x, backward=True)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    start = (torch.rand(x.shape, generator=gen, dtype=x.dtype) * 2 - 1).to(x.device) * eps
    out = []
    with model_left_as_found(model):
        set_eval(model)
        for i in range(0, x.shape[0], bs):
            xb, yb = x[i : i + bs], y[i : i + bs]
            out.append(
                _attack(model, detector, xb, yb, start[i : i + bs], eps, steps, step, weight)
            )
    return torch.cat(out)


def _hinge_grad(loss: torch.Tensor, adv: torch.Tensor, keep: bool) -> torch.Tensor:
    """Per-image gradient of ``loss`` (``(B,)``), scaled to unit L1 norm per image."""
    (g,) = torch.autograd.grad(loss.sum(), adv, retain_graph=keep)
    return g / g.abs().flatten(1).sum(1).clamp_min(1e-30)[:, None, None, None]


def _attack(
    model: nn.Module,
    detector: Detector,
    x: torch.Tensor,
    y: torch.Tensor,
    start: torch.Tensor,
    eps: float,
    steps: int,
    step: float,
    weight: float,
) -> torch.Tensor:
    adv = (x + start).clamp(0, 1)
    best = adv.clone()
    best_d = torch.full((x.shape[0],), float("inf"), dtype=torch.float64, device=x.device)
    for t in range(steps + 1):
        adv = adv.detach().requires_grad_(True)
        logits = model(adv)
        d = detector.decision_function(adv, grad=True)
        still = logits.argmax(1) == y
        with torch.no_grad():  # keep the least suspicious misclassified iterate
            better = ~still & (d < best_d)
            best[better] = adv[better]
            best_d = torch.where(better, d, best_d)
        if t == steps:
            break
        true = logits.gather(1, y[:, None])[:, 0]
        other = logits.scatter(1, y[:, None], float("-inf")).amax(1)
        g = _hinge_grad((true - other + MARGIN).relu(), adv, keep=True)
        if weight > 0:
            g = g + weight * _hinge_grad((d + MARGIN).relu(), adv, keep=False)
        with torch.no_grad():
            adv = x + (adv - step * g.sign() - x).clamp(-eps, eps)
            adv = adv.clamp(0, 1)
    found = torch.isfinite(best_d)
    return torch.where(found[:, None, None, None], best, adv.detach())
