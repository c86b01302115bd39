"""run_attack: any attack on many images, in batches sized from memory."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from spectral._internal.batching import attack_in_batches, resolve_batch_size
from spectral._internal.validate import check_images, check_labels, check_model

__all__ = ["run_attack"]


def run_attack(
    attack: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    batch_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Adversarial examples ``attack(x, y)``, computed ``batch_size`` images at a time.

    A 224-pixel ResNet-18 attack holds ~27 MB per image, so a thousand images at once
    would not fit in memory; batches keep the peak bounded by the batch.

    Args:
        attack: ``attack(images, labels) -> adversarial images`` (e.g. from
            :func:`spectral.make_attack`, built on ``model``).
        model: the attacked model (sizes the default batch).
        x: images in [0, 1].
        y: labels.
        batch_size: images per attack call; None sizes it from free memory
            (:func:`spectral.metrics.auto_batch_size`, with a backward pass).
        progress: called as ``progress(done, total)`` after each batch.

    Returns:
        The adversarial images, like ``x``. A seeded :func:`spectral.make_attack` attack
        reseeds on every call, so random starts are drawn per batch: reproducible for a
        batch size, equal across batch sizes only for deterministic attacks.

    Raises:
        SpectralValueError: bad images or labels, a ``batch_size`` below 1, or an attack
            returning something else than images of the batch's shape.
        SpectralTypeError: ``model`` is not an ``nn.Module``.

    Shape:
        - x: :math:`(B, C, H, W)`; y: :math:`(B,)`
        - Output: :math:`(B, C, H, W)`

    Examples:
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
        >>> x, y = torch.rand(5, 3, 2, 2), torch.tensor([0, 1, 2, 0, 1])
        >>> calls = []
        >>> adv = run_attack(lambda a, b: calls.append(len(a)) or a * 0, net, x, y, batch_size=2)
        >>> calls, float(adv.abs().sum())
        ([2, 2, 1], 0.0)
    """
    check_model(model)
    check_images(x, "x", unit_range=True)
    check_labels(y, x)
    bs = resolve_batch_size(batch_size, model, x, backward=True)
    return attack_in_batches(attack, x, y, bs, progress)
