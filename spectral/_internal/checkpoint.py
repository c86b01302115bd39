"""Checkpoints of long runs: periodic, atomic saves of counts so far, keyed by what they are of."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from spectral.errors import SpectralValueError

__all__ = ["Checkpoint", "fingerprint"]


def fingerprint(model: nn.Module, *parts: Any) -> str:
    """A digest of the model's state, the images and the options: what a checkpoint is of."""
    digest = hashlib.sha256()
    for t in list(model.state_dict().values()) + [p for p in parts if isinstance(p, torch.Tensor)]:
        if isinstance(t, torch.Tensor):
            digest.update(
                t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
            )
    digest.update(repr([p for p in parts if not isinstance(p, torch.Tensor)]).encode())
    return digest.hexdigest()


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
