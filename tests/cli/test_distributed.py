"""`spectral` under torchrun (2 ranks on the CPU, gloo) and interrupted runs that resume.

Each sharded run is compared with a one-process run of the same command and seed: heat-map
counts must be equal, gradient statistics equal to round-off.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TORCHRUN = Path(sys.executable).with_name("torchrun")

pytestmark = pytest.mark.skipif(not TORCHRUN.exists(), reason="torchrun is not installed")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    return env


def _spectral(args: list[str], ranks: int = 1, **kw: Any) -> subprocess.CompletedProcess[str]:
    if ranks > 1:
        cmd = [str(TORCHRUN), "--standalone", "--nproc-per-node", str(ranks), "-m", "cli.main"]
    else:
        cmd = [sys.executable, "-m", "cli.main"]
    return subprocess.run(
        cmd + args, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300, **kw
    )


def _close(a: Any, b: Any, path: str = "") -> None:
    """Equal JSON, floats to round-off."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (u, v) in enumerate(zip(a, b, strict=True)):
            _close(u, v, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert b == pytest.approx(a, rel=1e-4, abs=1e-6), path
    else:
        assert a == b, path


def _one_and_two(tmp_path: Path, args: list[str], name: str) -> tuple[Any, Any, str]:
    """Run ``args`` in one process and on two ranks; both JSONs without the launch fields."""
    one = _spectral([*args, "--out", str(tmp_path / "one")])
    two = _spectral([*args, "--out", str(tmp_path / "two")], ranks=2)
    assert one.returncode == 0, one.stderr
    assert two.returncode == 0, two.stderr
    a = json.loads((tmp_path / "one" / name).read_text())
    b = json.loads((tmp_path / "two" / name).read_text())
    assert (a.pop("world_size"), b.pop("world_size")) == (1, 2)
    assert "contiguous blocks" in b.pop("sharding")
    assert a.pop("sharding") == "none (one process)"
    return a, b, two.stdout


def test_heatmap_on_two_ranks_equals_one_process(tmp_path: Path) -> None:
    args = ["heatmap", "--n-images", "7", "--step", "8", "--seed", "3", "--format", "png"]
    a, b, stdout = _one_and_two(tmp_path, args, "heatmap.json")
    assert a == b  # error counts k / n: exactly equal
    assert stdout.count("wrote ") == 1  # rank 0 alone talks and writes


@pytest.mark.slow  # two spawned ranks compare the gradients in test_heatmap_scale.py
def test_gradients_on_two_ranks_equal_one_process(tmp_path: Path) -> None:
    a, b, _ = _one_and_two(
        tmp_path, ["gradients", "--n-images", "5", "--format", "png"], "gradients.json"
    )
    _close(a, b)


def test_evaluate_on_two_ranks_equals_one_process(tmp_path: Path) -> None:
    # 13 images in batches of 4: rank 0 runs batches 1-2, rank 1 batches 3-4 (one image)
    args = ["evaluate", "--n-images", "13", "--batch-size", "4", "--pgd-steps", "3"]
    a, b, stdout = _one_and_two(tmp_path, [*args, "--apgd-steps", "3"], "evaluate.json")
    assert a == b  # PGD and APGD counts: exactly equal
    assert stdout.count("-> ") == 1


def test_more_ranks_than_images_is_one_clear_error(tmp_path: Path) -> None:
    res = _spectral(
        ["heatmap", "--n-images", "1", "--step", "8", "--out", str(tmp_path / "o")], ranks=2
    )
    assert res.returncode != 0
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert lines == [
        "error: 2 processes were launched but there are only 1 images; launch at most 1 "
        "(torchrun --nproc-per-node / --nnodes)"
    ]
    assert not (tmp_path / "o").exists()


def _kill_after_first(cmd: list[str], kept: Path) -> None:
    """Start ``cmd``, SIGTERM it once a file matching ``kept`` (a glob path) appears."""
    proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not list(kept.parent.glob(kept.name)) and time.monotonic() < deadline:
        assert proc.poll() is None, "the run ended before its first checkpoint"
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) != 0


@pytest.mark.parametrize(
    ("args", "name", "kept"),
    [
        pytest.param(  # the library's resume is tested in tests/analysis/test_heatmap_scale.py
            ["heatmap", "--n-images", "24", "--step", "2", "--format", "png", "--seed", "1"],
            "heatmap.json",
            "heatmap/heatmap-*.pt",
            marks=pytest.mark.slow,
        ),
        (
            ["evaluate", "--n-images", "24", "--batch-size", "4", "--pgd-steps", "5"],
            "evaluate.json",
            "evaluate/pgd_evaluation/*.pt",
        ),
    ],
)
def test_a_killed_run_resumes_to_the_uninterrupted_result(
    tmp_path: Path, args: list[str], name: str, kept: str
) -> None:
    if args[0] == "evaluate":
        args = [*args, "--apgd-steps", "10"]
    full = _spectral([*args, "--out", str(tmp_path / "full")])
    assert full.returncode == 0, full.stderr
    out = tmp_path / "run"
    extra = ["--checkpoint-every", "0"] if args[0] == "heatmap" else []
    cmd = [sys.executable, "-m", "cli.main", *args, "--out", str(out), *extra]
    _kill_after_first(cmd, out / ".spectral-work" / kept)
    assert not (out / name).exists()  # nothing half-written as the output
    assert list((out / ".spectral-work").rglob("*.pt"))
    refused = _spectral([*args, "--out", str(out)])
    assert refused.returncode != 0 and "pass --resume" in refused.stderr
    resumed = _spectral([*args, "--out", str(out), "--resume"])
    assert resumed.returncode == 0, resumed.stderr
    a = json.loads((tmp_path / "full" / name).read_text())
    b = json.loads((out / name).read_text())
    assert a == b
    assert not (out / ".spectral-work").exists()  # checkpoints go once the output is in place
    shutil.rmtree(out)
