"""Attack metrics: success rate, L2 dissimilarity, robust accuracy, targeted success."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from spectral._internal.batching import attack_in_batches, resolve_batch_size
from spectral._internal.modelstate import model_left_as_found
from spectral._internal.validate import (
    check_images,
    check_labels,
    check_model,
    check_same_shape,
)
from spectral.errors import SpectralTypeError, SpectralValueError
from spectral.metrics.classification import accuracy, predict

__all__ = ["attack_success_rate", "l2_dissimilarity", "robust_accuracy", "targeted_success_rates"]


def attack_success_rate(
    model: nn.Module,
    clean: torch.Tensor,
    adversarial: torch.Tensor,
    *,
    batch_size: int | None = None,
) -> float:
    """Fraction of predictions altered by an attack, ``mean 1[f(x) != f(x_adv)]``.

    This is the BlurNet definition: it compares the model's predictions on the clean and
    adversarial images and does not look at the true labels.

    Args:
        model: classifier (see :func:`predict`).
        clean: clean images ``(B, C, H, W)``.
        adversarial: their adversarial versions, same shape, dtype and device.
        batch_size: images per forward pass; None (default) sizes it from free memory.

    Returns:
        Success rate in ``[0, 1]`` as a Python float.

    Raises:
        SpectralTypeError: wrong types or differing dtypes.
        SpectralValueError: shapes or devices differ, not 4-D, non-finite values or
            values outside ``[0, 1]``.

    Shape:
        - clean: :math:`(B, C, H, W)`
        - adversarial: :math:`(B, C, H, W)`

    Examples:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 2))
        >>> _ = model[1].weight.data.copy_(torch.tensor([[1.0] * 12, [-1.0] * 12]))
        >>> _ = model[1].bias.data.copy_(torch.tensor([-6.0, 6.0]))  # class 0 iff mean > 0.5
        >>> x = torch.full((4, 3, 2, 2), 0.25)
        >>> attack_success_rate(model, x, x.clone())  # nothing changed
        0.0
        >>> attack_success_rate(model, x, x + 0.5)  # every prediction flips to class 0
        1.0
    """
    check_images(clean, "clean", unit_range=True)
    check_images(adversarial, "adversarial", unit_range=True)
    check_same_shape(clean, adversarial, ("clean", "adversarial"))
    before = predict(model, clean, batch_size=batch_size)
    after = predict(model, adversarial, batch_size=batch_size)
    return float((before != after).double().mean())


def l2_dissimilarity(clean: torch.Tensor, adversarial: torch.Tensor) -> float:
    """Mean relative L2 distance ``1/N sum_n ||x_n - x_adv_n||_2 / ||x_adv_n||_2``.

    Norms are taken over all ``C, H, W`` values of each image (the BlurNet "L2
    dissimilarity" / "L2 distortion"), accumulated in float64.

    Args:
        clean: clean images ``(B, C, H, W)``.
        adversarial: adversarial images, same shape, dtype and device.

    Returns:
        The mean over images as a Python float.

    Raises:
        SpectralTypeError: not real float tensors, or differing dtypes.
        SpectralValueError: shapes or devices differ, not 4-D, non-finite values, or an
            adversarial image that is all zeros (its norm, the denominator, is 0).

    Shape:
        - clean: :math:`(B, C, H, W)`
        - adversarial: :math:`(B, C, H, W)`

    Examples:
        >>> import torch
        >>> x = torch.tensor([3.0, 0.0]).reshape(1, 1, 1, 2)
        >>> x_adv = torch.tensor([3.0, 4.0]).reshape(1, 1, 1, 2)
        >>> l2_dissimilarity(x, x_adv)  # ||(0, -4)|| / ||(3, 4)|| = 4 / 5
        0.8
    """
    check_images(clean, "clean")
    check_images(adversarial, "adversarial")
    check_same_shape(clean, adversarial, ("clean", "adversarial"))
    a = adversarial.detach().flatten(1).double()
    d = clean.detach().flatten(1).double() - a
    denom = torch.linalg.vector_norm(a, dim=1)
    zero = (denom == 0).nonzero().flatten().tolist()
    if zero:
        raise SpectralValueError(
            f"adversarial: expected images with a non-zero L2 norm (the denominator), "
            f"got all-zero images at indices {zero[:10]}"
        )
    return float((torch.linalg.vector_norm(d, dim=1) / denom).mean())


def robust_accuracy(
    model: nn.Module,
    attack: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    batch_size: int | None = None,
) -> float:
    """Accuracy of ``model`` on ``attack(x, y)``, attacked in batches of ``batch_size``.

    Args:
        model: classifier (see :func:`predict`); usually the model the attack targets.
        attack: callable ``attack(images, labels) -> adversarial images``, e.g. a
            torchattacks attack from :func:`spectral.attacks.make_attack`.
        x: clean images ``(B, C, H, W)``.
        y: integer labels ``(B,)``.
        batch_size: images per attack call and per forward pass; None (default) picks
            one from the free memory (:func:`~spectral.metrics.auto_batch_size`). A
            seeded attack draws its random starts per batch (reproducible for a given
            batch size; deterministic attacks give the same result for any size).

    Returns:
        Accuracy on the adversarial images, a Python float in ``[0, 1]``.

    Raises:
        SpectralTypeError: wrong types; ``attack`` not callable.
        SpectralValueError: bad shapes, images outside ``[0, 1]``; the attack returns
            images of another shape.

    Shape:
        - x: :math:`(B, C, H, W)`
        - y: :math:`(B,)`

    Examples:
        >>> import torch
        >>> from spectral.attacks import make_attack
        >>> from spectral.metrics import accuracy
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
        >>> x, y = torch.rand(6, 3, 2, 2), torch.arange(6) % 3
        >>> no_attack = lambda images, labels: images
        >>> robust_accuracy(model, no_attack, x, y) == accuracy(model, x, y)
        True
        >>> pgd = make_attack("pgd", model, eps=0.5, steps=5)
        >>> robust_accuracy(model, pgd, x, y, batch_size=4) <= accuracy(model, x, y)
        True
    """
    check_model(model)
    check_images(x, "x", unit_range=True)
    check_labels(y, x, "y")
    bs = resolve_batch_size(batch_size, model, x, backward=True)
    if not callable(attack):
        raise SpectralTypeError(
            f"attack: expected a callable attack(images, labels), got {type(attack).__name__}"
        )
    with model_left_as_found(model):
        adv = attack_in_batches(attack, x, y, bs)
    return accuracy(model, adv, y, batch_size=bs)


def targeted_success_rates(
    model: nn.Module,
    clean: torch.Tensor,
    labels: torch.Tensor,
    attack_factory: Callable[[], Any],
    *,
    num_classes: int,
    batch_size: int | None = None,
) -> dict[str, Any]:
    """Per-target success rates of a targeted attack, their average and the worst case.

    For every target class ``t``, the images whose label is not ``t`` are attacked
    towards ``t`` by a fresh attack ``attack_factory()`` put in torchattacks' targeted
    mode (``set_mode_targeted_by_label``, called with the fixed target ``t`` for every
    image); the rate for ``t`` is the fraction of them that ``model`` then classifies
    as ``t``. Images already labelled ``t`` are excluded.

    ``"worst"`` is the worst case *for the defender*, i.e. the attacker's best target:
    the maximum over targets, as the "Worst Success Rate" column of the BlurNet
    white-box table (whose values are always above the "Average Success Rate").

    Args:
        model: classifier used to judge success (usually the attacked model).
        clean: clean images ``(B, C, H, W)``.
        labels: their true labels ``(B,)``, integers in ``[0, num_classes)``.
        attack_factory: zero-argument callable returning a torchattacks-style attack
            (with ``set_mode_targeted_by_label`` and ``__call__(images, labels)``).
        num_classes: number of classes ``K >= 2``; every ``t`` in ``range(K)`` is a target.
        batch_size: images per attack call and per forward pass; None (default) picks
            one from the free memory (:func:`~spectral.metrics.auto_batch_size`). A
            seeded attack draws its random starts per batch (reproducible for a given
            batch size; deterministic attacks give the same result for any size).

    Returns:
        ``{"per_target": {t: rate}, "average": mean of the rates, "worst": max of the
        rates, "l2_distortion": mean over targets of l2_dissimilarity(x, x_adv)}``, all
        Python floats (keys of ``per_target`` are ints), and ``"success"``: a float64
        CPU tensor ``(B, num_classes)``, 1.0 where image ``i`` attacked towards ``t`` was
        classified as ``t``, 0.0 where not, NaN where ``labels[i] == t`` (not attacked);
        the per-image outcomes that bootstrap intervals resample.

    Raises:
        SpectralTypeError: wrong types.
        SpectralValueError: bad shapes, images outside ``[0, 1]``, labels outside
            ``[0, num_classes)``, a target with
            no image of another class, or an attack without a targeted mode.

    Shape:
        - clean: :math:`(B, C, H, W)`
        - labels: :math:`(B,)`

    Examples:
        >>> import torch
        >>> from spectral.attacks import make_attack
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
        >>> x, y = torch.rand(6, 3, 2, 2), torch.arange(6) % 3
        >>> r = targeted_success_rates(
        ...     model, x, y, lambda: make_attack("pgd", model, eps=0.5, steps=5), num_classes=3
        ... )
        >>> sorted(r["per_target"]), r["worst"] >= r["average"], r["l2_distortion"] > 0
        ([0, 1, 2], True, True)
    """
    check_model(model)
    check_images(clean, "clean", unit_range=True)
    check_labels(labels, clean, "labels")
    bs = resolve_batch_size(batch_size, model, clean, backward=True)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int):
        raise SpectralTypeError(
            f"num_classes: expected an int >= 2, got {type(num_classes).__name__}"
        )
    if num_classes < 2:
        raise SpectralValueError(f"num_classes: expected an int >= 2, got {num_classes}")
    if int(labels.max()) >= num_classes:
        raise SpectralValueError(
            f"labels: expected values in [0, {num_classes}), got maximum {int(labels.max())}"
        )
    if not callable(attack_factory):
        raise SpectralTypeError(
            f"attack_factory: expected a zero-argument callable returning an attack, "
            f"got {type(attack_factory).__name__}"
        )

    per_target: dict[int, float] = {}
    l2: dict[int, float] = {}
    success = torch.full((labels.shape[0], num_classes), math.nan, dtype=torch.float64)
    for t in range(num_classes):
        keep = labels != t
        n = int(keep.sum())
        if n == 0:
            raise SpectralValueError(
                f"labels: expected images of a class other than target {t}, got all {t}"
            )
        atk = attack_factory()
        set_mode = getattr(atk, "set_mode_targeted_by_label", None)
        if set_mode is None:
            raise SpectralTypeError(
                "attack_factory: expected it to return a torchattacks-style attack with "
                f"set_mode_targeted_by_label, got {type(atk).__name__}"
            )
        try:
            set_mode(quiet=True)
        except ValueError as exc:
            raise SpectralValueError(
                f"attack_factory: {type(atk).__name__} has no targeted mode ({exc})"
            ) from None
        x_t = clean[keep]
        target = torch.full((n,), t, dtype=torch.long, device=clean.device)
        with model_left_as_found(model):
            adv = attack_in_batches(atk, x_t, target, bs)
        pred = predict(model, adv, batch_size=bs)
        per_target[t] = float((pred == t).double().mean())
        success[keep.cpu(), t] = (pred == t).to("cpu", torch.float64)
        l2[t] = l2_dissimilarity(x_t, adv)

    rates = list(per_target.values())
    return {
        "per_target": per_target,
        "average": math.fsum(rates) / len(rates),
        "worst": max(rates),
        "l2_distortion": math.fsum(l2.values()) / len(l2),
        "success": success,
    }
