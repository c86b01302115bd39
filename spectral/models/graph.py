"""Layer outputs of a ``torch.export`` graph, by the original module names (and calls).

An exported module has no submodules to hook; its nodes carry ``nn_module_stack``, the
stack of ``(module path, type)`` they were traced under, one key per call (a module run
twice has keys ``...relu`` and ``...relu@1``). The output of one call is its last node
whose value is used outside that call (as torchvision's ``feature_extraction`` picks
a module's output node), and it is read by running the graph with an
:class:`torch.fx.Interpreter` that keeps a copy of that value.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import fx

from spectral._internal.modelstate import apply_forward_pre_hooks

__all__ = ["graph_calls", "run_graph"]


def graph_calls(model: fx.GraphModule) -> dict[str, list[fx.Node]]:
    """Module path -> the output node of each of its calls, in the order they run.

    Args:
        model: a ``torch.export`` module (see :func:`~spectral.models.is_exported`).

    Returns:
        ``{path: [node of call 0, node of call 1, ...]}``; the root is ``""``.

    Examples:
        >>> class Twice(torch.nn.Module):  # runs its one ReLU twice
        ...     def __init__(self) -> None:
        ...         super().__init__()
        ...         self.relu = torch.nn.ReLU()
        ...     def forward(self, x: torch.Tensor) -> torch.Tensor:
        ...         return self.relu(self.relu(x) - 1.0)
        >>> gm = torch.export.export(Twice(), (torch.rand(1, 2),)).module()
        >>> {p: len(nodes) for p, nodes in graph_calls(gm).items()}
        {'': 1, 'relu': 2}
    """
    members: dict[str, list[fx.Node]] = {}
    paths: dict[str, str] = {}
    for node in model.graph.nodes:
        if node.op != "call_function":
            continue
        for key, (path, _) in (node.meta.get("nn_module_stack") or {}).items():
            members.setdefault(key, []).append(node)
            paths.setdefault(key, str(path))
    calls: dict[str, list[fx.Node]] = {}
    for key, nodes in members.items():
        inside = set(nodes)
        leaving = [n for n in nodes if any(u not in inside for u in n.users)]
        calls.setdefault(paths[key], []).append(leaving[-1] if leaving else nodes[-1])
    return calls


class _Capture(fx.Interpreter):
    """Runs the graph, keeping a detached copy of the wanted nodes' values."""

    def __init__(self, module: fx.GraphModule, wanted: set[fx.Node]) -> None:
        super().__init__(module)
        self.wanted = wanted
        self.values: dict[fx.Node, Any] = {}

    def run_node(self, n: fx.Node) -> Any:
        out = super().run_node(n)
        if n in self.wanted:
            # a copy: an in-place op later in the graph (relu_) would change it
            self.values[n] = out.detach().clone() if isinstance(out, torch.Tensor) else out
        return out


def run_graph(model: fx.GraphModule, x: torch.Tensor, nodes: set[fx.Node]) -> dict[fx.Node, Any]:
    """Run ``model`` on ``x`` and return the values of ``nodes`` (tensors detached, copied).

    The root's forward pre-hooks run first, as in ``model(x)`` (e.g. the normalisation of
    :func:`~spectral.models.with_normalization`).

    Args:
        model: a ``torch.export`` module.
        x: its input.
        nodes: nodes of ``model.graph``.

    Returns:
        ``{node: value}``.

    Examples:
        >>> net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU())
        >>> gm = torch.export.export(net, (torch.rand(1, 2),)).module()
        >>> node = graph_calls(gm)["0"][0]
        >>> x = torch.rand(1, 2)  # exported for one row
        >>> torch.allclose(run_graph(gm, x, {node})[node], net[0](x))
        True
    """
    args, _ = apply_forward_pre_hooks(model, (x,))
    capture = _Capture(model, nodes)
    capture.run(*args)
    return capture.values
