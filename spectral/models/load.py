"""load_model: builtin:, TorchScript, module:factory with weights, robustbench:."""

from __future__ import annotations

import difflib
import importlib
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from spectral._internal.modelstate import set_eval
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


def _missing_checkpoint(spec: str, ckpt: Path) -> str:
    """One line for an absent RobustBench checkpoint: where it was looked for, what is there."""
    folder = ckpt.parent
    found = sorted(p.stem for p in folder.glob("*.pt")) if folder.is_dir() else []
    if not folder.is_dir():
        there = f"{folder} does not exist"
    elif not found:
        there = f"{folder} holds no .pt files"
    else:
        there = f"{folder} holds {', '.join(f'{n}.pt' for n in found[:10])}"
        there += ", ..." if len(found) > 10 else ""
        close = difflib.get_close_matches(ckpt.stem, found, n=1)
        there += (
            f" (did you mean robustbench:{spec.rpartition('/')[0]}/{close[0]}?)" if close else ""
        )
    return (
        f"model robustbench:{spec}: checkpoint {ckpt} not found; {there}. spectral never "
        "downloads: put the checkpoint there, or point model_dir (--model-dir) at the folder "
        "that holds <dataset>/<threat>/<name>.pt"
    )


def _load_robustbench(spec: str, model_dir: str | os.PathLike[str] | None) -> nn.Module:
    # robustbench:<dataset>/<threat_model>/<name>, read from a local model directory only
    try:
        dataset, threat, name = spec.split("/")
    except ValueError:
        raise SpectralValueError(
            f"model robustbench:{spec}: expected robustbench:<dataset>/<threat>/<name>, e.g. "
            "robustbench:cifar10/Linf/Carmon2019Unlabeled"
        ) from None
    root = Path(model_dir or "models")
    ckpt = root / dataset / threat / f"{name}.pt"
    if not ckpt.is_file():
        raise SpectralValueError(_missing_checkpoint(spec, ckpt))
    try:
        from robustbench.utils import load_model as rb_load
    except ImportError:
        raise SpectralValueError(
            "model robustbench:...: the robustbench package is not installed "
            "(pip install robustbench, and put its checkpoints in --model-dir)"
        ) from None
    try:
        model: nn.Module = rb_load(
            model_name=name, dataset=dataset, threat_model=threat, model_dir=str(root)
        )
    except Exception as err:  # robustbench raises KeyError/ValueError/... for unknown names
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise SpectralValueError(
            f"model robustbench:{spec}: robustbench cannot build it ({type(err).__name__}"
            + (f": {first}" if first else "")
            + "); check the dataset, threat model and name against RobustBench's model zoo"
        ) from None
    return model


def _spec_form(spec: str) -> str:
    """Which form ``spec`` has: builtin, robustbench, export, torchscript or factory."""
    if spec.startswith("builtin:"):
        return "builtin"
    if spec.startswith("robustbench:"):
        return "robustbench"
    if Path(spec).is_file():
        return "export" if Path(spec).suffix == ".pt2" else "torchscript"
    if ":" in spec and not spec.startswith(("/", ".")) and "/" not in spec.split(":")[0]:
        return "factory"
    raise SpectralValueError(
        f"model {spec!r}: no such file, and not 'builtin:<name>', "
        "'package.module:factory' or 'robustbench:<dataset>/<threat>/<name>'"
    )


_FORM_NAMES = {
    "builtin": "a built-in model",
    "robustbench": "a RobustBench model (its weights come from model_dir)",
    "export": "a torch.export archive (it holds its weights)",
    "torchscript": "a TorchScript file (it holds its weights)",
}


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
            that cannot be imported or fails when called with no arguments, a spec that
            matches no form (the message lists the forms), ``weights`` given with a spec
            other than a factory (built-in, RobustBench, ``.pt2`` and TorchScript models
            carry their own weights), or a RobustBench checkpoint missing from
            ``model_dir`` (the message names the folder, the ``.pt`` files in it and the
            closest name).

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
    form = _spec_form(spec)
    if weights is not None and form != "factory":
        raise SpectralValueError(
            f"weights: only used with a 'package.module:factory' model; {spec!r} is "
            f"{_FORM_NAMES[form]}"
        )
    if form == "builtin":
        model = _load_builtin(spec.removeprefix("builtin:"))
    elif form == "robustbench":
        model = _load_robustbench(spec.removeprefix("robustbench:"), model_dir)
    elif form == "export":
        try:
            model = torch.export.load(spec).module()
        except Exception as err:  # torch.export raises many types for foreign files
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise SpectralValueError(
                f"model {spec}: not a torch.export archive ({first})"
            ) from None
    elif form == "torchscript":
        try:
            with warnings.catch_warnings():  # torch.jit is deprecated but its files live on
                warnings.simplefilter("ignore", DeprecationWarning)
                model = torch.jit.load(spec, map_location="cpu")
        except (RuntimeError, ValueError) as err:
            raise SpectralValueError(
                f"model {spec}: not a TorchScript file ({str(err).splitlines()[0]}); for a "
                "state dict use 'package.module:factory' with --weights"
            ) from None
    else:
        model = _load_factory(spec, weights)
    model = model.to(device)
    set_eval(model)  # a torch.export module stays in the mode it was exported in
    return model
