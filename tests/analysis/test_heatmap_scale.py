"""Heat maps at scale: frequency subsets, checkpoints that resume, and runs sharded over ranks.

The expected values come from the full one-process map of the same model and seed: a subset
must equal it at the kept cells, a resumed run and a two-rank run must equal it everywhere.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from spectral.analysis import (
    band_attack_analysis,
    filtered_accuracy,
    fourier_heatmap,
    gradient_spectra,
    heatmap_analysis,
    heatmap_bands,
    heatmap_cells,
)
from spectral.errors import SpectralValueError


def _net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(6 * 8 * 8, 3)
    ).double()


def _data(n: int = 12, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, 8, 8, generator=g, dtype=torch.float64)
    return x, torch.randint(0, 3, (n,), generator=g)


def _brute_cells(h: int, w: int, step: int, radius: float | None, listed) -> np.ndarray:  # type: ignore[no-untyped-def]
    keep = np.zeros((h, w), dtype=bool)
    for r in range(h):
        for c in range(w):
            ky, kx = r - h // 2, c - w // 2
            ok = ky % step == 0 and kx % step == 0
            if radius is not None:
                ok = ok and math.hypot(ky, kx) <= radius
            if listed is not None:
                cells = {((a + h // 2) % h, (b + w // 2) % w) for a, b in listed}
                mirrors = {((-a + h // 2) % h, (-b + w // 2) % w) for a, b in listed}
                ok = ok and ((r, c) in cells or (r, c) in mirrors)
            keep[r, c] = ok
    return keep


@pytest.mark.parametrize("size", [(8, 8), (7, 9), (6, 5)])
@pytest.mark.parametrize(
    ("step", "radius", "listed"),
    [
        (1, None, None),
        (2, None, None),
        (3, 2.5, None),
        (1, 1.0, None),
        (1, None, [(0, 1), (-1, 2)]),
        (1, None, [(3, 0), (-2, -2)]),
    ],
)
def test_cells_match_the_definition(size, step, radius, listed) -> None:  # type: ignore[no-untyped-def]
    h, w = size
    keep = heatmap_cells(size, step=step, max_radius=radius, frequencies=listed)
    np.testing.assert_array_equal(keep, _brute_cells(h, w, step, radius, listed))
    # every subset is closed under k -> -k (a basis and its mirror are one image)
    rows, cols = np.nonzero(keep)
    assert all(
        keep[(h // 2 - (r - h // 2)) % h, (w // 2 - (c - w // 2)) % w]
        for r, c in zip(rows, cols, strict=True)
    )


def test_subsampled_map_equals_the_full_map_at_the_kept_cells() -> None:
    net, (x, y) = _net(), _data()
    full = fourier_heatmap(net, x, y, eps=2.0, seed=3)
    assert not full.isnan().any()
    for kw in (
        {"step": 2},
        {"max_radius": 2.0},
        {"frequencies": [(1, -3), (4, 4)]},
        {"step": 2, "max_radius": 3},
    ):
        sub = fourier_heatmap(net, x, y, eps=2.0, seed=3, **kw)
        keep = torch.from_numpy(heatmap_cells((8, 8), **kw))
        assert torch.equal(sub[keep], full[keep])
        assert sub[~keep].isnan().all()


def test_subset_evaluates_only_its_frequencies() -> None:
    calls: list[int] = []

    class Count(nn.Module):
        def forward(self, b: torch.Tensor) -> torch.Tensor:
            calls.append(b.shape[0])
            return torch.zeros(b.shape[0], 2, dtype=b.dtype)

    x, _ = _data(n=5)
    fourier_heatmap(Count(), x, torch.zeros(5, dtype=torch.long), eps=1.0, step=4, batch_size=64)
    # step 4 on 8x8: k in {-4, 0} per axis = 4 cells, which are their own mirrors
    assert sum(calls) == 4 * 5


def test_bands_and_summary_skip_the_cells_left_out() -> None:
    heat = torch.full((8, 8), math.nan)
    heat[4, 5] = heat[4, 3] = 0.5  # k = (0, +-1): radius 1/8, the mid band
    heat[4, 4] = 0.25
    bands = heatmap_bands(heat)
    assert bands["mid"] == 0.5 and math.isnan(bands["low"]) and math.isnan(bands["high"])
    net, (x, y) = _net(), _data(n=4)
    a = heatmap_analysis({"net": net}, x, y, eps=1.0, step=4)
    d = a.to_dict()
    assert d["subset"]["step"] == 4 and d["models"]["net"]["cells_evaluated"] == 4
    assert math.isfinite(d["models"]["net"]["mean_error"])


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"step": 0}, "step"),
        ({"step": 1.5}, "step"),
        ({"max_radius": -1}, "max_radius"),
        ({"max_radius": math.inf}, "max_radius"),
        ({"frequencies": [(5, 0)]}, "outside the 8x8 map"),
        ({"frequencies": []}, "frequencies"),
        ({"frequencies": [(0.5, 1)]}, "frequencies"),
        ({"max_radius": 0.5, "frequencies": [(2, 2)]}, "keeps no frequency"),
        ({"checkpoint_every": -1}, "checkpoint_every"),
    ],
)
def test_bad_subsets_are_refused(kw, needle) -> None:  # type: ignore[no-untyped-def]
    x, y = _data(n=2)
    with pytest.raises(SpectralValueError, match=needle):
        fourier_heatmap(_net(), x, y, **kw)


class _Stop(Exception):
    pass


def test_an_interrupted_map_resumes_to_the_uninterrupted_result(tmp_path: Path) -> None:
    net, (x, y) = _net(), _data()
    full = fourier_heatmap(net, x, y, eps=2.0, seed=5, batch_size=12)
    ckpt = tmp_path / "work" / "hm.pt"

    def stop_after_3(done: int, total: int) -> None:
        if done >= 3:
            raise _Stop

    with pytest.raises(_Stop):
        fourier_heatmap(
            net,
            x,
            y,
            eps=2.0,
            seed=5,
            batch_size=12,
            progress=stop_after_3,
            checkpoint=ckpt,
            checkpoint_every=3600,  # only the save on interruption
        )
    assert ckpt.exists() and not ckpt.with_name("hm.pt.tmp").exists()
    seen: list[int] = []
    again = fourier_heatmap(
        net,
        x,
        y,
        eps=2.0,
        seed=5,
        batch_size=12,
        checkpoint=ckpt,
        progress=lambda d, t: seen.append(d),
    )
    assert torch.equal(again, full)
    assert seen[0] == 4 and seen[-1] == 34  # it started after the 3 pairs already done
    assert not ckpt.exists()  # a finished map leaves no checkpoint


def test_a_checkpoint_of_another_run_is_refused(tmp_path: Path) -> None:
    net, (x, y) = _net(), _data()
    ckpt = tmp_path / "hm.pt"

    def stop(done: int, total: int) -> None:
        raise _Stop

    with pytest.raises(_Stop):
        fourier_heatmap(net, x, y, eps=2.0, progress=stop, checkpoint=ckpt)
    for kw in ({"eps": 3.0}, {"eps": 2.0, "seed": 1}, {"eps": 2.0, "step": 2}):
        with pytest.raises(SpectralValueError, match="another heat map"):
            fourier_heatmap(net, x, y, checkpoint=ckpt, **kw)
    with pytest.raises(SpectralValueError, match="another heat map"):
        fourier_heatmap(_net(seed=9), x, y, eps=2.0, checkpoint=ckpt)
    ckpt.write_bytes(b"not a checkpoint")
    with pytest.raises(SpectralValueError, match="another heat map"):
        fourier_heatmap(net, x, y, eps=2.0, checkpoint=ckpt)


def _rank_main(rank: int, world: int, init: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        net, (x, y) = _net(), _data(n=11)
        heat = fourier_heatmap(net, x, y, eps=2.0, seed=7, step=1)
        filt = filtered_accuracy({"net": net}, x, y, radii=(0.1, 0.3))
        grads = gradient_spectra(net, x, y, steps=4)
        band = band_attack_analysis({"net": net}, x, y, bands=("mid", "high"), steps=2, seed=2)
        torch.save(
            {"heat": heat, "filtered": filt.to_dict(), "ig": grads.integrated, "band": band},
            os.path.join(out, f"ranks{rank}.pt"),
        )
    finally:
        dist.destroy_process_group()


def test_two_ranks_give_the_one_process_results() -> None:
    net, (x, y) = _net(), _data(n=11)
    single = fourier_heatmap(net, x, y, eps=2.0, seed=7)
    filt = filtered_accuracy({"net": net}, x, y, radii=(0.1, 0.3)).to_dict()
    ig = gradient_spectra(net, x, y, steps=4).integrated
    band = band_attack_analysis({"net": net}, x, y, bands=("mid", "high"), steps=2, seed=2)
    with tempfile.TemporaryDirectory() as tmp:
        init = "file://" + os.path.join(tmp, "store")
        mp.spawn(_rank_main, args=(2, init, tmp), nprocs=2, join=True)
        got = [torch.load(os.path.join(tmp, f"ranks{r}.pt"), weights_only=False) for r in range(2)]
    for g in got:  # 11 images: ranks hold 6 and 5; counts are summed exactly
        assert torch.equal(g["heat"], single)
        assert g["filtered"] == filt
        torch.testing.assert_close(g["ig"], ig)  # gathered back in image order
        # per-image random starts: the band attack's counts are those of one process
        assert g["band"].robust_accuracy == band.robust_accuracy
        assert g["band"].clean_accuracy == band.clean_accuracy
        for b in ("mid", "high"):
            assert g["band"].out_of_band["net"][b] == pytest.approx(
                band.out_of_band["net"][b], abs=1e-12
            )


def test_figure_draws_a_step_subset_as_blocks_and_leaves_a_radius_blank() -> None:
    from spectral.plot import heatmap_figure

    net, (x, y) = _net(), _data(n=6)
    stepped = fourier_heatmap(net, x, y, eps=2.0, step=2)
    fig = heatmap_figure({"net": stepped})
    shown = torch.as_tensor(np.asarray(fig.axes[0].images[0].get_array(), dtype=np.float64))
    assert not shown.isnan().any()
    # each cell shows the evaluated frequency at its lattice point (k rounded to even)
    for r in range(8):
        for c in range(8):
            ky, kx = r - 4, c - 4
            ly, lx = (2 * round(ky / 2) + 4) % 8, (2 * round(kx / 2) + 4) % 8
            assert float(shown[r, c]) == pytest.approx(float(stepped[ly, lx]))
    ringed = fourier_heatmap(net, x, y, eps=2.0, max_radius=2)
    fig = heatmap_figure({"net": ringed})
    data = np.ma.getdata(fig.axes[0].images[0].get_array()).astype(np.float64)
    mask = np.ma.getmaskarray(fig.axes[0].images[0].get_array()) | np.isnan(data)
    np.testing.assert_array_equal(~mask, heatmap_cells((8, 8), max_radius=2))


def test_bfloat16_runs_the_model_in_bfloat16_and_stays_close() -> None:
    dtypes: list[torch.dtype] = []
    net = _net().float()
    net[0].register_forward_hook(lambda m, i, o: dtypes.append(o.dtype))
    x, y = _data(n=16)
    x = x.float()
    full = fourier_heatmap(net, x, y, eps=2.0, batch_size=64)
    assert set(dtypes) == {torch.float32}
    dtypes.clear()
    low = fourier_heatmap(net, x, y, eps=2.0, batch_size=64, precision="bfloat16")
    assert set(dtypes) == {torch.bfloat16} and low.dtype == torch.float32
    # a prediction flips only near a tie: most cells agree, none by much
    assert float((low - full).abs().max()) <= 0.25
    assert float((low == full).double().mean()) >= 0.5
    with pytest.raises(SpectralValueError, match="precision"):
        fourier_heatmap(net, x, y, precision="float16")
