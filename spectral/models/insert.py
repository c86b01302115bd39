"""Inserting blur layers into a model: at the input, after the first conv or ReLU, or any module."""

from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Any

import torch
from torch import nn

from spectral.errors import SpectralTypeError, SpectralValueError
from spectral.models.blur import BlurKind, BlurLayer, Padding
from spectral.models.calls import shared_error, split_call, unhookable_error
from spectral.models.formats import conv2d_weights, is_exported, is_scripted
from spectral.models.layers import first_activation_name, first_conv_name

__all__ = ["InputBlur", "blur_layers", "insert_blur"]


class _Calls:
    """Counts a module's calls per forward pass of the root model, and checks the count.

    Its methods are the hooks (bound methods, so ``copy.deepcopy`` of the model copies
    this object along with the hooks and the copy stays wired to its own counter).
    """

    def __init__(self, given: str, name: str, call: int | None) -> None:
        self.given, self.name, self.call, self.n = given, name, call, 0

    def reset(self, _m: nn.Module, _args: Any) -> None:
        self.n = 0

    def count(self, _m: nn.Module, _args: Any, _out: Any) -> None:
        self.n += 1

    def verify(self, _m: nn.Module, _args: Any, _out: Any) -> None:
        if (self.call is None and self.n > 1) or (self.call is not None and self.call >= self.n):
            raise shared_error(self.given, self.name, self.n, "position")


class _Then(nn.Module):
    """``second(first(x))``, or with ``calls`` only on the call ``calls.call`` of a pass.

    Used where the parent of the blurred module is not Sequential, and for ``name:k``.
    """

    def __init__(self, first: nn.Module, second: nn.Module, calls: _Calls | None = None) -> None:
        super().__init__()
        self.first = first
        self.second = second
        self.calls = calls

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply ``first`` then (on the addressed call) ``second``."""
        out = self.first(x)
        c = self.calls
        if c is None or c.call is None or c.call == c.n:  # c.n: this call's index
            out = self.second(out)
        return out


class InputBlur(nn.Module):
    """Blur the input image, then run ``model`` (images stay in [0, 1])."""

    def __init__(self, blur: BlurLayer, model: nn.Module) -> None:
        super().__init__()
        self.blur = blur
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Blur ``x`` and classify it."""
        return self.model(self.blur(x))


def _out_channels(model: nn.Module, name: str) -> int:
    """Channels of ``name``'s output.

    Its own ``out_channels``/``num_features``, or else (an activation, dropout, ...) those
    of the nearest Conv2d/BatchNorm2d before it.
    """
    last: int | None = None
    for n, m in model.named_modules():
        if isinstance(m, nn.Flatten | nn.Linear):  # reached before `name`: output not 4-D
            raise SpectralValueError(
                f"position {name!r}: expected a module with (B, C, H, W) output; it comes at "
                f"or after {type(m).__name__} {n!r}"
            )
        own = m.out_channels if isinstance(m, nn.Conv2d) else None
        own = m.num_features if isinstance(m, nn.BatchNorm2d) else own
        if n == name:
            channels = own if own is not None else last
            if channels is None:
                raise SpectralValueError(
                    f"position {name!r}: cannot tell how many channels {type(m).__name__} "
                    "outputs; insert after a Conv2d, BatchNorm2d or an activation that follows one"
                )
            return channels
        if own is not None:
            last = own
    raise SpectralValueError(f"position {name!r}: not a module of the model")


def insert_blur(
    model: nn.Module,
    position: str,
    *,
    kernel_size: int = 3,
    kind: str | BlurKind = "box",
    learnable: bool = False,
    sigma: float | None = None,
    padding: str | Padding = "reflect",
) -> nn.Module:
    """A copy of ``model`` with a :class:`BlurLayer` inserted; ``model`` is left untouched.

    Args:
        model: the model (taking images in [0, 1]).
        position: ``"input"`` (blur the image), ``"first_conv"`` (right after the first
            ``Conv2d``), ``"first_relu"`` (after the first activation that follows it: the
            layer-1 feature maps after the non-linearity), or the name of any module (as
            in ``model.named_modules()``) whose output is ``(B, C, H, W)``. A module that
            runs several times per forward pass (a shared ``ReLU``) takes ``name:k``,
            blurring only its ``k``-th call (from 0); its plain name, as in
            :func:`feature_maps`, is refused when the new model runs, by a line listing
            the ``name:k``. Note that a
            fixed blur, the same for every channel, right after a bias-free conv commutes
            with it: ``"first_conv"`` then equals ``"input"`` up to the border padding.
        kernel_size: odd kernel side.
        kind: ``"box"`` or ``"gaussian"``.
        learnable: train the blur kernels.
        sigma: Gaussian width.
        padding: padding mode of the blur (see :class:`BlurLayer`).

    Returns:
        A new model in the same training mode as ``model``. When the module sits in an
        ``nn.Sequential`` the blur becomes its next sibling, named ``<name>_blur``, so the
        other state-dict keys are unchanged; elsewhere, and always for ``name:k``, the
        module is wrapped as ``<name>.first`` followed by ``<name>.second`` (the blur);
        ``"input"`` wraps the whole model as ``blur`` + ``model``.

    Raises:
        SpectralValueError: an unknown position (the message lists the valid names), a
            module whose channel count cannot be told, a position inside a TorchScript
            model ("TorchScript models cannot be hooked; load the model as
            'package.module:factory' with --weights ...") or a ``torch.export`` one
            (only ``"input"`` works there); when the new model runs: a plain name of a
            module that ran more than once, or a ``:k`` beyond its calls.
        SpectralTypeError: ``model`` is not an ``nn.Module``.

    Examples:
        >>> from spectral.models import SmallCNN
        >>> m = insert_blur(SmallCNN(width=4), "first_conv", kernel_size=5)
        >>> [n for n, _ in m.features.named_children()][:3]
        ['conv1', 'conv1_blur', 'bn1']
        >>> relu = nn.ReLU()
        >>> twice = nn.Sequential(nn.Conv2d(3, 3, 1), relu, nn.Conv2d(3, 3, 1), relu)
        >>> blurred = insert_blur(twice, "1:1")  # the second call of the shared ReLU
        >>> type(blurred[1]).__name__, blurred(torch.rand(1, 3, 8, 8)).shape
        ('_Then', torch.Size([1, 3, 8, 8]))
    """
    if not isinstance(model, nn.Module):
        raise SpectralTypeError(f"model: expected an nn.Module, got {type(model).__name__}")
    options: dict[str, Any] = {
        "kernel_size": kernel_size,
        "kind": kind,
        "learnable": learnable,
        "sigma": sigma,
        "padding": padding,
    }
    new = copy.deepcopy(model)  # keeps every module's own training flag
    if position == "input":
        blur = BlurLayer(_input_channels(new), **options).train(model.training)
        wrapped = InputBlur(blur, new)
        wrapped.training = model.training  # not .train(): that would reset the inner flags
        return wrapped
    if is_exported(new):
        raise SpectralValueError(
            f"position {position!r}: a torch.export (.pt2) graph cannot be edited; use "
            "position 'input', or load the model as 'package.module:factory' with --weights"
        )
    base, call = split_call(position)
    aliases = {"first_conv": first_conv_name, "first_relu": first_activation_name}
    name = aliases[base](new) if base in aliases else base
    modules = dict(new.named_modules())
    if name not in modules or (name == "" and base not in aliases):
        valid = [n for n in modules if n]
        shown = ", ".join(valid[:12]) + (", ..." if len(valid) > 12 else "")
        raise SpectralValueError(
            f"position: unknown module {position!r}; use 'input', 'first_conv', 'first_relu' "
            f"or one of: {shown} (all of them, with 'name:k' for shared modules: "
            "spectral.layer_names(model, example_input))"
        )
    parts = name.split(".") if name else []
    if any(is_scripted(modules[".".join(parts[:i])]) for i in range(len(parts) + 1)):
        raise unhookable_error("position")
    target = modules[name]
    blur = BlurLayer(_out_channels(new, name), **options).train(target.training)
    calls = _Calls(position, name, call)
    if name == "":  # the model itself is the module to blur after (e.g. a bare Conv2d)
        then = _Then(new, blur)
        then.training = model.training
        return then
    parent_name, _, child = name.rpartition(".")
    parent = modules[parent_name] if parent_name else new
    registered = sum(m is target for _, m in new.named_modules(remove_duplicate=False))
    if isinstance(parent, nn.Sequential) and call is None and registered == 1:
        items = []
        for key, sub in parent.named_children():
            items.append((key, sub))
            if key == child:
                items.append((f"{child}_blur", blur))
        # re-order the (copied) container in place: it keeps its class, flags and hooks
        # (e.g. the input normalisation of with_normalization)
        parent._modules.clear()
        parent._modules.update(OrderedDict(items))
        return new  # no hooks: the sibling runs once per run of the Sequential
    else:
        then = _Then(target, blur, calls)
        then.training = target.training
        # every name the module is registered under (one ReLU in two Sequential slots)
        for alias, m in list(new.named_modules(remove_duplicate=False)):
            if m is target and alias:
                _set_module(new, alias, then)
        then.register_forward_hook(calls.count)
        # the root resets the count before each pass and checks it after
        new.register_forward_pre_hook(calls.reset)
        new.register_forward_hook(calls.verify)
    return new


def _set_module(root: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, module)


def _input_channels(model: nn.Module) -> int:
    first = first_conv_name(model)
    conv = dict(model.named_modules()).get(first)
    channels = getattr(conv, "in_channels", None)  # eager and TorchScript convs
    return int(channels) if channels is not None else conv2d_weights(model)[first].shape[1]


def blur_layers(model: nn.Module) -> dict[str, BlurLayer]:
    """The :class:`BlurLayer` modules of ``model`` by name.

    Args:
        model: any module, e.g. one returned by :func:`insert_blur`.

    Returns:
        ``{name: layer}`` in ``model.named_modules()`` order (empty if there is none).

    Examples:
        >>> from spectral.models import SmallCNN
        >>> m = insert_blur(SmallCNN(width=4), "first_conv")
        >>> {n: layer.kernel_size for n, layer in blur_layers(m).items()}
        {'features.conv1_blur': 3}
        >>> blur_layers(SmallCNN(width=4))
        {}
    """
    return {n: m for n, m in model.named_modules() if isinstance(m, BlurLayer)}
