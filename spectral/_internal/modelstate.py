"""Running a caller's model without changing it: modes, grads, logits, memory layout."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from spectral.errors import SpectralValueError

__all__ = [
    "apply_forward_pre_hooks",
    "channels_last",
    "model_left_as_found",
    "model_logits",
    "set_eval",
]


@contextlib.contextmanager
def model_left_as_found(model: nn.Module) -> Iterator[None]:
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


def set_eval(model: nn.Module) -> None:
    """``model.eval()``, also for a ``torch.export`` module that refuses to change mode.

    An exported module (``torch.export.load(p).module()``) raises NotImplementedError from
    ``.eval()``/``.train()``: its graph is fixed in the mode it was exported in (spectral's
    loader expects eval). Then only the ``training`` flags are set to False, which
    :func:`model_left_as_found` restores like any other.
    """
    try:
        model.eval()
    except NotImplementedError:
        for m in model.modules():
            m.training = False


def model_logits(
    model: nn.Module, x: torch.Tensor, labels: torch.Tensor | None = None
) -> torch.Tensor:
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


@contextmanager
def channels_last(model: nn.Module, enable: bool) -> Iterator[None]:
    """Run ``model`` with channels-last 4-D weights (~2-3x faster small convs on the CPU).

    Only materialised 4-D parameters and buffers are converted, and exactly those get
    their original tensors back on exit, so the model is left as found (a lazy module
    that materialises during the run keeps its new weights).
    """
    saved = []
    if enable:
        for t in [*model.parameters(), *model.buffers()]:
            if not nn.parameter.is_lazy(t) and t.ndim == 4:
                saved.append((t, t.data))
                t.data = t.data.contiguous(memory_format=torch.channels_last)
    try:
        yield
    finally:
        for t, data in saved:
            t.data = data


def apply_forward_pre_hooks(
    model: nn.Module, args: tuple[Any, ...]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``(args, kwargs)`` after ``model``'s own forward pre-hooks, as ``nn.Module.__call__``.

    For code that runs a model's graph without calling it (``torch.fx`` interpreters), so
    hooks such as :func:`spectral.models.with_normalization`'s still apply.

    Examples:
        >>> net = nn.Identity()
        >>> _ = net.register_forward_pre_hook(lambda m, a: (a[0] * 2,))
        >>> apply_forward_pre_hooks(net, (torch.ones(1),))
        ((tensor([2.]),), {})
    """
    kwargs: dict[str, Any] = {}
    for hook_id, hook in list(model._forward_pre_hooks.items()):
        if hook_id in model._forward_pre_hooks_with_kwargs:
            result = hook(model, args, kwargs)
            if result is not None:
                args, kwargs = result
        else:
            result = hook(model, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
    return args, kwargs
