"""Heavier checks at the benchmark's sizes (run with `pytest -m slow`): many chunks, threads."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import spectral as sp

pytestmark = pytest.mark.slow


def _reference_magnitude(a: np.ndarray) -> np.ndarray:
    m = np.fft.fftshift(np.log1p(np.abs(np.fft.fft2(a.astype(np.float64)))), axes=(-2, -1))
    mn = m.min(axis=(-2, -1), keepdims=True)
    return (m - mn) / (m.max(axis=(-2, -1), keepdims=True) - mn)


@pytest.mark.parametrize("shape", [(64, 3, 224, 224), (1024, 64, 32, 32)], ids=str)
def test_magnitude_at_benchmark_size_matches_reference(shape: tuple[int, ...]) -> None:
    x = torch.rand(*shape, generator=torch.Generator().manual_seed(0))
    got = sp.magnitude_spectrum(x).numpy()
    # compare on a strided subsample of images so the float64 reference stays cheap
    idx = np.arange(0, shape[0], max(1, shape[0] // 16))
    np.testing.assert_allclose(got[idx], _reference_magnitude(x.numpy()[idx]), atol=5e-5)


def test_accumulator_at_benchmark_size_matches_one_shot() -> None:
    x = torch.rand(1024, 64, 32, 32, generator=torch.Generator().manual_seed(1))
    acc = sp.SpectrumAccumulator()
    for batch in x.split(300):  # uneven batches, many chunks and flushes per batch
        acc.update(batch)
    p = sp.power_spectrum(x.double(), backend="numpy")
    torch.testing.assert_close(acc.mean().double(), p.mean(0), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(acc.var().double(), p.var(0), rtol=1e-4, atol=1e-6)


def test_report_with_default_sizes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from cli.main import app

    res = CliRunner().invoke(app, ["report", "--out", str(tmp_path / "r")])
    assert res.exit_code == 0, res.stderr
    assert (tmp_path / "r" / "report.html").stat().st_size > 100_000
