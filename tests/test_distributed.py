"""spectral.distributed without a launcher: shards, reductions, and refused launches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spectral import distributed as d
from spectral.errors import SpectralValueError


def test_one_process_is_rank_0_of_1_and_holds_everything() -> None:
    assert d.rank_and_size() == (0, 1) and d.is_main()
    assert d.shard(5).tolist() == [0, 1, 2, 3, 4]
    assert d.describe() == {"world_size": 1, "sharding": "none (one process)"}
    t = torch.tensor([1, 2])
    assert torch.equal(d.all_reduce_sum(t), t) and torch.equal(d.all_reduce_max(t), t)
    assert torch.equal(d.gather_rows(torch.ones(3, 2), 3), torch.ones(3, 2))


@pytest.mark.parametrize(("n", "world"), [(11, 2), (10, 3), (3, 3), (7, 4)])
def test_shards_are_disjoint_contiguous_and_cover_all(monkeypatch, n, world) -> None:  # type: ignore[no-untyped-def]
    parts = []
    for rank in range(world):
        monkeypatch.setattr(d, "rank_and_size", lambda r=rank: (r, world))
        parts.append(d.shard(n))
    assert np.array_equal(np.concatenate(parts), np.arange(n))  # in order, no overlap
    assert max(map(len, parts)) - min(map(len, parts)) <= 1


def test_more_ranks_than_images_is_refused(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(d, "rank_and_size", lambda: (0, 4))
    with pytest.raises(SpectralValueError, match="4 processes were launched but there are only 3"):
        d.shard(3)


def test_cuda_without_a_gpu_is_refused_under_a_launcher(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert d.launched()
    with pytest.raises(SpectralValueError, match="no GPU is visible"):
        d.init_from_env("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(SpectralValueError, match="local rank 1 needs a GPU of its own"):
        d.init_from_env("cuda")


def test_not_launched_leaves_the_device_alone(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert not d.launched()
    assert d.init_from_env("cpu") == torch.device("cpu")
