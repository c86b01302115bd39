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
