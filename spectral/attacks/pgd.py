"""A torchattacks-free L-inf PGD for training loops (bf16 autocast, channels-last)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from spectral._internal.modelstate import model_left_as_found

__all__ = ["pgd_attack"]


def pgd_attack(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    alpha: float,
    steps: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """L-inf PGD with a uniform random start (Madry et al.), deterministic for a generator.

    Used for the zoo's robust-accuracy measurement (:func:`evaluate`); every module's
    training flag and the parameter gradients are left as found.

    The start is drawn uniformly from the ``eps`` ball; each of the ``steps`` steps adds
    ``alpha * sign(grad)`` of the cross-entropy, then projects back onto the ``eps`` ball
    and the ``[0, 1]`` image range. The model runs in eval mode. Arguments are not
    validated (a fast inner loop); use :func:`make_attack` for checked attacks.

    Args:
        model: classifier on images in ``[0, 1]`` returning logits ``(B, K)``.
        x: clean images in ``[0, 1]``.
        y: their true labels (integers in ``[0, K)``).
        eps: L-inf radius of the perturbation.
        alpha: step size.
        steps: number of steps (0: only the random start).
        generator: CPU generator of the random start (``None``: the global RNG).

    Returns:
        The adversarial images, detached, on ``x``'s device, within ``eps`` of ``x`` and
        in ``[0, 1]``.

    Shape:
        - x: :math:`(B, C, H, W)`
        - y: :math:`(B,)`
        - Output: :math:`(B, C, H, W)`

    Examples:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
        >>> x, y = torch.rand(2, 3, 2, 2), torch.tensor([0, 1])
        >>> def run(seed):
        ...     g = torch.Generator().manual_seed(seed)
        ...     return pgd_attack(model, x, y, eps=8 / 255, alpha=2 / 255, steps=3, generator=g)
        >>> adv = run(0)
        >>> adv.shape, bool((adv - x).abs().max() <= 8 / 255 + 1e-6)
        (torch.Size([2, 3, 2, 2]), True)
        >>> bool(adv.min() >= 0 and adv.max() <= 1), torch.equal(adv, run(0))  # deterministic
        (True, True)
    """
    with model_left_as_found(model):
        model.eval()
        noise = torch.rand(x.shape, generator=generator, dtype=x.dtype)
        delta = ((2 * noise - 1) * eps).to(x.device)
        delta = (x + delta).clamp(0, 1) - x
        for _ in range(steps):
            delta.requires_grad_(True)
            loss = F.cross_entropy(model(x + delta), y)
            (grad,) = torch.autograd.grad(loss, delta)
            delta = (delta.detach() + alpha * grad.sign()).clamp(-eps, eps)
            delta = (x + delta).clamp(0, 1) - x
    return (x + delta).detach()
