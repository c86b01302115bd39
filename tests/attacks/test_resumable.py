"""Attack loops under ``resumable``: stopped midway, rerun, same result; nothing reused wrongly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import spectral as sp
from spectral._internal import checkpoint
from spectral._internal.batching import attack_in_batches
from spectral.attacks import apgd_robust_accuracy, make_attack, pgd_evaluation
from spectral.data import ImageDataset


class Stop(Exception):
    pass


def _net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(6 * 8 * 8, 4)
    )


def _data(n: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.rand(n, 3, 8, 8, generator=g), torch.randint(0, 4, (n,), generator=g)


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Counts batches reused and saved; ``stop_after`` interrupts after that many saves."""
    state: dict[str, Any] = {"reused": 0, "saved": 0, "stop_after": None}
    load, save = checkpoint.BatchStore.load, checkpoint.BatchStore.save

    def counting_load(self: checkpoint.BatchStore, *batch: Any) -> Any:
        value = load(self, *batch)
        state["reused"] += value is not None
        return value

    def stopping_save(self: checkpoint.BatchStore, value: Any, *batch: Any) -> None:
        save(self, value, *batch)
        state["saved"] += self.folder is not None
        if state["stop_after"] is not None and state["saved"] >= state["stop_after"]:
            raise Stop

    monkeypatch.setattr(checkpoint.BatchStore, "load", counting_load)
    monkeypatch.setattr(checkpoint.BatchStore, "save", stopping_save)
    return state


def _interrupted_then_resumed(
    run: Callable[[], Any], tmp_path: Path, spy: dict[str, Any], batches: int, stop_after: int
) -> tuple[Any, Any]:
    """The uninterrupted result, and that of a run stopped after ``stop_after`` batches, rerun."""
    full = run()
    assert spy["saved"] == 0  # outside resumable(): nothing is kept
    spy["stop_after"] = stop_after
    with pytest.raises(Stop), sp.resumable(tmp_path):
        run()
    spy.update(stop_after=None, saved=0, reused=0)
    with sp.resumable(tmp_path):
        resumed = run()
    assert spy["reused"] == stop_after  # the kept batches are not attacked again
    assert spy["saved"] == batches - stop_after
    return full, resumed


def test_robust_accuracy_resumes_to_the_uninterrupted_images(
    tmp_path: Path, spy: dict[str, Any]
) -> None:
    net, (x, y) = _net(), _data()
    atk = make_attack("pgd", net, eps=8 / 255, steps=3, seed=5)

    def run() -> float:
        return sp.robust_accuracy(net, atk, x, y, batch_size=3)

    full, resumed = _interrupted_then_resumed(run, tmp_path, spy, batches=4, stop_after=2)
    assert resumed == full
    with sp.resumable(tmp_path):  # every batch is kept now: the images are those of a fresh run
        kept = attack_in_batches(atk, x, y, 3)
    assert torch.equal(kept, attack_in_batches(atk, x, y, 3))


def test_pgd_evaluation_keeps_its_random_stream_across_a_resume(
    tmp_path: Path, spy: dict[str, Any]
) -> None:
    net, (x, y) = _net(), _data()
    data = ImageDataset(x, y, ("a", "b", "c", "d"))

    def run() -> dict[str, float]:  # no step: the random start alone decides
        return pgd_evaluation(net, data, eps=1.0, steps=0, seed=0, batch_size=3)

    full, resumed = _interrupted_then_resumed(run, tmp_path, spy, batches=4, stop_after=2)
    assert resumed == full


def test_apgd_resumes_to_the_uninterrupted_counts(tmp_path: Path, spy: dict[str, Any]) -> None:
    net, (x, y) = _net(), _data()

    def run() -> dict[str, Any]:
        return apgd_robust_accuracy(net, x, y, steps=3, n_classes=4, seed=2, batch_size=4)

    full, resumed = _interrupted_then_resumed(run, tmp_path, spy, batches=3, stop_after=1)
    assert resumed == full


def test_nothing_is_reused_for_another_model_attack_or_data(
    tmp_path: Path, spy: dict[str, Any]
) -> None:
    net, (x, y) = _net(), _data()
    with sp.resumable(tmp_path):
        sp.robust_accuracy(net, make_attack("pgd", net, steps=2, seed=1), x, y, batch_size=5)
        assert (spy["saved"], spy["reused"]) == (2, 0)
        other = _net(seed=9)
        sp.robust_accuracy(other, make_attack("pgd", other, steps=2, seed=1), x, y, batch_size=5)
        sp.robust_accuracy(net, make_attack("pgd", net, steps=2, seed=2), x, y, batch_size=5)
        sp.robust_accuracy(net, make_attack("pgd", net, steps=3, seed=1), x, y, batch_size=5)
        sp.robust_accuracy(net, make_attack("pgd", net, steps=2, seed=1), x * 0.5, y, batch_size=5)
        assert spy["reused"] == 0
        sp.robust_accuracy(net, make_attack("pgd", net, steps=2, seed=1), x, y, batch_size=5)
        assert spy["reused"] == 2  # the first call again


def test_a_damaged_batch_file_is_attacked_again(tmp_path: Path, spy: dict[str, Any]) -> None:
    net, (x, y) = _net(), _data(4)
    atk = make_attack("pgd", net, steps=2, seed=1)
    with sp.resumable(tmp_path):
        want = sp.robust_accuracy(net, atk, x, y, batch_size=4)
        (kept,) = list((tmp_path / "attack").glob("*.pt"))
        kept.write_bytes(b"truncated")
        assert sp.robust_accuracy(net, atk, x, y, batch_size=4) == want
    assert spy["reused"] == 0


def test_attacks_whose_masks_differ_in_one_pixel_have_different_keys() -> None:
    from spectral._internal.checkpoint import attack_key
    from spectral.attacks import RP2

    net = _net()
    mask = torch.ones(1, 32, 32)  # large enough for repr() to elide its middle
    other = mask.clone()
    other[0, 16, 16] = 0
    a, b = RP2(net, mask), RP2(net, other)
    assert attack_key(a)[1] != attack_key(b)[1]
    assert attack_key(a) == attack_key(RP2(net, mask.clone()))  # same settings: same key
    assert attack_key(lambda x, y: x) == (None, "")  # a plain function is never kept
