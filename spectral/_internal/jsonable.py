"""Turning tensors and non-finite floats into JSON-ready values."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["json_list"]


def json_list(t: torch.Tensor) -> Any:
    """Nested lists of floats with NaN as None (valid JSON)."""
    a = t.detach().to("cpu", torch.float64).numpy().astype(object)
    a[np.isnan(a.astype(np.float64))] = None
    return a.tolist()
