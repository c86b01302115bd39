"""Models: the built-in zoo, and loaders for your own (TorchScript, factory, RobustBench).

Every model returned by :func:`load_model` is an ``nn.Module`` in eval mode that takes
images in [0, 1]; normalisation lives inside the model (a :class:`Normalize` in front),
as torchattacks expects.
"""

from __future__ import annotations

import importlib
import json
import os
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from torch import nn

from spectral.errors import SpectralValueError

__all__ = [
    "Normalize",
    "SmallCNN",
    "base_arch",
    "build_builtin",
    "half_state",
    "install_builtin",
    "list_models",
    "load_model",
    "record_metrics",
    "zoo_dir",
]

#: Per-channel mean and std of the built-in training split (seed 0).
BUILTIN_MEAN = (0.4661, 0.3915, 0.3602)
BUILTIN_STD = (0.2510, 0.2145, 0.2147)


class Normalize(nn.Module):
    """``(x - mean) / std`` per channel, so the model takes images in [0, 1]."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise ``x`` ``(B, C, H, W)``; other channel counts are refused, not broadcast."""
        if x.dim() != 4 or x.shape[1] != self.mean.shape[1]:
            raise ValueError(
                "Normalize: expected (B, "
                + str(self.mean.shape[1])
                + ", H, W) images, got shape "
                + str(list(x.shape))
            )
        return (x - self.mean) / self.std


class SmallCNN(nn.Module):
    """A small VGG-style CNN whose first layers are 3x3 convolutions (the zoo's architecture).

    ``normalize -> stage 1 -> maxpool -> stage 2 -> maxpool -> stage 3 -> global average
    pool -> linear``, where stage ``s`` is ``blocks[s]`` layers of conv3x3-BN-ReLU with
    ``width * 2**s`` channels. The default ``blocks=(2, 2, 1)`` is the original 5-conv
    network; the CIFAR-10 zoo uses ``width=64, blocks=(2, 2, 2)``. Module names are stable
    and numbered through the stages (``features.conv1`` is the first conv layer,
    ``features.relu1`` its activation, ``features.pool1``/``pool2`` the pools), so analyses
    can address layers by name.

    Args:
        num_classes: number of outputs.
        width: channels of the first stage (doubled in each later stage).
        mean: per-channel mean for the built-in :class:`Normalize`.
        std: per-channel std for the built-in :class:`Normalize`.
        blocks: conv layers per stage (three stages, each >= 1).

    Raises:
        SpectralValueError: ``blocks`` is not three ints >= 1, or ``width`` < 1.
    """

    def __init__(
        self,
        num_classes: int = 10,
        width: int = 32,
        mean: Sequence[float] = BUILTIN_MEAN,
        std: Sequence[float] = BUILTIN_STD,
        blocks: Sequence[int] = (2, 2, 1),
    ) -> None:
        super().__init__()
        blocks = tuple(blocks)
        if len(blocks) != 3 or any(
            isinstance(b, bool) or not isinstance(b, int) or b < 1 for b in blocks
        ):
            raise SpectralValueError(f"blocks: expected three ints >= 1, got {blocks!r}")
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise SpectralValueError(f"width: expected an int >= 1, got {width!r}")
        layers: list[tuple[str, nn.Module]] = []
        cin, i = 3, 0
        for stage, n in enumerate(blocks):
            if stage:
                layers.append((f"pool{stage}", nn.MaxPool2d(2)))
            cout = width * 2**stage
            for _ in range(n):
                i += 1
                layers += [
                    (f"conv{i}", nn.Conv2d(cin, cout, 3, padding=1, bias=False)),
                    (f"bn{i}", nn.BatchNorm2d(cout)),
                    (f"relu{i}", nn.ReLU()),
                ]
                cin = cout
        layers += [("gap", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten())]
        self.normalize = Normalize(mean, std)
        self.features = nn.Sequential(OrderedDict(layers))
        self.classifier = nn.Linear(cin, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, num_classes)`` for images ``(B, 3, H, W)`` in [0, 1]."""
        return self.classifier(self.features(self.normalize(x)))


# ---------------------------------------------------------------------------------------
# the built-in zoo
# ---------------------------------------------------------------------------------------


def zoo_dir() -> Path:
    """The folder inside the package holding the built-in weights and ``zoo.json``."""
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

    Returns:
        The weights file.
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

    Raises:
        SpectralValueError: no such built-in model.
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

    Examples:
        >>> s = half_state({"w": torch.tensor([1 / 3]), "n": torch.tensor(5)})
        >>> s["w"].dtype, s["n"].dtype
        (torch.float16, torch.int64)
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

    Raises:
        SpectralValueError: no such built-in model.
    """
    index = _zoo_index()
    if name not in index:
        raise SpectralValueError(f"model: unknown built-in model {name!r}")
    return dict(index[name]["arch"])


def build_builtin(arch: dict[str, Any]) -> nn.Module:
    """Instantiate a built-in architecture from its ``zoo.json`` description."""
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
        from spectral.blur import insert_blur

        model = insert_blur(model, edit["position"], **edit.get("options", {}))
    state = torch.load(zoo_dir() / entry["file"], map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model


def _load_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    p = Path(path)
    if not p.is_file():
        raise SpectralValueError(f"--weights {p}: no such file")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for corrupt files
        raise SpectralValueError(f"--weights {p}: cannot load a state dict ({err})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise SpectralValueError(
            f"--weights {p}: expected a state dict (name -> tensor), got {type(state).__name__}"
        )
    return state


def _load_factory(spec: str, weights: str | os.PathLike[str] | None) -> nn.Module:
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise SpectralValueError(f"model {spec!r}: cannot import {module_name!r} ({err})") from None
    factory = getattr(module, attr, None)
    if factory is None or not callable(factory):
        raise SpectralValueError(f"model {spec!r}: {module_name} has no callable {attr!r}")
    model = factory()
    if not isinstance(model, nn.Module):
        raise SpectralValueError(
            f"model {spec!r}: the factory returned {type(model).__name__}, expected nn.Module"
        )
    if weights is not None:
        try:
            model.load_state_dict(_load_state_dict(weights))
        except RuntimeError as err:
            first = str(err).splitlines()[0]
            raise SpectralValueError(
                f"--weights {weights}: does not fit {spec} ({first})"
            ) from None
    return model


def _load_robustbench(spec: str, model_dir: str | os.PathLike[str] | None) -> nn.Module:
    # robustbench:<dataset>/<threat_model>/<name>, read from a local model directory only
    try:
        dataset, threat, name = spec.split("/")
    except ValueError:
        raise SpectralValueError(
            f"model robustbench:{spec}: expected robustbench:<dataset>/<threat>/<name>, e.g. "
            "robustbench:cifar10/Linf/Carmon2019Unlabeled"
        ) from None
    try:
        from robustbench.utils import load_model as rb_load
    except ImportError:
        raise SpectralValueError(
            "model robustbench:...: the robustbench package is not installed "
            "(pip install robustbench, and put its checkpoints in --model-dir)"
        ) from None
    root = Path(model_dir or "models")
    ckpt = root / dataset / threat / f"{name}.pt"
    if not ckpt.is_file():
        raise SpectralValueError(
            f"model robustbench:{spec}: {ckpt} not found; spectral never downloads, place the "
            "checkpoint there (or pass --model-dir)"
        )
    model: nn.Module = rb_load(
        model_name=name, dataset=dataset, threat_model=threat, model_dir=str(root)
    )
    return model


def load_model(
    spec: str,
    *,
    weights: str | os.PathLike[str] | None = None,
    model_dir: str | os.PathLike[str] | None = None,
    device: str | torch.device = "cpu",
) -> nn.Module:
    """Load a model that takes images in [0, 1], in eval mode, on ``device``.

    Args:
        spec: ``"builtin:<name>"`` (see :func:`list_models`); a ``torch.export`` archive
            (``.pt2``, exported in eval mode); a TorchScript file (``.pt``/``.ts``/...);
            ``"package.module:factory"`` (a callable returning an ``nn.Module``, with
            ``weights`` a state-dict file); or
            ``"robustbench:<dataset>/<threat>/<name>"`` read from ``model_dir`` (needs the
            robustbench package; nothing is downloaded).
        weights: state dict for a factory spec.
        model_dir: local RobustBench model directory (default ``./models``).
        device: where to put the model.

    Returns:
        The model, in eval mode.

    Raises:
        SpectralValueError: unknown built-in name, unreadable or unfitting files, or a spec
            that matches no form (the message lists the forms).
    """
    if not isinstance(spec, str) or not spec:
        raise SpectralValueError(f"model: expected a non-empty spec string, got {spec!r}")
    if spec.startswith("builtin:"):
        model = _load_builtin(spec.removeprefix("builtin:"))
    elif spec.startswith("robustbench:"):
        model = _load_robustbench(spec.removeprefix("robustbench:"), model_dir)
    elif Path(spec).is_file() and Path(spec).suffix == ".pt2":
        try:
            model = torch.export.load(spec).module()
        except Exception as err:  # torch.export raises many types for foreign files
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise SpectralValueError(
                f"model {spec}: not a torch.export archive ({first})"
            ) from None
    elif Path(spec).is_file():
        try:
            with warnings.catch_warnings():  # torch.jit is deprecated but its files live on
                warnings.simplefilter("ignore", DeprecationWarning)
                model = torch.jit.load(spec, map_location="cpu")
        except (RuntimeError, ValueError) as err:
            raise SpectralValueError(
                f"model {spec}: not a TorchScript file ({str(err).splitlines()[0]}); for a "
                "state dict use 'package.module:factory' with --weights"
            ) from None
    elif ":" in spec and not spec.startswith(("/", ".")) and "/" not in spec.split(":")[0]:
        model = _load_factory(spec, weights)
    else:
        raise SpectralValueError(
            f"model {spec!r}: no such file, and not 'builtin:<name>', "
            "'package.module:factory' or 'robustbench:<dataset>/<threat>/<name>'"
        )
    if weights is not None and not (":" in spec and not spec.startswith("builtin:")):
        raise SpectralValueError(
            f"weights: only used with a 'package.module:factory' model, not {spec!r}"
        )
    model = model.to(device)
    try:
        model.eval()
    except NotImplementedError:  # torch.export modules are fixed in the mode they were exported
        pass
    return model
