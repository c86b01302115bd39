"""Classification and attack metrics: accuracy, attack success rate, L2 dissimilarity.

The attack metrics follow the BlurNet slides:

* **attack success rate** — the fraction of predictions *altered* by an attack,
  ``1/N sum_n 1[f(x_n) != f(x_adv_n)]``. It compares the model's two predictions and
  ignores the true label, so an image that was misclassified before and is classified
  as another wrong class afterwards counts as a success, and one whose wrong prediction
  is left unchanged does not.
* **L2 dissimilarity** — ``1/N sum_n ||x_n - x_adv_n||_2 / ||x_adv_n||_2`` (norms over all
  of ``C, H, W`` of each image). A strong attacker has a high success rate and a low
  dissimilarity.
* **targeted success rates** — for each target class, the fraction of the images of
  other classes that an attack towards that class gets classified as it; their average
  and maximum are the "Average" and "Worst Success Rate" of the BlurNet white-box table.

Models are ``nn.Module`` s taking ``(B, C, H, W)`` images in ``[0, 1]`` and returning
logits ``(B, K)``. Every function here leaves the model as found: it is evaluated in
``eval`` mode without gradients, and each module's ``training`` flag is put back after.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

from spectral._validate import check_images, check_same_shape
from spectral.errors import SpectralTypeError, SpectralValueError

__all__ = [
    "accuracy",
    "attack_success_rate",
    "l2_dissimilarity",
    "predict",
    "robust_accuracy",
    "targeted_success_rates",
]


# --------------------------------------------------------------------------------------
# helpers shared with spectral.attacks
# --------------------------------------------------------------------------------------


def _check_model(model: Any, name: str = "model") -> nn.Module:
    if not isinstance(model, nn.Module):
        raise SpectralTypeError(
            f"{name}: expected a torch.nn.Module returning logits, got {type(model).__name__}"
        )
    return model


def _check_batch_size(batch_size: Any) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int):
        raise SpectralTypeError(
            f"batch_size: expected an int >= 1, got {type(batch_size).__name__}"
        )
    if batch_size < 1:
        raise SpectralValueError(f"batch_size: expected an int >= 1, got {batch_size}")
    return batch_size


def _check_labels(y: Any, x: torch.Tensor, name: str = "labels") -> torch.Tensor:
    """Validate integer labels of shape ``(B,)`` matching the batch ``x``."""
    if not isinstance(y, torch.Tensor):
        raise SpectralTypeError(
            f"{name}: expected a torch.Tensor of integer labels, got {type(y).__name__}"
        )
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise SpectralTypeError(
            f"{name}: expected an integer dtype (e.g. torch.long), got {y.dtype}"
        )
    if y.shape != (x.shape[0],):
        raise SpectralValueError(
            f"{name}: expected shape ({x.shape[0]},) (one label per image), got {tuple(y.shape)}"
        )
    if y.device != x.device:
        raise SpectralValueError(
            f"{name}: expected the device of the images ({x.device}), got {y.device}"
        )
    if y.numel() and int(y.min()) < 0:
        raise SpectralValueError(f"{name}: expected labels >= 0, got minimum {int(y.min())}")
    return y


@contextlib.contextmanager
def _model_left_as_found(model: nn.Module) -> Iterator[None]:
    """Restore every module's ``training`` flag and every parameter's ``.grad`` on exit.

    Also on an exception. Gradients that an attack accumulates into the parameters
    (``loss.backward()`` inside some torchattacks attacks) are discarded: a parameter whose
    ``.grad`` was ``None`` gets ``None`` back, an existing ``.grad`` tensor gets its values back.
    """
    flags = [(m, m.training) for m in model.modules()]
    grads = [
        (p, p.grad, None if p.grad is None else p.grad.detach().clone()) for p in model.parameters()
    ]
    try:
        yield
    finally:
        for m, flag in flags:
            m.training = flag
        for p, grad, saved in grads:
            if grad is not None and saved is not None:
                with torch.no_grad():
                    grad.copy_(saved)
            p.grad = grad


def _logits(model: nn.Module, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """``model(x)``, checked to be ``(B, K)`` logits (and ``K`` to cover ``labels``)."""
    out = model(x)
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != x.shape[0]:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise SpectralValueError(
            f"model: expected logits of shape ({x.shape[0]}, num_classes), got {got}"
        )
    if labels is not None and labels.numel() and int(labels.max()) >= out.shape[1]:
        raise SpectralValueError(
            f"labels: expected values < {out.shape[1]} (the model's classes), "
            f"got {int(labels.max())}"
        )
    return out


# --------------------------------------------------------------------------------------
# public metrics
# --------------------------------------------------------------------------------------


def predict(model: nn.Module, x: torch.Tensor, *, batch_size: int = 256) -> torch.Tensor:
    """Predicted classes ``argmax f(x)``, computed in eval mode without gradients.

    Args:
        model: classifier taking ``(B, C, H, W)`` images in ``[0, 1]`` and returning
            logits ``(B, K)``. Its ``training`` flags are restored afterwards.
        x: images ``(B, C, H, W)``, float32/float64, finite.
        batch_size: images per forward pass.

    Returns:
        ``torch.long`` tensor ``(B,)`` on ``x``'s device.

    Raises:
        SpectralTypeError: ``model`` is not an ``nn.Module``, ``x`` not a real float tensor.
        SpectralValueError: ``x`` not 4-D or not finite; the model does not return
            ``(B, K)`` logits; ``batch_size < 1``.

    Examples:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
        >>> predict(model, torch.rand(3, 1, 2, 2)).shape
        torch.Size([3])
    """
    _check_model(model)
    check_images(x, "x")
    bs = _check_batch_size(batch_size)
    preds = []
    with _model_left_as_found(model), torch.no_grad():
        model.eval()
        for start in range(0, x.shape[0], bs):
            chunk = x[start : start + bs]
            preds.append(_logits(model, chunk).argmax(dim=1))
    return torch.cat(preds).to(device=x.device, dtype=torch.long)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 256) -> float:
    """Fraction of images whose prediction equals the label, ``mean 1[f(x) == y]``.

    Args:
        model: classifier (see :func:`predict`).
        x: images ``(B, C, H, W)``.
        y: integer labels ``(B,)`` on ``x``'s device.
        batch_size: images per forward pass.

    Returns:
        Accuracy in ``[0, 1]`` as a Python float.

    Raises:
        SpectralTypeError: wrong types (see :func:`predict`), non-integer labels.
        SpectralValueError: bad shapes, non-finite images, negative labels.
    """
    check_images(x, "x")
    _check_labels(y, x, "y")
    pred = predict(model, x, batch_size=batch_size)
    return float((pred == y).double().mean())


def attack_success_rate(
    model: nn.Module,
    clean: torch.Tensor,
    adversarial: torch.Tensor,
    *,
    batch_size: int = 256,
) -> float:
    """Fraction of predictions altered by an attack, ``mean 1[f(x) != f(x_adv)]``.

    This is the BlurNet definition: it compares the model's predictions on the clean and
    adversarial images and does not look at the true labels.

    Args:
        model: classifier (see :func:`predict`).
        clean: clean images ``(B, C, H, W)``.
        adversarial: their adversarial versions, same shape, dtype and device.
        batch_size: images per forward pass.

    Returns:
        Success rate in ``[0, 1]`` as a Python float.

    Raises:
        SpectralTypeError: wrong types or differing dtypes.
        SpectralValueError: shapes or devices differ, not 4-D, non-finite values.
    """
    check_images(clean, "clean")
    check_images(adversarial, "adversarial")
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
    batch_size: int = 256,
) -> float:
    """Accuracy of ``model`` on ``attack(x, y)``, attacked in batches of ``batch_size``.

    Args:
        model: classifier (see :func:`predict`); usually the model the attack targets.
        attack: callable ``attack(images, labels) -> adversarial images``, e.g. a
            torchattacks attack from :func:`spectral.attacks.make_attack`.
        x: clean images ``(B, C, H, W)``.
        y: integer labels ``(B,)``.
        batch_size: images per attack call and per forward pass.

    Returns:
        Accuracy on the adversarial images, a Python float in ``[0, 1]``.

    Raises:
        SpectralTypeError: wrong types; ``attack`` not callable.
        SpectralValueError: bad shapes; the attack returns images of another shape.
    """
    _check_model(model)
    check_images(x, "x")
    _check_labels(y, x, "y")
    bs = _check_batch_size(batch_size)
    if not callable(attack):
        raise SpectralTypeError(
            f"attack: expected a callable attack(images, labels), got {type(attack).__name__}"
        )
    with _model_left_as_found(model):
        adv = _attack_in_batches(attack, x, y, bs)
    return accuracy(model, adv, y, batch_size=bs)


def targeted_success_rates(
    model: nn.Module,
    clean: torch.Tensor,
    labels: torch.Tensor,
    attack_factory: Callable[[], Any],
    *,
    num_classes: int,
    batch_size: int = 256,
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
        batch_size: images per attack call and per forward pass.

    Returns:
        ``{"per_target": {t: rate}, "average": mean of the rates, "worst": max of the
        rates, "l2_distortion": mean over targets of l2_dissimilarity(x, x_adv)}``, all
        Python floats (keys of ``per_target`` are ints).

    Raises:
        SpectralTypeError: wrong types.
        SpectralValueError: bad shapes, labels outside ``[0, num_classes)``, a target with
            no image of another class, or an attack without a targeted mode.
    """
    _check_model(model)
    check_images(clean, "clean")
    _check_labels(labels, clean, "labels")
    bs = _check_batch_size(batch_size)
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
        with _model_left_as_found(model):
            adv = _attack_in_batches(atk, x_t, target, bs)
        pred = predict(model, adv, batch_size=bs)
        per_target[t] = float((pred == t).double().mean())
        l2[t] = l2_dissimilarity(x_t, adv)

    rates = list(per_target.values())
    return {
        "per_target": per_target,
        "average": math.fsum(rates) / len(rates),
        "worst": max(rates),
        "l2_distortion": math.fsum(l2.values()) / len(l2),
    }


def _attack_in_batches(
    attack: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
) -> torch.Tensor:
    """Run ``attack`` on consecutive batches and check what it returns."""
    out = []
    for start in range(0, x.shape[0], batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        adv = attack(xb, yb)
        if not isinstance(adv, torch.Tensor) or adv.shape != xb.shape:
            got = tuple(adv.shape) if isinstance(adv, torch.Tensor) else type(adv).__name__
            raise SpectralValueError(
                f"attack: expected adversarial images of shape {tuple(xb.shape)}, got {got}"
            )
        out.append(adv.detach().to(device=x.device, dtype=x.dtype))
    return torch.cat(out)
