"""First-layer (or any layer's) feature maps through forward hooks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from spectral._internal.modelstate import model_left_as_found
from spectral.errors import SpectralValueError
from spectral.models.layers import resolve_layer

__all__ = ["feature_maps"]


def feature_maps(
    model: nn.Module,
    x: torch.Tensor,
    layers: str | Sequence[str],
    *,
    batch_size: int | None = None,
) -> dict[str, torch.Tensor]:
    """Outputs of the named modules for input ``x``, via forward hooks, in eval mode.

    The model is left as found: hooks are removed and every module's training flag is
    restored, also when the forward pass fails. No gradients are recorded.

    Args:
        model: any ``nn.Module`` taking ``x``.
        x: input batch.
        layers: a name or names from :func:`layer_names`, or the aliases ``"first_conv"``
            / ``"first_relu"``.
        batch_size: run the model on slices of this size (outputs concatenated).

    Returns:
        ``{name as given: output tensor}`` (on ``x``'s device).

    Raises:
        SpectralValueError: unknown layer (the message says how to list them), no layer
            names, an empty batch, ``batch_size < 1``, a layer that did not run, ran more
            than once per forward pass, or does not output a tensor.
        SpectralTypeError: ``model`` is not an ``nn.Module`` (for layers given by name
            rather than by alias).

    Shape:
        - x: :math:`(B, *)`, what ``model`` takes, e.g. :math:`(B, C, H, W)`
        - Output: each map :math:`(B, *)`, the layer's output, e.g. :math:`(B, K, H', W')`

    Examples:
        >>> from spectral.models import SmallCNN
        >>> maps = feature_maps(SmallCNN(width=4), torch.rand(2, 3, 32, 32), "first_conv")
        >>> maps["first_conv"].shape
        torch.Size([2, 4, 32, 32])
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
        >>> out = feature_maps(net, torch.rand(5, 3, 2, 2), ["0", "1"], batch_size=2)
        >>> out["0"].shape, out["1"].shape  # three slices of at most 2, concatenated
        (torch.Size([5, 12]), torch.Size([5, 3]))
    """
    names = [layers] if isinstance(layers, str) else list(layers)
    if not names:
        raise SpectralValueError("layers: expected at least one layer name, got none")
    if not isinstance(x, torch.Tensor) or x.ndim == 0 or x.shape[0] == 0:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise SpectralValueError(f"x: expected a non-empty batch, got {shape}")
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
    ):
        raise SpectralValueError(f"batch_size: expected an int >= 1, got {batch_size!r}")
    resolved = {n: resolve_layer(model, n) for n in names}
    modules = dict(model.named_modules())
    outputs: dict[str, list[torch.Tensor]] = {n: [] for n in names}
    calls: dict[str, int] = dict.fromkeys(names, 0)
    handles = []
    for given, real in resolved.items():

        def hook(_m: nn.Module, _i: Any, out: Any, given: str = given) -> None:
            if not isinstance(out, torch.Tensor):
                raise SpectralValueError(f"layers: {given!r} outputs {type(out).__name__}")
            calls[given] += 1
            # clone: a later in-place op (ReLU(inplace=True)) would overwrite the stored map
            outputs[given].append(out.detach().clone())

        handles.append(modules[real].register_forward_hook(hook))
    step = x.shape[0] if batch_size is None else batch_size
    n_slices = 0
    try:
        with model_left_as_found(model), torch.no_grad():
            model.eval()
            for i in range(0, x.shape[0], step):
                model(x[i : i + step])
                n_slices += 1
    finally:
        for h in handles:
            h.remove()
    missing = [n for n, v in outputs.items() if not v]
    if missing:
        raise SpectralValueError(f"layers: {missing} did not run in the forward pass")
    repeated = {n: c // n_slices for n, c in calls.items() if c != n_slices}
    if repeated:
        raise SpectralValueError(
            f"layers: {sorted(repeated)} run more than once per forward pass (a shared module); "
            "its output is ambiguous, pick a module that runs once"
        )
    return {n: torch.cat(v) for n, v in outputs.items()}
