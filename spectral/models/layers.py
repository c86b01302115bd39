"""Layer names and their resolution (one alias table): first_conv, first_relu, ``name:k``."""

from __future__ import annotations

import torch
from torch import nn

from spectral.errors import SpectralTypeError, SpectralValueError
from spectral.models.calls import call_counts, split_call
from spectral.models.formats import ACTIVATIONS, is_exported, module_type, module_types
from spectral.models.graph import graph_calls

__all__ = ["ALIASES", "first_activation_name", "first_conv_name", "layer_names", "resolve_layer"]


ALIASES = ("first_conv", "first_relu")


def _check_model(model: object) -> None:
    if not isinstance(model, nn.Module):
        raise SpectralTypeError(f"model: expected an nn.Module, got {type(model).__name__}")


def _per_call(names: list[str], runs: dict[str, int]) -> list[str]:
    out = []
    for n in names:
        k = runs.get(n, 1)
        out += [f"{n}:{i}" for i in range(k)] if k > 1 else [n]
    return out


def layer_names(model: nn.Module, example_input: torch.Tensor | None = None) -> list[str]:
    """Names accepted by :func:`feature_maps` and :func:`insert_blur`, in model order.

    A module that runs ``n > 1`` times per forward pass (torchvision's BasicBlock calls
    its ``relu`` twice) is addressed per call, ``name:0`` ... ``name:n-1``; the plain name
    is then refused. Those calls are listed when they can be seen: always for a
    ``torch.export`` model (its graph records every call), and for an eager model when
    ``example_input`` is given (the model runs once on it, left as found). TorchScript
    models cannot be run with hooks, so their names are listed plainly.

    Args:
        model: the model.
        example_input: an input the model takes (one image is enough), to list calls.

    Returns:
        The names of ``model.named_modules()`` without the root's empty name (for an
        exported model: the original module paths, in the order they run), a shared
        module's name replaced by its calls.

    Raises:
        SpectralTypeError: ``model`` is not an ``nn.Module``.

    Examples:
        >>> from spectral.models import SmallCNN
        >>> layer_names(SmallCNN(width=4))[:4]
        ['normalize', 'features', 'features.conv1', 'features.bn1']
        >>> relu = nn.ReLU()
        >>> layer_names(nn.Sequential(relu, nn.Linear(2, 2), relu), torch.rand(1, 2))
        ['0:0', '0:1', '1']
    """
    _check_model(model)
    if is_exported(model):
        calls = graph_calls(model)  # type: ignore[arg-type]
        return _per_call([n for n in calls if n], {n: len(c) for n, c in calls.items()})
    names = [n for n, _ in model.named_modules() if n]
    if example_input is None:
        return names
    return _per_call(names, call_counts(model, example_input))


def _known(model: nn.Module) -> list[str]:
    if is_exported(model):
        return [n for n in module_types(model) if n]
    return [n for n, _ in model.named_modules() if n]


def resolve_layer(model: nn.Module, name: str) -> str:
    """The module name for ``name`` (resolving the aliases); raises if there is none.

    Args:
        model: the model.
        name: a name from :func:`layer_names`, or an alias of :data:`ALIASES`
            (``"first_conv"``, ``"first_relu"``), optionally with a call index ``:k``
            (``"layer1.0.relu:1"``: the second call of a module run twice).

    Returns:
        The name as in ``model.named_modules()`` (``name`` itself unless an alias),
        with the ``:k`` kept. Whether the module runs at least ``k + 1`` times shows
        only when the model runs.

    Raises:
        SpectralValueError: an unknown name (the message lists some valid ones), a
            malformed ``:k``, or an alias the model lacks (no ``Conv2d``, or no
            activation after it).
        SpectralTypeError: ``model`` is not an ``nn.Module``.

    Examples:
        >>> from spectral.models import SmallCNN
        >>> m = SmallCNN(width=4)
        >>> resolve_layer(m, "first_relu"), resolve_layer(m, "features.bn1:0")
        ('features.relu1', 'features.bn1:0')
        >>> resolve_layer(m, "conv1")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
            ...
        spectral.errors.SpectralValueError: layers: unknown layer 'conv1'; valid: ...
    """
    _check_model(model)
    base, call = split_call(name)
    suffix = "" if call is None else f":{call}"
    if base == "first_conv":
        return first_conv_name(model) + suffix
    if base == "first_relu":
        return first_activation_name(model) + suffix
    names = _known(model)
    if base not in names:
        shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
        raise SpectralValueError(
            f"layers: unknown layer {name!r}; valid: 'first_conv', 'first_relu', {shown} "
            "(list them all with spectral.layer_names(model, example_input))"
        )
    return name


def first_conv_name(model: nn.Module) -> str:
    """Name of the first 2-D convolution (eager, TorchScript or ``torch.export``).

    Args:
        model: the model.

    Returns:
        The module name (``""`` when ``model`` itself is the ``Conv2d``): the first in
        ``named_modules()`` order, or for an exported model the first to run.

    Raises:
        SpectralValueError: the model has no Conv2d.
        SpectralTypeError: ``model`` is not an ``nn.Module``.

    Examples:
        >>> from spectral.models import SmallCNN
        >>> first_conv_name(SmallCNN(width=4))
        'features.conv1'
        >>> first_conv_name(torch.nn.Conv2d(3, 4, 3))
        ''
    """
    _check_model(model)
    for name, kind in _types(model):
        if kind == "Conv2d":
            return name
    raise SpectralValueError("model: has no nn.Conv2d, so 'first_conv' is undefined")


def _types(model: nn.Module) -> list[tuple[str, str]]:
    if is_exported(model):
        return list(module_types(model).items())
    # subclasses of Conv2d and of the activations count as them
    out = []
    for name, m in model.named_modules():
        kind = module_type(m)
        if isinstance(m, nn.Conv2d):
            kind = "Conv2d"
        for act in ACTIVATIONS:
            if isinstance(m, getattr(nn, act)):
                kind = act
        out.append((name, kind))
    return out


def first_activation_name(model: nn.Module) -> str:
    """Name of the first activation after the first ``Conv2d``: the layer-1 feature maps.

    The activations are those of :data:`~spectral.models.ACTIVATIONS` (ReLU, ReLU6,
    LeakyReLU, GELU, SiLU, ELU, Hardswish, Mish), recognised in TorchScript models by
    their ``original_name`` and in exported ones by their recorded type.

    Args:
        model: the model.

    Returns:
        The module name of that activation.

    Raises:
        SpectralValueError: no Conv2d, or no activation after it.
        SpectralTypeError: ``model`` is not an ``nn.Module``.

    Examples:
        >>> from spectral.models import SmallCNN
        >>> first_activation_name(SmallCNN(width=4))
        'features.relu1'
        >>> first_activation_name(nn.Sequential(nn.ReLU(), nn.Conv2d(3, 4, 3), nn.GELU()))
        '2'
    """
    first = first_conv_name(model)
    seen = False
    for name, kind in _types(model):
        seen = seen or name == first
        if seen and kind in ACTIVATIONS:
            return name
    raise SpectralValueError(
        "model: no activation (" + ", ".join(ACTIVATIONS) + ") after the first conv, "
        "so 'first_relu' is undefined"
    )
