"""Per-call addressing of modules that run several times per forward pass (``name:k``).

torchvision's BasicBlock calls its one ``relu`` twice; ``"layer1.0.relu"`` alone is then
ambiguous, and ``"layer1.0.relu:0"`` / ``"layer1.0.relu:1"`` name the first and second
call. Both :func:`~spectral.models.feature_maps` and :func:`~spectral.models.insert_blur`
follow one rule: a plain name addresses a module that runs once per forward pass; for
a module that runs ``n > 1`` times it is refused with a line listing ``name:0`` ...
``name:n-1``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from spectral._internal.modelstate import model_left_as_found, set_eval
from spectral.errors import SpectralValueError
from spectral.models.formats import is_scripted

__all__ = ["call_counts", "calls_hint", "shared_error", "split_call", "unhookable_error"]


def split_call(name: str) -> tuple[str, int | None]:
    """Split ``"layer1.0.relu:1"`` into ``("layer1.0.relu", 1)``; a plain name gives None.

    Args:
        name: a layer name, optionally with ``:k`` (``k >= 0``, the k-th call, from 0).

    Returns:
        ``(module name, call index or None)``.

    Raises:
        SpectralValueError: a ``:`` suffix that is not a non-negative integer.

    Examples:
        >>> split_call("layer1.0.relu:1"), split_call("conv1")
        (('layer1.0.relu', 1), ('conv1', None))
    """
    base, sep, index = name.rpartition(":")
    if not sep:
        return name, None
    if not index.isdigit():
        raise SpectralValueError(
            f"layers: {name!r}: expected 'name:k' with k a call index 0, 1, ..., got {index!r}"
        )
    return base, int(index)


def calls_hint(name: str, runs: int) -> str:
    """The valid per-call names of a module that runs ``runs`` times: ``'a:0', 'a:1'``.

    Args:
        name: the module name (no ``:k``).
        runs: how many times it runs per forward pass.

    Returns:
        The names, quoted and comma-separated.

    Examples:
        >>> calls_hint("layer1.0.relu", 2)
        "'layer1.0.relu:0', 'layer1.0.relu:1'"
    """
    return ", ".join(repr(f"{name}:{k}") for k in range(runs))


def shared_error(given: str, base: str, runs: int, what: str = "layers") -> SpectralValueError:
    """The error for a plain name of a shared module, or for a call index out of range.

    Args:
        given: the name as given (``base`` or ``base:k``).
        base: the module name.
        runs: how many times the module runs per forward pass.
        what: the argument named at the start of the message.

    Returns:
        The :class:`~spectral.errors.SpectralValueError` to raise (one line).

    Examples:
        >>> print(shared_error("relu", "relu", 2))  # doctest: +NORMALIZE_WHITESPACE
        layers: 'relu' runs 2 times per forward pass (a shared module);
        address one call: 'relu:0', 'relu:1'
    """
    if given == base:
        return SpectralValueError(
            f"{what}: {given!r} runs {runs} times per forward pass (a shared module); "
            f"address one call: {calls_hint(base, runs)}"
        )
    return SpectralValueError(
        f"{what}: {given!r}: the module runs {runs} time{'s' * (runs != 1)} per forward pass; "
        f"valid: {calls_hint(base, runs) if runs else 'none (it does not run)'}"
    )


def unhookable_error(what: str) -> SpectralValueError:
    """The error for a TorchScript module asked for what needs hooks or editing.

    Args:
        what: the argument named at the start of the message.

    Returns:
        The :class:`~spectral.errors.SpectralValueError` to raise (one line, saying what
        to pass instead).

    Examples:
        >>> print(unhookable_error("layers"))  # doctest: +ELLIPSIS
        layers: TorchScript models cannot be hooked; load the model as ...
    """
    return SpectralValueError(
        f"{what}: TorchScript models cannot be hooked; load the model as "
        "'package.module:factory' with --weights (or save it with torch.export as a .pt2)"
    )


def call_counts(model: nn.Module, example_input: torch.Tensor) -> dict[str, int]:
    """How many times each submodule runs in one forward pass on ``example_input``.

    Runs the model once (eval mode, no gradients) with counting forward hooks; the model
    is left as found.

    Args:
        model: an eager model (TorchScript modules cannot be hooked and count 0).
        example_input: an input the model takes, e.g. one image ``(1, C, H, W)``.

    Returns:
        ``{name: runs}`` for every submodule (the root excluded), in
        ``named_modules()`` order.

    Examples:
        >>> relu = nn.ReLU()
        >>> call_counts(nn.Sequential(relu, nn.Sequential(relu)), torch.rand(1, 2))
        {'0': 2, '1': 1}
    """
    counts: dict[str, int] = {}
    handles = []
    for name, m in model.named_modules():
        if not name or is_scripted(m):
            continue
        counts[name] = 0

        def count(_m: nn.Module, _i: Any, _o: Any, name: str = name) -> None:
            counts[name] += 1

        handles.append(m.register_forward_hook(count))
    try:
        with model_left_as_found(model), torch.no_grad():
            set_eval(model)
            model(example_input)
    finally:
        for h in handles:
            h.remove()
    return counts
