"""Predictions and accuracy of a classifier on image batches."""

from __future__ import annotations

import torch
from torch import nn

from spectral._internal.batching import resolve_batch_size
from spectral._internal.modelstate import model_left_as_found, model_logits, set_eval
from spectral._internal.validate import check_images, check_labels, check_model

__all__ = ["accuracy", "predict"]


def predict(model: nn.Module, x: torch.Tensor, *, batch_size: int | None = None) -> torch.Tensor:
    """Predicted classes ``argmax f(x)``, computed in eval mode without gradients.

    Args:
        model: classifier taking ``(B, C, H, W)`` images in ``[0, 1]`` and returning
            logits ``(B, K)``. Its ``training`` flags are restored afterwards.
        x: images ``(B, C, H, W)``, float32/float64, in ``[0, 1]``.
        batch_size: images per forward pass; None (default) picks one from the free memory
            (:func:`~spectral.metrics.auto_batch_size`, no backward pass).

    Returns:
        ``torch.long`` tensor ``(B,)`` on ``x``'s device.

    Raises:
        SpectralTypeError: ``model`` is not an ``nn.Module``, ``x`` not a real float tensor.
        SpectralValueError: ``x`` not 4-D, not finite or outside ``[0, 1]`` (e.g. pixel
            values 0..255 not divided by 255); the model does not return
            ``(B, K)`` logits; ``batch_size < 1``.

    Shape:
        - x: :math:`(B, C, H, W)`
        - Output: :math:`(B,)`

    Examples:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
        >>> predict(model, torch.rand(3, 1, 2, 2)).shape
        torch.Size([3])
    """
    check_model(model)
    check_images(x, "x", unit_range=True)
    bs = resolve_batch_size(batch_size, model, x, backward=False)
    preds = []
    with model_left_as_found(model), torch.no_grad():
        set_eval(model)
        for start in range(0, x.shape[0], bs):
            chunk = x[start : start + bs]
            preds.append(model_logits(model, chunk).argmax(dim=1))
    return torch.cat(preds).to(device=x.device, dtype=torch.long)


def accuracy(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int | None = None
) -> float:
    """Fraction of images whose prediction equals the label, ``mean 1[f(x) == y]``.

    Args:
        model: classifier (see :func:`predict`).
        x: images ``(B, C, H, W)``.
        y: integer labels ``(B,)`` on ``x``'s device.
        batch_size: images per forward pass; None (default) sizes it from free memory.

    Returns:
        Accuracy in ``[0, 1]`` as a Python float.

    Raises:
        SpectralTypeError: wrong types (see :func:`predict`), non-integer labels.
        SpectralValueError: bad shapes, non-finite images or images outside ``[0, 1]``,
            negative labels.

    Shape:
        - x: :math:`(B, C, H, W)`
        - y: :math:`(B,)`

    Examples:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
        >>> _ = torch.nn.init.zeros_(model[1].weight)
        >>> _ = model[1].bias.data.copy_(torch.tensor([0.0, 0.0, 1.0]))  # always class 2
        >>> accuracy(model, torch.rand(4, 3, 2, 2), torch.tensor([0, 1, 2, 2]))
        0.5
    """
    check_images(x, "x", unit_range=True)
    check_labels(y, x, "y")
    pred = predict(model, x, batch_size=batch_size)
    return float((pred == y).double().mean())
