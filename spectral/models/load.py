"""load_model: builtin:, TorchScript, module:factory with weights, robustbench:."""

from __future__ import annotations

import importlib
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from spectral.errors import SpectralValueError
from spectral.models.zoo import _load_builtin

__all__ = ["load_model"]


def _load_failure(err: BaseException) -> str:
    """One line on why ``torch.load`` refused a file, without its ``weights_only`` advice."""
    text = str(err).strip()
    if "weights_only" in text or "Weights only load failed" in text:
        detail = text.partition("WeightsUnpickler error:")[2].strip()
        first = detail.splitlines()[0].strip() if detail else "unsupported content"
        return f"torch.load(weights_only=True) refused it: {first}"
    first = text.splitlines()[0] if text else ""
    return f"torch.load failed: {type(err).__name__}" + (f": {first}" if first else "")


def _load_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    p = Path(path)
    if not p.is_file():
        raise SpectralValueError(f"weights: {p}: no such file")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for corrupt or foreign files
        raise SpectralValueError(
            f"weights: {p}: not a PyTorch state dict ({_load_failure(err)}); expected a file "
            "written by torch.save(model.state_dict(), path)"
        ) from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise SpectralValueError(
            f"weights: {p}: not a PyTorch state dict (expected a dict name -> tensor, got "
            f"{type(state).__name__})"
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
    try:
        model = factory()
    except Exception as err:  # the user's code: any error is a failed factory
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise SpectralValueError(
            f"model {spec!r}: calling it failed: {type(err).__name__}"
            + (f": {first}" if first else "")
            + (" (the factory is called with no arguments)" if isinstance(err, TypeError) else "")
        ) from None
    if not isinstance(model, nn.Module):
        raise SpectralValueError(
            f"model {spec!r}: the factory returned {type(model).__name__}, expected nn.Module"
        )
    if weights is not None:
        try:
            model.load_state_dict(_load_state_dict(weights))
        except (RuntimeError, TypeError, AttributeError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise SpectralValueError(f"weights: {weights}: does not fit {spec} ({first})") from None
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
        SpectralValueError: unknown built-in name, unreadable or unfitting files (a
            ``weights`` file that is not a state dict, or does not fit the model), a factory
            that cannot be imported or fails when called with no arguments, or a spec that
            matches no form (the message lists the forms).

    Examples:
        >>> m = load_model("torch.nn:Flatten")  # a factory spec: any zero-argument callable
        >>> type(m).__name__, m.training
        ('Flatten', False)
        >>> load_model("no/such/model.pt")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
            ...
        spectral.errors.SpectralValueError: model 'no/such/model.pt': no such file, ...
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
