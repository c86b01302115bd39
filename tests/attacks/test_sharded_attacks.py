"""Attacks (by whole batches) and spectra (by images) sharded over ranks equal one process.

Three ranks are spawned on the CPU (gloo). Seeded attacks draw their random starts per
batch, so each rank runs whole batches of the one-process run and the adversarial images
(and every count built on them) must come out bit for bit the same, including when a rank
is left without a batch.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from spectral import distributed as D
from spectral.analysis import attack_analysis, dataset_spectrum, feature_spectra
from spectral.attacks import apgd_robust_accuracy, make_attack, pgd_evaluation
from spectral.data import ImageDataset
from spectral.defenses import blackbox_blur_table
from spectral.metrics import robust_accuracy


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(6 * 8 * 8, 4)
    )


def _data(n: int = 11) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    x = torch.rand(n, 3, 8, 8, generator=g)
    return x, torch.randint(0, 4, (n,), generator=g)


def _close(a: Any, b: Any) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _close(a[k], b[k])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for u, v in zip(a, b, strict=True):
            _close(u, v)
    elif isinstance(a, float):
        assert b == pytest.approx(a, rel=1e-6, abs=1e-6)  # float32 fractions
    else:
        assert a == b


def _results() -> dict[str, Any]:
    """Every sharded attack path on 11 images; batch sizes give 4, 3 and 2 batches."""
    net, (x, y) = _net(), _data()
    att = attack_analysis({"net": net}, x, y, attack="pgd", steps=2, seed=1, batch_size=3)
    pgd = make_attack("pgd", net, eps=8 / 255, steps=2, seed=1)
    blackbox, adaptive = blackbox_blur_table(net, x, y, sizes=(3,), steps=2, batch_size=4)
    return {
        "adversarial": att.adversarial["net"],
        "metrics": att.metrics["net"],
        "robust_bs6": robust_accuracy(net, pgd, x, y, batch_size=6),  # 2 batches, 3 ranks
        # no step: the random start alone decides, so a start drawn out of turn shows
        "pgd_eval": pgd_evaluation(
            net, ImageDataset(x, y, ("a", "b", "c", "d")), eps=1.0, steps=0, seed=0, batch_size=3
        ),
        "apgd": apgd_robust_accuracy(net, x, y, steps=3, n_classes=4, seed=2, batch_size=5),
        "blur": (blackbox, adaptive),
        # spectra: each rank accumulates its images, the accumulators are merged
        "dataset": dataset_spectrum(x, batch_size=4).mean_power,
        "features": feature_spectra(net, x[:2], att.adversarial["net"][:2], "0")["0"],  # 1 idle
    }


def _rank_main(rank: int, world: int, init: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        torch.save(_results(), os.path.join(out, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def test_three_ranks_give_the_one_process_results_bit_for_bit() -> None:
    single = _results()
    with tempfile.TemporaryDirectory() as tmp:
        init = "file://" + os.path.join(tmp, "store")
        mp.spawn(_rank_main, args=(3, init, tmp), nprocs=3, join=True)
        got = [torch.load(os.path.join(tmp, f"rank{r}.pt"), weights_only=False) for r in range(3)]
    for g in got:  # every rank returns the whole result
        assert torch.equal(g["adversarial"], single["adversarial"])
        # rates are counts / n: exact; spectral statistics to round-off (FFTW plans its
        # transforms by timing them, so two processes may sum in another order)
        _close(g["metrics"], single["metrics"])
        for k in ("clean_accuracy", "adversarial_accuracy", "attack_success_rate"):
            assert g["metrics"][k] == single["metrics"][k]
        assert g["robust_bs6"] == single["robust_bs6"]
        assert g["pgd_eval"] == single["pgd_eval"]
        assert g["apgd"] == single["apgd"]
        assert g["blur"] == single["blur"]
        torch.testing.assert_close(g["dataset"], single["dataset"], rtol=1e-5, atol=1e-8)
        for k in ("clean", "adversarial", "perturbation"):
            want = getattr(single["features"], k)
            torch.testing.assert_close(getattr(g["features"], k), want, rtol=1e-5, atol=1e-8)
        assert g["features"].count == 2
    assert not torch.equal(single["adversarial"], _data()[0])  # the attack did move the images


@pytest.mark.parametrize("n", [0, 1, 7, 11, 64])
@pytest.mark.parametrize("bs", [1, 3, 5, 64])
@pytest.mark.parametrize("world", [1, 2, 3, 5])
def test_batch_blocks_cover_every_image_once_in_whole_batches(
    monkeypatch: pytest.MonkeyPatch, n: int, bs: int, world: int
) -> None:
    blocks = {}
    for rank in range(world):
        monkeypatch.setattr(D, "rank_and_size", lambda r=rank: (r, world))
        blocks[rank] = D.my_block(n, bs)
        assert D.batch_blocks(n, bs)[rank] == blocks[rank]
    covered = np.concatenate([np.arange(a, b) for a, b in blocks.values()])
    assert covered.tolist() == list(range(n))  # disjoint, in order, complete
    one = [(s, min(s + bs, n)) for s in range(0, n, bs)]  # a one-process run's batches
    for a, b in blocks.values():
        assert a == b or (a % bs == 0 and (b == n or b % bs == 0))
        assert all(s >= b or e <= a or (a <= s and e <= b) for s, e in one)  # none is split
    batches = [-(-(b - a) // bs) for a, b in blocks.values()]
    assert max(batches) - min(batches) <= 1  # balanced to one batch


def test_local_leaves_the_attacks_unsharded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(D, "rank_and_size", lambda: (1, 4))
    assert D.my_block(10, 2) == (4, 6)
    with D.local():
        assert D.batch_blocks(10, 2) == [(0, 10)]
        assert D.agreed_batch_size(7) == 7
    assert D.my_block(10, 2) == (4, 6)
