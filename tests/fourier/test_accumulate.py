"""SpectrumAccumulator: streaming mean/variance of power spectra, merging, persistence."""

from __future__ import annotations

import pytest
import torch

import spectral as sp
import spectral.fourier.accumulate as sacc
import spectral.fourier.engine as sfft
from spectral import SpectrumAccumulator
from spectral.errors import SpectralTypeError, SpectralValueError

SPLITS = [(0, 5), (5, 6), (6, 20), (20, 37)]  # 37 images in uneven batches
SIZES = [(8, 8), (7, 9), (16, 15), (1, 5), (2, 3)]

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def data(
    n: int, size: tuple[int, int], dtype: torch.dtype, gen: torch.Generator, c: int = 2
) -> torch.Tensor:
    return torch.rand(n, c, *size, dtype=torch.float64, generator=gen).to(dtype)


def reference(x: torch.Tensor, *, center: bool = True) -> torch.Tensor:
    """Power spectra of the exact (float64) values."""
    return sp.power_spectrum(x.to(torch.float64), center=center, backend="numpy")


def fill(x: torch.Tensor, splits: list[tuple[int, int]], backend: str) -> SpectrumAccumulator:
    acc = SpectrumAccumulator(backend=backend)
    for lo, hi in splits:
        assert acc.update(x[lo:hi]) is acc
    return acc


def copy(acc: SpectrumAccumulator) -> SpectrumAccumulator:
    return SpectrumAccumulator().load_state_dict(acc.state_dict())


def rel(dtype: torch.dtype) -> float:
    return 1e-10 if dtype == torch.float64 else 1e-5


def assert_rel(actual: torch.Tensor, expected: torch.Tensor, rtol: float) -> None:
    scale = float(expected.abs().max())
    torch.testing.assert_close(
        actual.to(torch.float64), expected.to(torch.float64), rtol=rtol, atol=rtol * scale
    )


@pytest.mark.parametrize("size", SIZES, ids=str)
def test_mean_and_var_match_one_shot(
    backend: str, dtype: torch.dtype, size: tuple[int, int], gen: torch.Generator
) -> None:
    x = data(37, size, dtype, gen)
    acc = fill(x, SPLITS, backend)
    assert acc.count == 37
    assert acc.shape == (2, *size)
    p = reference(x)
    mean, var = acc.mean(), acc.var()
    assert mean.shape == var.shape == (2, *size)
    assert mean.dtype == var.dtype == dtype
    assert_rel(mean, p.mean(0), rel(dtype))
    assert_rel(var, p.var(0), 10 * rel(dtype))
    assert_rel(acc.var(correction=0), p.var(0, correction=0), 10 * rel(dtype))
    assert_rel(acc.mean(center=False), reference(x, center=False).mean(0), rel(dtype))
    assert_rel(acc.var(center=False), reference(x, center=False).var(0), 10 * rel(dtype))


@pytest.mark.parametrize(
    ("chunk_bytes", "flush_every"), [(1, 64), (2000, 64), (2000, 1), (1, 3), (10**8, 5)]
)
def test_many_chunks_workers_and_flushes(
    backend: str,
    dtype: torch.dtype,
    chunk_bytes: int,
    flush_every: int,
    monkeypatch: pytest.MonkeyPatch,
    gen: torch.Generator,
) -> None:
    """Chunks of 1 image and of several, spread over workers, flushed often or rarely."""
    monkeypatch.setattr(sfft, "_CHUNK_BYTES", chunk_bytes)
    monkeypatch.setattr(sacc, "_CHUNK_BYTES", chunk_bytes)
    monkeypatch.setattr(sacc, "_FLUSH_EVERY", flush_every)
    x = data(37, (9, 8), dtype, gen, c=3)
    acc = fill(x, [(0, 37)], backend)
    p = reference(x)
    assert_rel(acc.mean(), p.mean(0), rel(dtype))
    assert_rel(acc.var(), p.var(0), 10 * rel(dtype))


def test_long_batch_crosses_flushes(backend: str, dtype: torch.dtype, gen: torch.Generator) -> None:
    """More images in one batch than are summed before a float64 flush."""
    x = data(300, (4, 6), dtype, gen, c=1)
    acc = fill(x, [(0, 300)], backend)
    p = reference(x)
    assert acc.count == 300
    assert_rel(acc.mean(), p.mean(0), rel(dtype))
    assert_rel(acc.var(), p.var(0), 10 * rel(dtype))


@pytest.mark.parametrize("seed", range(3))
def test_random_splits(backend: str, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    x = data(37, (7, 6), torch.float64, g)
    cuts = sorted(torch.randperm(36, generator=g)[:5].add(1).tolist())
    bounds = list(zip([0, *cuts], [*cuts, 37], strict=True))
    acc = fill(x, bounds, backend)
    p = reference(x)
    assert_rel(acc.mean(), p.mean(0), 1e-12)
    assert_rel(acc.var(), p.var(0), 1e-10)


def test_backends_agree(dtype: torch.dtype, gen: torch.Generator) -> None:
    x = data(12, (7, 10), dtype, gen)
    accs = {b: fill(x, [(0, 3), (3, 12)], b) for b in ("torch", "numpy", "scipy", "pyfftw")}
    for acc in accs.values():
        assert_rel(acc.mean(), accs["torch"].mean(), rel(dtype))
        assert_rel(acc.var(), accs["torch"].var(), 10 * rel(dtype))


def test_merge_equals_one_shot(backend: str, dtype: torch.dtype, gen: torch.Generator) -> None:
    x = data(37, (8, 7), dtype, gen)
    one = fill(x, [(0, 37)], backend)
    a = fill(x, [(0, 4), (4, 9)], backend)
    b = fill(x, [(9, 10)], backend)
    c = fill(x, [(10, 30), (30, 37)], backend)
    b_state = b.state_dict()
    assert a.merge(b) is a
    a.merge(c)
    assert a.count == 37
    assert_rel(a.mean(), one.mean(), rel(dtype))
    assert_rel(a.var(), one.var(), 10 * rel(dtype))
    # other is unchanged by the merge
    for k in ("mean", "m2"):
        torch.testing.assert_close(b.state_dict()[k], b_state[k], rtol=0, atol=0)
    assert b.count == 1


def test_merge_is_associative(gen: torch.Generator) -> None:
    x = data(30, (6, 9), torch.float64, gen)
    a, b, c = fill(x, [(0, 7)], "torch"), fill(x, [(7, 8)], "numpy"), fill(x, [(8, 30)], "pyfftw")
    left = copy(a).merge(copy(b)).merge(copy(c))
    right = copy(a).merge(copy(b).merge(copy(c)))
    assert left.count == right.count == 30
    for k in ("mean", "m2"):
        assert_rel(left.state_dict()[k], right.state_dict()[k], 1e-12)
    p = reference(x)
    assert_rel(left.var(), p.var(0), 1e-10)


def test_merge_with_empty_is_a_no_op(gen: torch.Generator) -> None:
    x = data(5, (4, 6), torch.float64, gen)
    acc = fill(x, [(0, 5)], "numpy")
    before = acc.state_dict()
    acc.merge(SpectrumAccumulator())
    after = acc.state_dict()
    assert after["count"] == 5
    for k in ("mean", "m2"):
        torch.testing.assert_close(after[k], before[k], rtol=0, atol=0)
    # Merging into an empty accumulator copies (and does not alias) the other.
    empty = SpectrumAccumulator()
    empty.merge(acc)
    assert empty.count == 5 and empty.shape == acc.shape
    torch.testing.assert_close(empty.var(), acc.var(), rtol=0, atol=0)
    empty.update(x)
    assert acc.count == 5
    torch.testing.assert_close(acc.state_dict()["mean"], before["mean"], rtol=0, atol=0)
    with pytest.raises(SpectralTypeError):
        acc.merge(before)  # type: ignore[arg-type]


def test_merge_shape_mismatch(gen: torch.Generator) -> None:
    a = fill(data(3, (4, 6), torch.float64, gen), [(0, 3)], "torch")
    b = fill(data(3, (4, 5), torch.float64, gen), [(0, 3)], "torch")
    with pytest.raises(SpectralValueError, match=r"\(2, 4, 6\)"):
        a.merge(b)
    assert a.count == 3


def test_state_dict_round_trip(
    tmp_path, backend: str, dtype: torch.dtype, gen: torch.Generator
) -> None:
    x = data(9, (7, 8), dtype, gen)
    acc = fill(x, [(0, 4), (4, 9)], backend)
    path = tmp_path / "acc.pt"
    torch.save(acc.state_dict(), path)
    state = torch.load(path)  # weights_only: plain tensors, ints, strings and tuples
    restored = SpectrumAccumulator(backend=backend).load_state_dict(state)
    assert restored.count == acc.count and restored.shape == acc.shape
    torch.testing.assert_close(restored.mean(), acc.mean(), rtol=0, atol=0)
    torch.testing.assert_close(restored.var(), acc.var(), rtol=0, atol=0)
    assert restored.mean().dtype == dtype
    # It keeps accumulating as if it had never been saved.
    y = data(4, (7, 8), dtype, gen)
    restored.update(y)
    acc.update(y)
    torch.testing.assert_close(restored.var(), acc.var(), rtol=0, atol=0)
    # the state is a copy, not a view of the internals
    state2 = acc.state_dict()
    state2["mean"].zero_()
    assert float(acc.mean().abs().max()) > 0
    # an empty accumulator round-trips too
    empty = SpectrumAccumulator().load_state_dict(SpectrumAccumulator().state_dict())
    assert empty.count == 0 and empty.shape is None
    # loading an empty state resets a filled accumulator
    acc.load_state_dict(SpectrumAccumulator().state_dict())
    assert acc.count == 0 and acc.shape is None


def test_load_state_dict_rejects_bad_states(gen: torch.Generator) -> None:
    good = fill(data(3, (4, 6), torch.float64, gen), [(0, 3)], "torch").state_dict()
    bad_states = [
        {k: v for k, v in good.items() if k != "m2"},
        {**good, "mean": good["mean"][:, :2]},
        {**good, "m2": good["m2"].tolist()},
        {**good, "shape": (2, 4, 8)},
        {**good, "dtype": "int64"},
        {**good, "dtype": "float16"},
    ]
    for state in bad_states:
        acc = SpectrumAccumulator()
        with pytest.raises(SpectralValueError):
            acc.load_state_dict(state)
        assert acc.count == 0  # left as found


def test_shape_mismatch_between_batches(gen: torch.Generator) -> None:
    acc = SpectrumAccumulator(backend="numpy")
    acc.update(data(2, (4, 6), torch.float64, gen))
    for bad in [data(2, (4, 5), torch.float64, gen), data(2, (4, 6), torch.float64, gen, c=3)]:
        with pytest.raises(SpectralValueError) as info:
            acc.update(bad)
        assert str(tuple(bad.shape[1:])) in str(info.value)
        assert "(2, 4, 6)" in str(info.value)
    assert acc.count == 2  # failed updates change nothing


def test_empty_and_single_image() -> None:
    acc = SpectrumAccumulator()
    assert acc.count == 0 and acc.shape is None
    with pytest.raises(SpectralValueError, match="0"):
        acc.mean()
    with pytest.raises(SpectralValueError):
        acc.var()
    with pytest.raises(SpectralValueError):
        acc.var(correction=0)
    x = torch.rand(1, 1, 5, 4, dtype=torch.float64)
    acc.update(x)
    torch.testing.assert_close(acc.mean(), sp.power_spectrum(x)[0])
    with pytest.raises(SpectralValueError, match="1"):
        acc.var()
    torch.testing.assert_close(acc.var(correction=0), torch.zeros(1, 5, 4, dtype=torch.float64))
    acc.update(x + 1)
    assert acc.var().shape == (1, 5, 4)


@pytest.mark.parametrize("backend_", ["torch", "numpy", "scipy", "pyfftw"])
def test_numerically_stable(backend_: str, gen: torch.Generator) -> None:
    """Huge mean, tiny variance: naive sum-of-squares would lose every digit."""
    x = 1000.0 + 1e-3 * torch.randn(37, 2, 8, 8, dtype=torch.float64, generator=gen)
    p = sp.power_spectrum(x, backend="torch")
    want = torch.var(p, dim=0)
    for splits in (SPLITS, [(0, 37)]):
        acc = fill(x, splits, backend_)
        got = acc.var()
        assert float(((got - want).abs() / want).max()) < 1e-6
        assert bool((got > 0).all())


def test_memory_stays_constant(backend: str, gen: torch.Generator) -> None:
    acc = SpectrumAccumulator(backend=backend)
    for i in range(6):
        acc.update(data(1 + 3 * i, (7, 10), torch.float32, gen, c=3))
        state = acc.state_dict()
        for k in ("mean", "m2"):
            assert tuple(state[k].shape) == (3, 7, 10 // 2 + 1)
            assert state[k].dtype == torch.float64
        internal = [v for v in vars(acc).values() if isinstance(v, torch.Tensor)]
        assert len(internal) == 2
        assert all(tuple(t.shape) == (3, 7, 6) for t in internal)
    assert acc.count == sum(1 + 3 * i for i in range(6))


def test_gradients_are_not_tracked(gen: torch.Generator) -> None:
    x = data(3, (4, 4), torch.float64, gen).requires_grad_()
    acc = SpectrumAccumulator(backend="numpy").update(x)  # detached: a CPU backend is fine
    assert not acc.mean().requires_grad
    acc2 = SpectrumAccumulator().update(x)
    assert not acc2.var().requires_grad
    torch.testing.assert_close(acc.var(), acc2.var())


def test_repr(gen: torch.Generator) -> None:
    acc = SpectrumAccumulator()
    assert "count=0" in repr(acc)
    acc.update(data(2, (3, 4), torch.float64, gen))
    assert "count=2" in repr(acc) and "(2, 3, 4)" in repr(acc)


@cuda
def test_cuda_accumulator_stays_on_device(backend: str, gen: torch.Generator) -> None:
    x = data(10, (8, 6), torch.float32, gen)
    acc = fill(x.cuda(), [(0, 3), (3, 10)], backend)
    assert acc.mean().device.type == "cuda" and acc.var().device.type == "cuda"
    assert_rel(acc.mean().cpu(), reference(x).mean(0), 1e-5)
    with pytest.raises(SpectralValueError, match="device"):
        acc.update(x[:2])  # CPU batch after CUDA batches
