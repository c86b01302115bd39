"""Commands meet users' own models and data: mismatches are one line before any work,
--vs-weights compares two checkpoints of one architecture, errors name the option."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from cli.main import app
from spectral.models import SmallCNN

runner = CliRunner()

MODULE = """
import torch
from torch import nn
from spectral.models import SmallCNN

def small():
    return SmallCNN(width=4)

def three_classes():
    return SmallCNN(width=4, num_classes=3)

def wide5():
    return nn.Sequential(nn.Conv2d(3, 4, 5, padding=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(4, 10))

def grey():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(4, 10))
"""


@pytest.fixture
def mods(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    (tmp_path / "usermods.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("usermods", None)


def _npz(path: Path, channels: int, n: int = 12, size: int = 16) -> Path:
    rng = np.random.default_rng(0)
    shape = (n, size, size) if channels == 1 else (n, size, size, channels)
    np.savez(path, images=rng.integers(0, 256, shape, dtype=np.uint8), labels=np.arange(n) % 10)
    return path


def _one_line(res) -> str:
    lines = res.stderr.strip().splitlines()
    assert res.exit_code == 1 and len(lines) == 1, res.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in res.output + res.stderr
    return lines[0]


@pytest.mark.parametrize(
    "cmd",
    [
        ["heatmap", "--n-images", "4"],
        ["gradients", "--n-images", "4"],
        ["calibrate", "--n-images", "4", "--steps", "1"],
        ["report", "--n-images", "4", "--blur-images", "0"],
    ],
)
def test_rgb_model_on_grey_data_is_one_line(tmp_path: Path, cmd: list[str]) -> None:
    data = _npz(tmp_path / "grey.npz", 1)
    out = tmp_path / "o"
    line = _one_line(runner.invoke(app, [*cmd, "--data", str(data), "--out", str(out)]))
    assert "builtin:standard" in line and "3-channel" in line and "has 1" in line
    assert not out.exists()


@pytest.mark.parametrize("cmd", [["heatmap"], ["gradients"], ["calibrate", "--steps", "1"]])
def test_model_that_does_not_run_on_the_data_is_one_line(
    mods: Path, tmp_path: Path, cmd: list[str]
) -> None:
    out = tmp_path / "o"
    res = runner.invoke(app, [*cmd, "--vs", "usermods:grey", "--n-images", "4", "--out", str(out)])
    line = _one_line(res)
    assert "usermods:grey" in line and "32x32 images with 3 channels" in line
    assert "--image-size" not in line and not out.exists()  # a channel problem, not a size


def test_too_few_classes_is_one_line_before_the_attack(mods: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    res = runner.invoke(
        app,
        ["calibrate", "--model", "usermods:three_classes", "--vs", "", "--n-images", "20",
         "--out", str(out)],
    )  # fmt: skip
    line = _one_line(res)
    assert "10 classes" in line and "3 outputs" in line and "--class-map" in line
    assert not out.exists()


def test_vs_weights_compares_two_checkpoints_of_one_factory(mods: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    torch.save(SmallCNN(width=4).state_dict(), tmp_path / "a.pt")
    torch.save(SmallCNN(width=4).state_dict(), tmp_path / "b.pt")
    out = tmp_path / "f"
    res = runner.invoke(
        app,
        ["filters", "--model", "usermods:small", "--weights", str(tmp_path / "a.pt"),
         "--vs", "usermods:small", "--vs-weights", str(tmp_path / "b.pt"), "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.stderr
    data = json.loads((out / "filters.json").read_text())
    assert data["models"] == ["usermods:small [a.pt]", "usermods:small [b.pt]"]
    a, b = (data["layers"][k] for k in data["models"])
    assert [r["orthogonality"] for r in a] != [r["orthogonality"] for r in b]
    # the same spec and weights twice is one model
    out2 = tmp_path / "g"
    res = runner.invoke(
        app,
        ["filters", "--model", "usermods:small", "--weights", str(tmp_path / "a.pt"),
         "--vs", "usermods:small", "--vs-weights", str(tmp_path / "a.pt"), "--out", str(out2)],
    )  # fmt: skip
    assert res.exit_code == 0, res.stderr
    assert json.loads((out2 / "filters.json").read_text())["models"] == ["usermods:small"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--vs", "builtin:nope"], "--vs 'builtin:nope': unknown built-in model"),
        (["--model", "builtin:nope"], "--model 'builtin:nope'"),
        (["--vs-weights", "w.pt"], "--vs-weights: only used with a 'package.module:factory'"),
        (["--weights", "w.pt"], "--weights: only used with a 'package.module:factory'"),
    ],
)
def test_load_errors_name_the_option(tmp_path: Path, args: list[str], needle: str) -> None:
    out = tmp_path / "o"
    assert needle in _one_line(runner.invoke(app, ["heatmap", *args, "--out", str(out)]))
    assert not out.exists()


@pytest.mark.parametrize("seed", ["-1", str(10**30)])
def test_seed_out_of_range_is_a_usage_error(tmp_path: Path, seed: str) -> None:
    res = runner.invoke(app, ["heatmap", "--seed", seed, "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "--seed" in res.output + res.stderr
    assert "Traceback" not in res.output + res.stderr and not (tmp_path / "o").exists()


def test_calibrate_unknown_attack_names_the_option(tmp_path: Path) -> None:
    line = _one_line(
        runner.invoke(app, ["calibrate", "--attack", "nope", "--out", str(tmp_path / "c")])
    )
    assert "--attack nope: expected one of" in line and "'pgd'" in line


def test_report_leaves_out_filters_of_a_model_without_3x3_convs(mods: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    res = runner.invoke(
        app,
        ["report", "--model", "usermods:wide5", "--compare-model", "builtin:standard",
         "--n-images", "4", "--steps", "1", "--blur-images", "0", "--gradient-images", "2",
         "--heatmap-images", "2", "--layers", "first_conv", "--detect-images", "40",
         "--band-images", "4", "--format", "png", "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.stderr
    data = json.loads((out / "report.json").read_text())
    assert data["filters"]["usermods:wide5"] == [] and data["filters"]["builtin:standard"]
    assert data["filters_skipped"]["usermods:wide5"] == {"0": "5x5 kernel"}
    html = (out / "report.html").read_text()
    assert "usermods:wide5: not 3x3, so not in these statistics: 0 (5x5 kernel)" in html
    # the skipped section is listed with the option that brings it back
    assert data["skipped"] == [
        {"section": "BlurNet blur table", "enable_with": "--blur-images N (N > 0)"}
    ]
    assert "Skipped sections" in (out / "report.html").read_text()
