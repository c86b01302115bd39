"""What a loaded model exposes: eager modules, TorchScript modules, ``torch.export`` graphs.

TorchScript submodules keep their class name in ``original_name`` and their weights, but
refuse hooks; a ``torch.export`` module (``torch.export.load(p).module()``) lists only the
modules that hold parameters, while its graph nodes carry the original module paths in
``node.meta["nn_module_stack"]``. The helpers here answer "which layers, of which type,
with which weights" the same way for all three.
"""

from __future__ import annotations

import torch
from torch import fx, nn

from spectral.errors import SpectralTypeError

__all__ = [
    "ACTIVATIONS",
    "conv2d_weights",
    "is_activation",
    "is_conv2d",
    "is_exported",
    "is_scripted",
    "module_type",
    "module_types",
]

#: Class names of the activations ``"first_relu"`` recognises.
ACTIVATIONS = ("ReLU", "ReLU6", "LeakyReLU", "GELU", "SiLU", "ELU", "Hardswish", "Mish")

_ACTIVATION_CLASSES = tuple(getattr(nn, a) for a in ACTIVATIONS)


def is_scripted(module: nn.Module) -> bool:
    """Whether ``module`` is a TorchScript module (no hooks; types by ``original_name``).

    Args:
        module: any module.

    Returns:
        True for a ``torch.jit.ScriptModule``.

    Examples:
        >>> is_scripted(torch.jit.script(nn.ReLU())), is_scripted(nn.ReLU())
        (True, False)
    """
    return isinstance(module, torch.jit.ScriptModule)


def is_exported(model: nn.Module) -> bool:
    """Whether ``model`` is a ``torch.export`` graph (``torch.export.load(p).module()``).

    Args:
        model: any module.

    Returns:
        True for an ``fx.GraphModule`` whose operations carry ``nn_module_stack``
        metadata and that calls no submodule other than export's guard function.

    Examples:
        >>> is_exported(nn.Conv2d(3, 4, 3))
        False
        >>> ep = torch.export.export(nn.Sequential(nn.ReLU()), (torch.rand(1, 2),))
        >>> is_exported(ep.module())
        True
    """
    if not isinstance(model, fx.GraphModule):
        return False
    graph = model.graph
    nodes = list(graph.nodes) if isinstance(graph, fx.Graph) else []
    called = [n for n in nodes if n.op == "call_module" and n.target != "_guards_fn"]
    return not called and any(
        n.op == "call_function" and n.meta.get("nn_module_stack") for n in nodes
    )


def module_type(module: nn.Module) -> str:
    """The class name of ``module``; for TorchScript the scripted class's (``original_name``).

    Args:
        module: any module.

    Returns:
        E.g. ``"Conv2d"``, also for a scripted ``Conv2d``.

    Examples:
        >>> module_type(torch.jit.script(nn.Conv2d(3, 4, 3))), module_type(nn.GELU())
        ('Conv2d', 'GELU')
    """
    if is_scripted(module):
        return str(getattr(module, "original_name", type(module).__name__))
    return type(module).__name__


def is_conv2d(module: nn.Module) -> bool:
    """Whether ``module`` is an ``nn.Conv2d`` (or a scripted one).

    Args:
        module: any module.

    Returns:
        True for an ``nn.Conv2d`` (subclasses included) or a TorchScript ``Conv2d``.

    Examples:
        >>> is_conv2d(torch.jit.script(nn.Conv2d(3, 4, 3))), is_conv2d(nn.Linear(2, 2))
        (True, False)
    """
    return isinstance(module, nn.Conv2d) or (
        is_scripted(module) and module_type(module) == "Conv2d"
    )


def is_activation(module: nn.Module) -> bool:
    """Whether ``module`` is one of :data:`ACTIVATIONS` (eager or scripted).

    Args:
        module: any module.

    Returns:
        True for ReLU, ReLU6, LeakyReLU, GELU, SiLU, ELU, Hardswish or Mish.

    Examples:
        >>> is_activation(nn.GELU()), is_activation(torch.jit.script(nn.SiLU()))
        (True, True)
        >>> is_activation(nn.Sigmoid())
        False
    """
    if isinstance(module, _ACTIVATION_CLASSES):
        return True
    return is_scripted(module) and module_type(module) in ACTIVATIONS


def module_types(model: nn.Module) -> dict[str, str]:
    """Every layer's class name by its module name (the root is ``""``).

    For an eager or TorchScript model this is ``named_modules()`` order; for a
    ``torch.export`` graph it is the order in which the modules first run, read from
    the nodes' ``nn_module_stack``.

    Args:
        model: any module.

    Returns:
        ``{name: class name}``.

    Raises:
        SpectralTypeError: ``model`` is not an ``nn.Module``.

    Examples:
        >>> module_types(nn.Sequential(nn.Conv2d(3, 4, 3), nn.GELU()))
        {'': 'Sequential', '0': 'Conv2d', '1': 'GELU'}
    """
    if not isinstance(model, nn.Module):
        raise SpectralTypeError(f"model: expected an nn.Module, got {type(model).__name__}")
    if not is_exported(model):
        return {n: module_type(m) for n, m in model.named_modules()}
    types: dict[str, str] = {}
    graph = model.graph
    assert isinstance(graph, fx.Graph)  # is_exported checked it is a GraphModule
    for node in graph.nodes:
        for path, kind in (node.meta.get("nn_module_stack") or {}).values():
            types.setdefault(str(path), str(kind).rpartition(".")[2])
    return types


def conv2d_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """The weight of every 2-D convolution, by layer name, detached.

    Works for eager models, TorchScript (submodules whose ``original_name`` is
    ``Conv2d``) and ``torch.export`` graphs (layers whose ``nn_module_stack`` type is
    ``Conv2d``, weights read from the graph module's parameters).

    Args:
        model: any module.

    Returns:
        ``{name: weight (c_out, c_in / groups, kh, kw)}`` in :func:`module_types` order.

    Raises:
        SpectralTypeError: ``model`` is not an ``nn.Module``.

    Shape:
        - Output: each weight :math:`(C_{out}, C_{in} / g, k_h, k_w)`

    Examples:
        >>> net = nn.Sequential(nn.Conv2d(3, 4, 7), nn.ReLU(), nn.Conv2d(4, 4, 3))
        >>> {n: tuple(w.shape) for n, w in conv2d_weights(net).items()}
        {'0': (4, 3, 7, 7), '2': (4, 4, 3, 3)}
    """
    if not isinstance(model, nn.Module):
        raise SpectralTypeError(f"model: expected an nn.Module, got {type(model).__name__}")
    if is_exported(model):
        params = dict(model.named_parameters())
        return {
            name: params[f"{name}.weight" if name else "weight"].detach()
            for name, kind in module_types(model).items()
            if kind == "Conv2d" and (f"{name}.weight" if name else "weight") in params
        }
    return {
        name: m.weight.detach()
        for name, m in model.named_modules()
        if is_conv2d(m) and isinstance(getattr(m, "weight", None), torch.Tensor)
    }
