"""Checkpoints of long runs, keyed by what they are of.

:class:`Checkpoint`: a heat map's counts so far, saved periodically (one file per rank).
:func:`resumable` and :class:`BatchStore`: every finished batch of an attack loop, one
file per batch, named by a digest of the model, the attack and the batch itself, so a
rerun (with any number of ranks) reuses it instead of attacking the batch again.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from spectral.errors import SpectralValueError

__all__ = ["BatchStore", "Checkpoint", "attack_key", "fingerprint", "resumable", "resumable_dir"]

_STORE: ContextVar[Path | None] = ContextVar("spectral_resumable", default=None)


def _tensor_bytes(t: torch.Tensor) -> bytes:
    return t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def fingerprint(model: nn.Module | None, *parts: Any) -> str:
    """A digest of the model's state, the images and the options: what a checkpoint is of."""
    digest = hashlib.sha256()
    state = [] if model is None else list(model.state_dict().values())
    for t in state + [p for p in parts if isinstance(p, torch.Tensor)]:
        if isinstance(t, torch.Tensor):
            digest.update(_tensor_bytes(t))
    digest.update(repr([p for p in parts if not isinstance(p, torch.Tensor)]).encode())
    return digest.hexdigest()


@contextmanager
def resumable(directory: str | Path) -> Iterator[Path]:
    """Inside, attack loops keep every finished batch in ``directory`` and reuse it.

    The loops of :func:`spectral.metrics.robust_accuracy`, the analyses built on
    ``attack_in_batches`` (attack, blur, calibration, detector, band attacks),
    :func:`spectral.attacks.pgd_evaluation` and
    :func:`spectral.attacks.apgd_robust_accuracy` write each batch's result as it
    finishes (atomically: a temporary file, then a rename), named by a digest of the
    model's weights, the attack and its settings, the batch's images and labels (and its
    position where a random stream runs through the batches). A rerun after an
    interruption finds them and attacks only the batches left, with the same result as an
    uninterrupted run; a rerun with another model, attack or data finds nothing to reuse.
    Heat maps made with :func:`spectral.analysis.heatmap_analysis` inside keep their
    checkpoints in ``directory/heatmap``. The files stay until the caller removes
    ``directory`` (the CLI does when its output is in place). Attacks that are not
    torchattacks-style objects with a ``model`` (a plain function) are not kept.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d, resumable(d) as where:
        ...     where == Path(d)
        True
    """
    path = Path(directory)
    token = _STORE.set(path)
    try:
        yield path
    finally:
        _STORE.reset(token)


def resumable_dir() -> Path | None:
    """The directory of the :func:`resumable` in force, or None."""
    return _STORE.get()


def _described(value: Any) -> str:
    """A value as a stable string: tensors and modules by a digest of their contents.

    (A tensor's ``repr`` elides the middle of a large one, so two masks could read alike.)
    """
    if isinstance(value, torch.Tensor):
        return f"tensor{tuple(value.shape)}:{hashlib.sha256(_tensor_bytes(value)).hexdigest()}"
    if isinstance(value, nn.Module):
        return f"module:{fingerprint(value)}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_described(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_described(v)}" for k, v in value.items()) + "}"
    return repr(value)


def attack_key(attack: Any) -> tuple[nn.Module | None, str]:
    """``(model, description)`` of a torchattacks-style attack; ``(None, "")`` otherwise.

    The description is the class, its public attributes (eps, steps, targeted mode, a
    mask or palette by a digest of its values, ...) and the seed
    :func:`spectral.make_attack` gave it. A value without a stable ``repr`` (one that
    prints its address) makes the key differ on every run, so nothing is reused.
    """
    model = getattr(attack, "model", None)
    if not isinstance(model, nn.Module):
        return None, ""
    cls = type(attack)
    state = {
        k: v for k, v in sorted(vars(attack).items()) if not k.startswith("_") and k != "model"
    }
    seed = getattr(attack, "_spectral_seed", None)
    return model, f"{cls.__module__}.{cls.__qualname__} {_described(state)} seed={seed}"


class BatchStore:
    """Finished batches of one loop under :func:`resumable` (inactive outside it).

    Args:
        kind: the loop (a folder of its own).
        model: the model attacked; None makes the store inactive.
        parts: the loop's settings (what, besides a batch, its results depend on).
    """

    def __init__(self, kind: str, model: nn.Module | None, *parts: Any) -> None:
        root = _STORE.get()
        self.folder = None if root is None or model is None else root / kind
        self.base = "" if self.folder is None else fingerprint(model, kind, *parts)

    def _path(self, batch: tuple[Any, ...]) -> Path:
        assert self.folder is not None
        digest = hashlib.sha256(self.base.encode())
        for p in batch:
            digest.update(_tensor_bytes(p) if isinstance(p, torch.Tensor) else repr(p).encode())
        return self.folder / f"{digest.hexdigest()[:32]}.pt"

    def load(self, *batch: Any) -> Any:
        """The kept result of the batch described by ``batch``, or None."""
        if self.folder is None:
            return None
        path = self._path(batch)
        if not path.exists():
            return None
        try:
            return torch.load(path, weights_only=True)["value"]
        except Exception:  # a damaged file: attack the batch again
            return None

    def save(self, value: Any, *batch: Any) -> None:
        """Keep ``value`` (tensors are stored on the CPU) for the batch ``batch``."""
        if self.folder is None:
            return
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu()
        path = self._path(batch)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        torch.save({"value": value}, tmp)
        os.replace(tmp, path)


class Checkpoint:
    """Periodic, atomic saves of a heat map's counts so far (one file per rank)."""

    def __init__(self, path: Path, key: str, total: int, every: float) -> None:
        self.path, self.key, self.every = path, key, every
        self.done = np.zeros(total, dtype=bool)
        self.wrong = torch.zeros(total, dtype=torch.int64)
        self.saved = time.monotonic()
        if path.exists():
            try:
                state = torch.load(path, weights_only=True)
                ok = state["key"] == key and state["wrong"].shape == (total,)
            except Exception:  # any unreadable file is refused the same way
                ok = False
            if not ok:
                raise SpectralValueError(
                    f"checkpoint: {path} holds another heat map (other model, images, eps, "
                    "seed, frequencies or number of ranks); remove it or start afresh"
                )
            self.done = state["done"].numpy().astype(bool)
            self.wrong = state["wrong"]

    def save(self, force: bool = False) -> None:
        if not force and time.monotonic() - self.saved < self.every:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        state = {"key": self.key, "done": torch.from_numpy(self.done), "wrong": self.wrong}
        torch.save(state, tmp)
        os.replace(tmp, self.path)
        self.saved = time.monotonic()
