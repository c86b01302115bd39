"""Layer feature maps: forward hooks (eager models) or the graph (``torch.export`` models)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import fx, nn

from spectral._internal.modelstate import model_left_as_found, set_eval
from spectral.errors import SpectralValueError
from spectral.models.calls import shared_error, split_call, unhookable_error
from spectral.models.formats import is_exported, is_scripted
from spectral.models.graph import graph_calls, run_graph
from spectral.models.layers import resolve_layer

__all__ = ["feature_maps"]


def feature_maps(
    model: nn.Module,
    x: torch.Tensor,
    layers: str | Sequence[str],
    *,
    batch_size: int | None = None,
) -> dict[str, torch.Tensor]:
    """Outputs of the named modules for input ``x``, in eval mode, without gradients.

    Eager models are read with forward hooks; a ``torch.export`` model (a ``.pt2``) by
    running its graph and keeping the output node of each named module (the module
    names are the original ones, recorded in the graph). The model is left as found:
    hooks are removed and every module's training flag is restored, also when the
    forward pass fails.

    A module that runs several times per forward pass (a shared ``ReLU``) is addressed
    per call as ``name:k`` (``k`` from 0); its plain name is refused with a line listing
    the calls (:func:`layer_names` with an example input lists them too).

    Args:
        model: any ``nn.Module`` taking ``x`` (not TorchScript: it cannot be hooked).
        x: input batch.
        layers: a name or names from :func:`layer_names` (``name:k`` for one call of a
            shared module), or the aliases ``"first_conv"`` / ``"first_relu"``.
        batch_size: run the model on slices of this size (outputs concatenated).

    Returns:
        ``{name as given: output tensor}`` (on ``x``'s device).

    Raises:
        SpectralValueError: unknown layer (the message says how to list them), no layer
            names, an empty batch, ``batch_size < 1``, a layer that did not run, a plain
            name of a module that runs more than once per forward pass or a call ``:k``
            it does not reach (both list the valid ``name:k``), a layer that does not
            output a tensor, or a TorchScript layer ("TorchScript models cannot be
            hooked; load the model as 'package.module:factory' with --weights ...").
        SpectralTypeError: ``model`` is not an ``nn.Module``.

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
        >>> relu = torch.nn.ReLU()
        >>> twice = torch.nn.Sequential(relu, torch.nn.Linear(2, 2), relu)
        >>> sorted(feature_maps(twice, torch.rand(3, 2), ["0:0", "0:1"]))
        ['0:0', '0:1']
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
    wanted = {n: split_call(resolve_layer(model, n)) for n in names}
    step = x.shape[0] if batch_size is None else batch_size
    if is_exported(model):
        return _graph_maps(model, x, wanted, step)  # type: ignore[arg-type]
    modules = dict(model.named_modules())
    if any(is_scripted(modules[base]) for base, _ in wanted.values()):
        raise unhookable_error("layers")
    bases = {base for base, _ in wanted.values()}
    runs = dict.fromkeys(bases, 0)  # calls in the current slice
    most = dict.fromkeys(bases, 0)  # the most calls in any slice
    outputs: dict[str, list[torch.Tensor]] = {n: [] for n in names}
    handles = []
    for base in bases:

        def hook(_m: nn.Module, _i: Any, out: Any, base: str = base) -> None:
            k = runs[base]
            runs[base] += 1
            for given, (b, call) in wanted.items():
                if b == base and call in (None, k):
                    if not isinstance(out, torch.Tensor):
                        raise SpectralValueError(f"layers: {given!r} outputs {type(out).__name__}")
                    # clone: a later in-place op (ReLU(inplace=True)) would overwrite it
                    outputs[given].append(out.detach().clone())

        handles.append(modules[base].register_forward_hook(hook))
    try:
        with model_left_as_found(model), torch.no_grad():
            set_eval(model)
            for i in range(0, x.shape[0], step):
                runs.update(dict.fromkeys(bases, 0))
                model(x[i : i + step])
                most.update({b: max(most[b], runs[b]) for b in bases})
    finally:
        for h in handles:
            h.remove()
    _check_runs(wanted, most)
    return {n: torch.cat(v) for n, v in outputs.items()}


def _check_runs(wanted: dict[str, tuple[str, int | None]], runs: dict[str, int]) -> None:
    missing = [n for n, (base, _) in wanted.items() if not runs[base]]
    if missing:
        raise SpectralValueError(f"layers: {missing} did not run in the forward pass")
    for given, (base, call) in wanted.items():
        if (call is None and runs[base] > 1) or (call is not None and call >= runs[base]):
            raise shared_error(given, base, runs[base])


def _graph_maps(
    model: fx.GraphModule, x: torch.Tensor, wanted: dict[str, tuple[str, int | None]], step: int
) -> dict[str, torch.Tensor]:
    calls = graph_calls(model)
    _check_runs(wanted, {base: len(calls.get(base, [])) for base, _ in wanted.values()})
    nodes = {given: calls[base][call or 0] for given, (base, call) in wanted.items()}
    outputs: dict[str, list[torch.Tensor]] = {n: [] for n in wanted}
    with model_left_as_found(model), torch.no_grad():
        for i in range(0, x.shape[0], step):
            values = run_graph(model, x[i : i + step], set(nodes.values()))
            for given, node in nodes.items():
                out = values[node]
                if not isinstance(out, torch.Tensor):
                    raise SpectralValueError(f"layers: {given!r} outputs {type(out).__name__}")
                outputs[given].append(out)
    return {n: torch.cat(v) for n, v in outputs.items()}
