"""Layer names and their resolution (one alias table): first_conv, first_relu, ..."""

from __future__ import annotations

from torch import nn

from spectral.errors import SpectralTypeError, SpectralValueError

__all__ = ["ALIASES", "first_activation_name", "first_conv_name", "layer_names", "resolve_layer"]


ALIASES = ("first_conv", "first_relu")


def layer_names(model: nn.Module) -> list[str]:
    """Names accepted by :func:`feature_maps`: every submodule, in registration order.

    Args:
        model: the model.

    Returns:
        The names of ``model.named_modules()`` without the root's empty name.

    Raises:
        SpectralTypeError: ``model`` is not an ``nn.Module``.

    Examples:
        >>> from spectral.models import SmallCNN
        >>> layer_names(SmallCNN(width=4))[:4]
        ['normalize', 'features', 'features.conv1', 'features.bn1']
    """
    if not isinstance(model, nn.Module):
        raise SpectralTypeError(f"model: expected an nn.Module, got {type(model).__name__}")
    return [n for n, _ in model.named_modules() if n]


def resolve_layer(model: nn.Module, name: str) -> str:
    """The module name for ``name`` (resolving the aliases); raises if there is none.

    Args:
        model: the model.
        name: a name from :func:`layer_names`, or an alias of :data:`ALIASES`
            (``"first_conv"``, ``"first_relu"``).

    Returns:
        The name as in ``model.named_modules()`` (``name`` itself unless an alias).

    Raises:
        SpectralValueError: an unknown name (the message lists some valid ones), or an
            alias the model lacks (no ``Conv2d``, or no ``ReLU`` after it).
        SpectralTypeError: ``model`` is not an ``nn.Module`` (for a name that is not an
            alias).

    Examples:
        >>> from spectral.models import SmallCNN
        >>> m = SmallCNN(width=4)
        >>> resolve_layer(m, "first_relu"), resolve_layer(m, "features.bn1")
        ('features.relu1', 'features.bn1')
        >>> resolve_layer(m, "conv1")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
            ...
        spectral.errors.SpectralValueError: layers: unknown layer 'conv1'; valid: ...
    """
    if name == "first_conv":
        return first_conv_name(model)
    if name == "first_relu":
        return first_activation_name(model)
    names = layer_names(model)
    if name not in names:
        shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
        raise SpectralValueError(
            f"layers: unknown layer {name!r}; valid: 'first_conv', 'first_relu', {shown} "
            "(list them all with spectral.layer_names(model))"
        )
    return name


def first_conv_name(model: nn.Module) -> str:
    """Name of the first ``nn.Conv2d`` in ``model.named_modules()`` order.

    Args:
        model: the model.

    Returns:
        The module name (``""`` when ``model`` itself is the ``Conv2d``).

    Raises:
        SpectralValueError: the model has no Conv2d.

    Examples:
        >>> from spectral.models import SmallCNN
        >>> first_conv_name(SmallCNN(width=4))
        'features.conv1'
        >>> import torch
        >>> first_conv_name(torch.nn.Conv2d(3, 4, 3))
        ''
    """
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            return name
    raise SpectralValueError("model: has no nn.Conv2d, so 'first_conv' is undefined")


def first_activation_name(model: nn.Module) -> str:
    """Name of the first ``nn.ReLU`` after the first ``Conv2d``: the layer-1 feature maps.

    Args:
        model: the model.

    Returns:
        The module name of that ``ReLU``.

    Raises:
        SpectralValueError: no Conv2d, or no ReLU after it.

    Examples:
        >>> from spectral.models import SmallCNN
        >>> first_activation_name(SmallCNN(width=4))
        'features.relu1'
        >>> from torch import nn
        >>> first_activation_name(nn.Sequential(nn.ReLU(), nn.Conv2d(3, 4, 3), nn.ReLU()))
        '2'
    """
    first = first_conv_name(model)
    seen = False
    for name, m in model.named_modules():
        seen = seen or name == first
        if seen and isinstance(m, nn.ReLU):
            return name
    raise SpectralValueError("model: no nn.ReLU after the first conv, so 'first_relu' is undefined")
