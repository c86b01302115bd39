"""Shared fixtures: seeded random sources and the backend / dtype axes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

BACKENDS = ["torch", "numpy", "scipy", "pyfftw"]


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded numpy generator (fresh per test, so tests do not depend on order)."""
    return np.random.default_rng(20240611)


@pytest.fixture
def gen() -> torch.Generator:
    """A seeded torch CPU generator."""
    return torch.Generator().manual_seed(20240611)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Every concrete FFT backend."""
    return str(request.param)


@pytest.fixture(params=[torch.float32, torch.float64], ids=["f32", "f64"])
def dtype(request: pytest.FixtureRequest) -> torch.dtype:
    """Both supported real dtypes."""
    return request.param  # type: ignore[no-any-return]
