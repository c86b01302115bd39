"""The built-in model zoo: weights shipped in the package, zoo.json, installing and recording."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from torch import nn

from spectral.errors import SpectralValueError
from spectral.models.insert import insert_blur
from spectral.models.smallcnn import SmallCNN

__all__ = [
    "base_arch",
    "build_builtin",
    "half_state",
    "install_builtin",
    "list_models",
    "record_metrics",
    "zoo_dir",
]


def zoo_dir() -> Path:
    """The folder inside the package holding the built-in weights and ``zoo.json``.

    Returns:
        The path of ``spectral/zoo`` in the installed package.

    Examples:
        >>> zoo_dir().parent.name, zoo_dir().name
        ('spectral', 'zoo')
    """
    return Path(str(resources.files("spectral") / "zoo"))


def _zoo_index() -> dict[str, Any]:
    path = zoo_dir() / "zoo.json"
    if not path.exists():
        return {}
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def list_models() -> list[dict[str, Any]]:
    """The built-in models with their recipe and measured accuracies (from ``zoo.json``).

    Returns:
        One dict per model: ``name`` (use as ``load_model("builtin:" + name)``),
        ``description``, ``recipe``, ``metrics`` (clean and PGD accuracies on the built-in
        test split), ``command`` (how to regenerate the weights).

    Examples:
        >>> models = list_models()
        >>> "standard" in [m["name"] for m in models]
        True
        >>> {"name", "description", "metrics", "command"} <= set(models[0])
        True
    """
    return [{"name": k, **v} for k, v in _zoo_index().items()]


def install_builtin(
    name: str,
    model: nn.Module,
    *,
    arch: dict[str, Any],
    description: str,
    metrics: dict[str, Any],
    command: str,
    edits: list[dict[str, Any]] | None = None,
) -> Path:
    """Write ``model``'s weights into the package zoo and record it in ``zoo.json``.

    This is how the shipped weights are (re)generated (``spectral train ... --install``).
    Floating-point tensors are stored in float16 (:func:`half_state`: half the size in the
    wheel) and loaded back into the float32 model; measure anything you record about the
    shipped model on the reloaded weights.

    Args:
        name: the model's name (letters, digits, ``-`` and ``_``); the weights go to
            ``<name>.pt`` and ``load_model("builtin:<name>")`` loads them.
        model: the trained model whose ``state_dict()`` is shipped.
        arch: the architecture for :func:`build_builtin` (``kind``, ``num_classes``,
            ``width``, ``blocks``).
        description: one line for :func:`list_models`.
        metrics: measured accuracies to record (more can be added by
            :func:`record_metrics`).
        command: the command that regenerates the weights.
        edits: blur layers to insert after :func:`build_builtin`, each
            ``{"position": ..., "options": {...}}`` as :func:`insert_blur` takes them.

    Returns:
        The weights file.

    Raises:
        SpectralValueError: ``name`` holds other characters than letters, digits, ``-``
            and ``_`` (or is empty).

    Examples:
        >>> import tempfile
        >>> from unittest import mock
        >>> from spectral.models import SmallCNN
        >>> arch = {"kind": "SmallCNN", "num_classes": 10, "width": 2}
        >>> with tempfile.TemporaryDirectory() as tmp:  # a scratch zoo, not the package's
        ...     with mock.patch("spectral.models.zoo.zoo_dir", return_value=Path(tmp)):
        ...         path = install_builtin(
        ...             "tiny", SmallCNN(width=2), arch=arch, description="demo",
        ...             metrics={}, command="none",
        ...         )
        ...         entry = list_models()[0]
        ...         state = torch.load(path, weights_only=True)
        >>> path.name, entry["name"], entry["arch"]["width"]
        ('tiny.pt', 'tiny', 2)
        >>> state["features.conv1.weight"].dtype  # stored in half precision
        torch.float16
    """
    if not name.replace("-", "").replace("_", "").isalnum():
        raise SpectralValueError(f"name: expected letters, digits, '-' or '_', got {name!r}")
    folder = zoo_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.pt"
    state = half_state(model.state_dict())
    tmp = path.with_suffix(".pt.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    with _zoo_lock(folder):  # concurrent installs (several training runs) each keep theirs
        index = _zoo_index()
        index[name] = {
            "file": path.name,
            "description": description,
            "arch": arch,
            "edits": edits or [],
            "metrics": metrics,
            "command": command,
        }
        _write_index(folder, index)
    return path


def record_metrics(name: str, key: str, value: dict[str, Any]) -> None:
    """Store ``value`` under ``metrics[key]`` of built-in model ``name`` in ``zoo.json``.

    Args:
        name: a built-in model (see :func:`list_models`).
        key: the entry of its ``metrics`` to set (replaced if present).
        value: what to store there (JSON-serialisable).

    Raises:
        SpectralValueError: no such built-in model.

    Examples:
        >>> import tempfile
        >>> from unittest import mock
        >>> from spectral.models import SmallCNN
        >>> arch = {"kind": "SmallCNN", "num_classes": 10, "width": 2}
        >>> with tempfile.TemporaryDirectory() as tmp:  # a scratch zoo, not the package's
        ...     with mock.patch("spectral.models.zoo.zoo_dir", return_value=Path(tmp)):
        ...         _ = install_builtin(
        ...             "tiny", SmallCNN(width=2), arch=arch, description="demo",
        ...             metrics={"clean": 0.1}, command="none",
        ...         )
        ...         record_metrics("tiny", "slice", {"n": 500, "clean_accuracy": 0.1})
        ...         metrics = list_models()[0]["metrics"]
        >>> sorted(metrics), metrics["slice"]["n"]
        (['clean', 'slice'], 500)
    """
    folder = zoo_dir()
    with _zoo_lock(folder):
        index = _zoo_index()
        if name not in index:
            raise SpectralValueError(f"model: unknown built-in model {name!r}")
        index[name].setdefault("metrics", {})[key] = value
        _write_index(folder, index)


def half_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict with its floating-point tensors in float16 (others unchanged), on the CPU.

    Args:
        state: a state dict (name -> tensor), e.g. ``model.state_dict()``.

    Returns:
        A new dict with the same keys: detached, contiguous CPU tensors, floating-point
        ones cast to ``torch.float16``.

    Shape:
        - state: each value :math:`(*)`, any shape
        - Output: each value the shape of the input's

    Examples:
        >>> s = half_state({"w": torch.tensor([1 / 3]), "n": torch.tensor(5)})
        >>> s["w"].dtype, s["n"].dtype
        (torch.float16, torch.int64)
        >>> s["w"].shape, s["w"].device.type
        (torch.Size([1]), 'cpu')
    """
    return {
        k: (v.detach().cpu().half() if v.is_floating_point() else v.detach().cpu()).contiguous()
        for k, v in state.items()
    }


def _write_index(folder: Path, index: dict[str, Any]) -> None:
    tmp_json = folder / "zoo.json.tmp"
    tmp_json.write_text(json.dumps(index, indent=2) + "\n")
    os.replace(tmp_json, folder / "zoo.json")


@contextmanager
def _zoo_lock(folder: Path) -> Iterator[None]:
    import fcntl

    with open(folder / ".zoo.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def base_arch(name: str = "standard") -> dict[str, Any]:
    """The ``zoo.json`` architecture of a built-in model (what a fine-tune of it starts from).

    Args:
        name: a built-in model (see :func:`list_models`).

    Returns:
        A copy of its ``arch`` entry (``kind``, ``num_classes``, ``width``, ``blocks``), as
        :func:`build_builtin` takes it.

    Raises:
        SpectralValueError: no such built-in model.

    Examples:
        >>> arch = base_arch("standard")
        >>> arch["kind"], arch["num_classes"]
        ('SmallCNN', 10)
    """
    index = _zoo_index()
    if name not in index:
        raise SpectralValueError(f"model: unknown built-in model {name!r}")
    return dict(index[name]["arch"])


def build_builtin(arch: dict[str, Any]) -> nn.Module:
    """Instantiate a built-in architecture from its ``zoo.json`` description.

    Args:
        arch: ``{"kind": "SmallCNN", "num_classes": K, "width": W, "blocks": [...]}``
            (``kind`` defaults to ``"SmallCNN"``, ``blocks`` to ``(2, 2, 1)``), e.g. from
            :func:`base_arch`.

    Returns:
        A freshly initialised :class:`~spectral.models.SmallCNN` (no weights loaded).

    Raises:
        SpectralValueError: an unknown ``kind``, or ``width``/``blocks`` that
            :class:`~spectral.models.SmallCNN` refuses.

    Examples:
        >>> m = build_builtin({"kind": "SmallCNN", "num_classes": 3, "width": 4})
        >>> m(torch.rand(2, 3, 8, 8)).shape
        torch.Size([2, 3])
        >>> build_builtin({"kind": "ResNet", "num_classes": 3, "width": 4})
        Traceback (most recent call last):
            ...
        spectral.errors.SpectralValueError: zoo.json: unknown architecture 'ResNet'
    """
    kind = arch.get("kind", "SmallCNN")
    if kind != "SmallCNN":
        raise SpectralValueError(f"zoo.json: unknown architecture {kind!r}")
    blocks = tuple(int(b) for b in arch.get("blocks", (2, 2, 1)))
    return SmallCNN(num_classes=int(arch["num_classes"]), width=int(arch["width"]), blocks=blocks)


def _load_builtin(name: str) -> nn.Module:
    index = _zoo_index()
    if name not in index:
        known = ", ".join(f"builtin:{k}" for k in index) or "none installed"
        raise SpectralValueError(f"model: unknown built-in model {name!r}; known: {known}")
    entry = index[name]
    model = build_builtin(entry["arch"])
    # insert any blur layers the entry records (BlurNet variants, see spectral.blur)
    for edit in entry.get("edits", []):
        model = insert_blur(model, edit["position"], **edit.get("options", {}))
    state = torch.load(zoo_dir() / entry["file"], map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model
