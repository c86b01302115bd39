"""Black-box transfer: craft on a surrogate, evaluate on a target."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from spectral._internal.batching import attack_in_batches, resolve_batch_size
from spectral._internal.validate import check_images, check_labels, check_model
from spectral.attacks.factory import AttackName, make_attack, parse_attack_name
from spectral.metrics.attack import attack_success_rate, l2_dissimilarity
from spectral.metrics.classification import accuracy

__all__ = ["TransferResult", "transfer_attack"]


@dataclass(frozen=True)
class TransferResult:
    """Outcome of a black-box transfer attack (crafted on a surrogate, run on a target).

    Attributes:
        adversarial: adversarial images ``(B, C, H, W)`` crafted on the surrogate.
        surrogate_success_rate: :func:`~spectral.metrics.attack_success_rate` on the surrogate.
        target_success_rate: the same on the target (the black-box success rate).
        target_clean_accuracy: target accuracy on the clean images.
        target_adversarial_accuracy: target accuracy on the adversarial images.
        l2_dissimilarity: :func:`~spectral.metrics.l2_dissimilarity` of the images.
        attack: the attack name.
        eps: the perturbation budget passed to :func:`make_attack`.
    """

    adversarial: torch.Tensor
    surrogate_success_rate: float
    target_success_rate: float
    target_clean_accuracy: float
    target_adversarial_accuracy: float
    l2_dissimilarity: float
    attack: str
    eps: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable numbers (the adversarial images are left out; save the tensor)."""
        return {
            "attack": self.attack,
            "eps": self.eps,
            "n_images": int(self.adversarial.shape[0]),
            "surrogate_success_rate": self.surrogate_success_rate,
            "target_success_rate": self.target_success_rate,
            "target_clean_accuracy": self.target_clean_accuracy,
            "target_adversarial_accuracy": self.target_adversarial_accuracy,
            "l2_dissimilarity": self.l2_dissimilarity,
        }


def transfer_attack(
    surrogate: nn.Module,
    target: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    attack: AttackName | str = "pgd",
    eps: float = 8 / 255,
    steps: int = 10,
    batch_size: int | None = None,
    **kw: Any,
) -> TransferResult:
    """Black-box transfer: craft adversarial images on ``surrogate``, evaluate on ``target``.

    The attacker never queries ``target``; both models are left as found.

    Args:
        surrogate: model the attack sees (white-box).
        target: model under evaluation (black-box).
        images: clean images ``(B, C, H, W)`` in ``[0, 1]``.
        labels: true labels ``(B,)`` (target labels if ``targeted=True`` is passed in ``kw``).
        attack: attack name (see :func:`make_attack`).
        eps: perturbation budget.
        steps: attack iterations.
        batch_size: images per attack call and per forward pass; None (default) picks
            one from the free memory (:func:`~spectral.metrics.auto_batch_size`). A
            seeded attack draws its random starts per batch.
        **kw: further options for :func:`make_attack` (``step_size``, ``seed``, ``targeted``, ...).

    Returns:
        A :class:`TransferResult`.

    Raises:
        SpectralTypeError: wrong types.
        SpectralValueError: bad shapes or options (see :func:`make_attack`).

    Shape:
        - images: :math:`(B, C, H, W)`
        - labels: :math:`(B,)`
        - Output: ``adversarial`` :math:`(B, C, H, W)`

    Examples:
        >>> import torch
        >>> surrogate = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
        >>> target = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
        >>> x, y = torch.rand(4, 3, 2, 2), torch.tensor([0, 1, 2, 0])
        >>> r = transfer_attack(surrogate, target, x, y, attack="PGD", eps=8 / 255, steps=5)
        >>> r.adversarial.shape, r.attack, r.to_dict()["n_images"]
        (torch.Size([4, 3, 2, 2]), 'pgd', 4)
        >>> bool((r.adversarial - x).abs().max() <= 8 / 255 + 1e-6)
        True
    """
    check_model(surrogate, "surrogate")
    check_model(target, "target")
    check_images(images, "images", unit_range=True)
    check_labels(labels, images, "labels")
    atk = make_attack(attack, surrogate, eps=eps, steps=steps, **kw)
    bs = resolve_batch_size(batch_size, surrogate, images, backward=True)
    adv = attack_in_batches(atk, images, labels, bs)
    fwd = resolve_batch_size(batch_size, target, images, backward=False)
    return TransferResult(
        adversarial=adv,
        surrogate_success_rate=attack_success_rate(surrogate, images, adv, batch_size=bs),
        target_success_rate=attack_success_rate(target, images, adv, batch_size=fwd),
        target_clean_accuracy=accuracy(target, images, labels, batch_size=fwd),
        target_adversarial_accuracy=accuracy(target, adv, labels, batch_size=fwd),
        l2_dissimilarity=l2_dissimilarity(images, adv),
        attack=parse_attack_name(attack).value,
        eps=float(eps),
    )
