"""`spectral evaluate`: clean, PGD and APGD-CE + APGD-T accuracy, and --record."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import spectral as sp
from cli.main import app
from spectral.attacks import apgd_robust_accuracy, pgd_evaluation
from spectral.metrics import proportion_interval, wilson_interval

runner = CliRunner()


def test_evaluate_matches_the_library(tmp_path: Path) -> None:
    out = tmp_path / "e"
    args = ["evaluate", "--model", "builtin:adversarial", "--n-images", "12"]
    res = runner.invoke(app, [*args, "--apgd-steps", "3", "--seed", "1", "--out", str(out)])
    assert res.exit_code == 0, res.stderr
    data = json.loads((out / "evaluate.json").read_text())
    test = sp.load_dataset("builtin", "test").subset(12, seed=1)
    net = sp.load_model("builtin:adversarial")
    ref = pgd_evaluation(net, test, steps=10, seed=1)
    assert data["clean_accuracy"] == ref["clean_accuracy"]
    assert data["pgd10_accuracy"] == ref["pgd10_accuracy"]
    apgd = apgd_robust_accuracy(net, test.images, test.labels, steps=3, seed=1)
    assert data["apgd"] == pytest.approx(apgd)
    assert data["apgd"]["robust_accuracy"] <= data["apgd"]["apgd_ce_accuracy"]
    assert data["n"] == 12 and "--n-images 12" in data["command"]
    assert "--record" not in data["command"]
    assert "APGD-CE+T" in res.stdout
    # every accuracy carries its 95% Wilson interval and n
    iv = data["intervals"]
    assert set(iv) == {
        "clean_accuracy",
        "pgd10_accuracy",
        "apgd_ce_accuracy",
        "apgd_robust_accuracy",
    }
    for k in ("clean_accuracy", "pgd10_accuracy"):
        assert iv[k] == proportion_interval(data[k], 12).to_dict()
    assert iv["apgd_robust_accuracy"] == wilson_interval(apgd["apgd_t_correct"], 12).to_dict()
    assert iv["apgd_ce_accuracy"]["estimate"] == pytest.approx(apgd["apgd_ce_accuracy"])
    assert all(d["n"] == 12 and d["ci95"][0] <= d["estimate"] <= d["ci95"][1] for d in iv.values())
    assert res.stdout.count(", n=12") == 4


def test_evaluate_record_writes_into_the_zoo(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import spectral.models.zoo as models

    real = models.zoo_dir() / "zoo.json"
    before = real.read_bytes()
    zoo = tmp_path / "zoo"
    shutil.copytree(models.zoo_dir(), zoo)
    monkeypatch.setattr(models, "zoo_dir", lambda: zoo)
    res = runner.invoke(
        app,
        [
            "evaluate",
            "--model",
            "builtin:standard",
            "--n-images",
            "4",
            "--apgd-steps",
            "0",
            "--record",
            "--out",
            str(tmp_path / "e"),
        ],
    )
    assert res.exit_code == 0, res.stderr
    entry = json.loads((zoo / "zoo.json").read_text())["standard"]["metrics"]["evaluate"]
    assert entry["n"] == 4 and entry["command"].endswith("--record") and "apgd" not in entry
    # the package's own zoo.json is untouched
    assert real.read_bytes() == before


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--n-images", "0"], "--n-images"),
        (["--pgd-steps", "0"], "--pgd-steps"),
        (["--apgd-steps", "-1"], "--apgd-steps"),
        (["--eps", "2"], "--eps"),
        (["--model", "mypkg:net", "--record"], "--record"),
        (["--data", "builtin-nope"], "no such file"),
    ],
)
def test_evaluate_bad_options_are_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    res = runner.invoke(app, ["evaluate", "--out", str(tmp_path / "e"), *args])
    lines = res.stderr.strip().splitlines()
    assert res.exit_code == 1 and len(lines) == 1 and needle in lines[0], res.stderr
    assert not (tmp_path / "e").exists()
