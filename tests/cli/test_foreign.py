"""Models nobody here wrote (tests/foreign_models.py) meet the commands: normalisation by
option with the model's own layer names, sizes named in one line, classes matched by
name or refused, a near-chance warning, blur tables built from the user's model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from cli._inputs import Inputs, load_nets, prepare
from cli.main import app

runner = CliRunner()


def _one_line(res) -> str:
    lines = res.stderr.strip().splitlines()
    assert res.exit_code == 1 and len(lines) == 1, res.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in res.output + res.stderr
    return lines[0]


def _folder(root: Path, classes: list[str], per_class: int = 3, size: int = 32) -> Path:
    rng = np.random.default_rng(0)
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / c / f"{i}.png")
    return root


def test_normalize_keeps_the_models_layer_names(tmp_path: Path) -> None:
    out = tmp_path / "o"
    res = runner.invoke(
        app,
        ["report", "--model", "foreign_models:resnet", "--normalize", "imagenet",
         "--layers", "conv1,layer1.0.conv2", "--n-images", "4", "--blur-images", "0",
         "--gradient-images", "0", "--heatmap-images", "0", "--steps", "1",
         "--detect-images", "0", "--band-images", "0", "--format", "png", "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output + res.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["normalize"] == "imagenet" and report["layers"] == ["conv1", "layer1.0.conv2"]


@pytest.mark.parametrize("value", ["lab", "0.5,0.5,0.5", "1,2,3,0,1,1"])
def test_bad_normalize_is_one_line(tmp_path: Path, value: str) -> None:
    out = tmp_path / "o"
    res = runner.invoke(
        app,
        ["evaluate", "--normalize", value, "--n-images", "2", "--pgd-steps", "1",
         "--apgd-steps", "0", "--out", str(out)],
    )  # fmt: skip
    assert _one_line(res).startswith("error: --normalize:") and not out.exists()


def test_a_model_for_224_on_32_pixel_data_names_both_sizes_and_the_option(
    tmp_path: Path,
) -> None:
    out = tmp_path / "o"
    res = runner.invoke(
        app, ["heatmap", "--model", "foreign_models:vit224", "--vs", "", "--out", str(out)]
    )
    line = _one_line(res)
    assert "32x32" in line and "224x224" in line and "--image-size 224" in line
    assert not out.exists()


def test_folder_classes_are_matched_to_the_models_by_name(tmp_path: Path) -> None:
    data = _folder(tmp_path / "d", ["cat", "ship"], per_class=4)
    dev = torch.device("cpu")
    nets = load_nets("builtin:standard", "", None, dev, Inputs())
    test, _, y = prepare(nets, str(data), 8, 0, dev, Inputs())
    # the folder's labels 0 (cat) and 1 (ship) become CIFAR-10's outputs 3 and 8
    assert sorted(set(y.tolist())) == [3, 8] and test.classes[3] == "cat"
    out = tmp_path / "o"
    res = runner.invoke(
        app,
        ["evaluate", "--data", str(data), "--n-images", "8", "--pgd-steps", "1",
         "--apgd-steps", "0", "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output + res.stderr


def test_unknown_folder_classes_are_refused_and_a_class_map_fixes_it(tmp_path: Path) -> None:
    data = _folder(tmp_path / "d", ["kitty", "boat"])
    out = tmp_path / "o"
    base = ["evaluate", "--data", str(data), "--n-images", "6", "--pgd-steps", "1",
            "--apgd-steps", "0", "--out", str(out)]  # fmt: skip
    line = _one_line(runner.invoke(app, base))
    assert "boat" in line and "kitty" in line and "--class-map" in line and not out.exists()
    res = runner.invoke(app, [*base, "--class-map", "kitty=cat,boat=8"])
    assert res.exit_code == 0, res.output + res.stderr
    line = _one_line(runner.invoke(app, [*base, "--class-map", "kitty=cat", "--force"]))
    assert "boat" in line and "not mapped" in line


def test_random_model_warns_near_chance_and_suggests_normalize(tmp_path: Path) -> None:
    out = tmp_path / "o"
    res = runner.invoke(
        app,
        ["calibrate", "--model", "foreign_models:resnet", "--vs", "", "--n-images", "40",
         "--steps", "1", "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output + res.stderr
    assert "near chance" in res.stderr and "--normalize" in res.stderr


def test_trained_builtin_model_gets_no_warning(tmp_path: Path) -> None:
    out = tmp_path / "o"
    res = runner.invoke(
        app, ["calibrate", "--vs", "", "--n-images", "40", "--steps", "1", "--out", str(out)]
    )
    assert res.exit_code == 0 and "near chance" not in res.stderr


def test_blur_builds_every_table_from_the_users_model(tmp_path: Path) -> None:
    out = tmp_path / "o"
    res = runner.invoke(
        app,
        ["blur", "--model", "foreign_models:resnet", "--positions", "input,conv1",
         "--n-images", "4", "--whitebox-images", "2", "--steps", "1", "--rp2-steps", "1",
         "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output + res.stderr
    result = json.loads((out / "blur.json").read_text())
    rows = {r["defense"] for r in result["whitebox"]}
    assert "foreign_models:resnet" in rows and "input blur 3x3" in rows and "conv1 blur 5x5" in rows
    assert not any("linf" in r for r in rows)  # no built-in 32x32 model sneaks in
    assert result["settings"]["sizes"] == [3, 5]


@pytest.mark.parametrize("mode", ["resize", "crop"])
def test_image_size_brings_the_data_to_the_models_size(tmp_path: Path, mode: str) -> None:
    out = tmp_path / "o"
    res = runner.invoke(
        app,
        ["evaluate", "--model", "foreign_models:vit224", "--image-size", "224",
         "--resize", mode, "--n-images", "3", "--pgd-steps", "1", "--apgd-steps", "0",
         "--batch-size", "2", "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output + res.stderr
    assert json.loads((out / "evaluate.json").read_text())["n"] == 3


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--image-size", "0"], "--image-size: expected N or H,W"),
        (["--image-size", "a,b"], "--image-size: expected N or H,W"),
        (["--resize", "stretch"], "--resize: expected resize or crop"),
        (["--batch-size", "0"], "--batch-size: expected >= 1"),
        (["--class-map", "cat"], "--class-map: expected data_class=model_class"),
    ],
)
def test_bad_shared_options_are_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    out = tmp_path / "o"
    res = runner.invoke(app, ["calibrate", *args, "--n-images", "4", "--out", str(out)])
    line = _one_line(res)
    assert needle in line and not out.exists()


def test_robustbench_weights_and_model_dir_are_checked(tmp_path: Path) -> None:
    out = tmp_path / "o"
    base = ["evaluate", "--model", "robustbench:cifar10/Linf/Carmon2019Unlabeled",
            "--n-images", "2", "--out", str(out)]  # fmt: skip
    line = _one_line(runner.invoke(app, [*base, "--weights", str(tmp_path / "w.pt")]))
    assert "--weights" in line and "RobustBench" in line
    (tmp_path / "m" / "cifar10" / "Linf").mkdir(parents=True)
    (tmp_path / "m" / "cifar10" / "Linf" / "Carmon2019Unlabelled.pt").write_bytes(b"")
    line = _one_line(runner.invoke(app, [*base, "--model-dir", str(tmp_path / "m")]))
    assert "Carmon2019Unlabelled" in line and "not found" in line and not out.exists()
