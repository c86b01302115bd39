"""A torchattacks-free L-inf PGD (bf16, channels-last): the training probe and its evaluation."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from spectral._internal.modelstate import model_left_as_found
from spectral.data.dataset import ImageDataset
from spectral.metrics.classification import accuracy, predict

__all__ = ["pgd_attack", "pgd_evaluation"]


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


def pgd_evaluation(
    model: nn.Module,
    data: ImageDataset,
    *,
    eps: float = 8 / 255,
    steps: int = 10,
    seed: int = 0,
    batch_size: int = 250,
    pgd_images: int = 0,
) -> dict[str, float]:
    """Clean accuracy and PGD-``steps`` (L-inf ``eps``, step ``eps/4``) robust accuracy.

    Clean accuracy is measured on all of ``data``; PGD on all of it, or with
    ``pgd_images > 0`` on a class-balanced subset of that many images (seeded), recorded
    as ``n_pgd``.
    """
    g = torch.Generator().manual_seed(seed)
    clean = accuracy(model, data.images, data.labels)
    pgd_data = data.subset(pgd_images, seed=seed) if 0 < pgd_images < len(data) else data
    x, y = pgd_data.images, pgd_data.labels
    robust = 0
    for i in range(0, len(x), batch_size):
        yb = y[i : i + batch_size]
        xa = pgd_attack(
            model, x[i : i + batch_size], yb, eps=eps, alpha=eps / 4, steps=steps, generator=g
        )
        robust += int((predict(model, xa) == yb).sum())
    return {
        "clean_accuracy": clean,
        f"pgd{steps}_accuracy": robust / len(x),
        "eps": eps,
        "n_test": len(data),
        "n_pgd": len(x),
    }
