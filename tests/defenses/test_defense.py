"""BlurNet evaluation tables and the `spectral blur` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import spectral as sp
from cli.main import app
from spectral.data import builtin_dataset
from spectral.defenses import (
    BlurEvaluation,
    blackbox_blur_table,
    defense_name,
    rp2_stickers,
    whitebox_blur_table,
)
from spectral.metrics import (
    accuracy,
    attack_success_rate,
    bootstrap_statistic,
    proportion_interval,
    targeted_success_rates,
    wilson_interval,
)

runner = CliRunner()


@pytest.fixture(scope="module")
def small():  # type: ignore[no-untyped-def]
    return builtin_dataset("test").subset(20)


@pytest.fixture(scope="module")
def model():  # type: ignore[no-untyped-def]
    return sp.load_model("builtin:standard")


def test_defense_names() -> None:
    assert defense_name("input", 3) == "input 3x3"
    assert defense_name("first_conv", 5) == "5x5 on L1 feature maps"
    assert defense_name("first_relu", 3) == "3x3 on L1 feature maps after ReLU"
    assert defense_name("features.conv3", 7) == "7x7 after features.conv3"


def test_blackbox_table_matches_hand_computation(model, small) -> None:  # type: ignore[no-untyped-def]
    x, y = small.images, small.labels
    bb, ad = blackbox_blur_table(model, x, y, steps=3, sizes=(3,), positions=("input",))
    assert [r["defense"] for r in bb] == ["baseline", "input 3x3"]
    # recompute the transferred examples and the defended model by hand
    x_adv = sp.make_attack("pgd", model, eps=8 / 255, steps=3, seed=0)(x, y)
    defended = sp.insert_blur(model, "input", kernel_size=3)
    assert bb[1]["accuracy"] == accuracy(defended, x, y)
    assert bb[1]["attack_success_rate"] == attack_success_rate(defended, x, x_adv)
    assert bb[1]["adversarial_accuracy"] == accuracy(defended, x_adv, y)
    # the surrogate is the model itself: the baseline's transfer attack is the adaptive one
    assert bb[0] == ad[0]
    # every rate carries its 95% Wilson interval on the 20 images
    for r in bb + ad:
        for k in ("accuracy", "attack_success_rate", "adversarial_accuracy"):
            assert r["intervals"][k] == proportion_interval(r[k], 20).to_dict()
            assert r["intervals"][k]["n"] == 20
    x_ad = sp.make_attack("pgd", defended, eps=8 / 255, steps=3, seed=0)(x, y)
    assert ad[1]["attack_success_rate"] == attack_success_rate(defended, x, x_ad)
    assert not model.training


def test_whitebox_table_matches_targeted_rates(model, small) -> None:  # type: ignore[no-untyped-def]
    x, y = small.images[:10], small.labels[:10]
    rows = whitebox_blur_table(
        [("baseline", 0.0, model)], x, y, num_classes=10, attacks=("pgd",), steps=2
    )
    assert len(rows) == 1 and rows[0]["alpha"] == 0.0 and rows[0]["attack"] == "pgd"
    ref = targeted_success_rates(
        model,
        x,
        y,
        lambda: sp.make_attack("pgd", model, eps=8 / 255, steps=2, seed=0),
        num_classes=10,
    )
    assert rows[0]["avg_success_rate"] == pytest.approx(ref["average"])
    assert rows[0]["worst_success_rate"] == pytest.approx(ref["worst"])
    assert rows[0]["l2_distortion"] == pytest.approx(ref["l2_distortion"])
    assert rows[0]["worst_success_rate"] >= rows[0]["avg_success_rate"]
    iv = rows[0]["intervals"]
    assert iv["accuracy"] == proportion_interval(rows[0]["accuracy"], 10).to_dict()
    # average over targets: bootstrap over the 10 images, recomputing every target's rate
    succ = ref["success"]
    att, hit = ~succ.isnan(), succ.nan_to_num(0.0)

    def naive_average(idx):  # type: ignore[no-untyped-def]
        out = []
        for row in idx:
            rates = [hit[row, t].sum() / att[row, t].sum() for t in range(10) if att[row, t].any()]
            out.append(sum(rates) / len(rates))
        return torch.stack(out)

    ref_avg = bootstrap_statistic(10, naive_average, n_resamples=2000)
    assert iv["avg_success_rate"]["n"] == 10 and iv["avg_success_rate"]["method"] == "bootstrap"
    assert iv["avg_success_rate"]["estimate"] == pytest.approx(rows[0]["avg_success_rate"])
    assert iv["avg_success_rate"]["ci95"] == pytest.approx(ref_avg.to_dict()["ci95"])
    # worst: Wilson of the worst target's count over the images attacked towards it
    t = max(ref["per_target"], key=ref["per_target"].__getitem__)
    k, n = int(hit[:, t].sum()), int(att[:, t].sum())
    assert n == int((y != t).sum())
    assert iv["worst_success_rate"] == wilson_interval(k, n).to_dict()
    assert iv["worst_success_rate"]["estimate"] == pytest.approx(rows[0]["worst_success_rate"])
    with pytest.raises(sp.SpectralValueError, match="attacks"):
        whitebox_blur_table([("b", 0.0, model)], x, y, num_classes=10, attacks=("fgsm",))


def test_rp2_stickers_are_two_bars() -> None:
    m = rp2_stickers(32, 32)
    assert m.shape == (32, 32) and set(m.unique().tolist()) == {0.0, 1.0}
    rows = m.sum(1)
    assert int((rows > 0).sum()) == 2 * 4  # two bars of height 32 // 8
    assert 0.1 < float(m.mean()) < 0.25


def test_evaluation_markdown_and_json() -> None:
    ev = BlurEvaluation(
        blackbox=[
            {
                "defense": "baseline",
                "accuracy": 1.0,
                "attack_success_rate": 0.9,
                "adversarial_accuracy": 0.1,
            }
        ],
        adaptive=[
            {
                "defense": "baseline",
                "accuracy": 1.0,
                "attack_success_rate": 0.9,
                "adversarial_accuracy": 0.1,
            }
        ],
        whitebox=[
            {
                "defense": "baseline",
                "alpha": 0.0,
                "attack": "pgd",
                "accuracy": 0.91,
                "avg_success_rate": 0.4918,
                "worst_success_rate": 0.9,
                "l2_distortion": 0.207,
            }
        ],
    )
    md = ev.markdown()
    assert "| baseline | 100.0% | 90.0% |" in md
    assert "| baseline | pgd | 0 | 91.0% | 49.2% | 90.0% | 0.207 |" in md
    assert json.loads(json.dumps(ev.to_dict()))["whitebox"][0]["worst_success_rate"] == 0.9


def _one_line(res) -> str:  # type: ignore[no-untyped-def]
    lines = res.stderr.strip().splitlines()
    assert res.exit_code == 1 and len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--sizes", "4"], "--sizes"),
        (["--sizes", "a,b"], "--sizes"),
        (["--positions", "nowhere"], "unknown module 'nowhere'"),
        (["--eps", "0"], "--eps"),
        (["--data", "/no/such/dir"], "no such file"),
        (["--model", "builtin:nope"], "unknown built-in model"),
    ],
)
def test_cli_bad_input_is_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    out = tmp_path / "o"
    line = _one_line(runner.invoke(app, ["blur", "--out", str(out), "--whitebox", "", *args]))
    assert needle in line
    assert not out.exists()


def test_cli_blur_writes_tables(tmp_path: Path) -> None:
    out = tmp_path / "b"
    res = runner.invoke(
        app,
        [
            "blur",
            "--out",
            str(out),
            "--n-images",
            "6",
            "--steps",
            "2",
            "--sizes",
            "3",
            "--whitebox",
            "builtin:standard",
            "--whitebox-images",
            "10",
            "--rp2-steps",
            "2",
        ],
    )
    assert res.exit_code == 0, res.stderr
    data = json.loads((out / "blur.json").read_text())
    assert [r["defense"] for r in data["blackbox"]] == [
        "baseline",
        "input 3x3",
        "3x3 on L1 feature maps",
    ]
    for r in data["blackbox"]:
        assert set(r) >= {"defense", "accuracy", "attack_success_rate"}
    assert {r["attack"] for r in data["whitebox"]} == {"pgd", "rp2"}
    for r in data["whitebox"]:
        assert set(r) >= {
            "defense",
            "alpha",
            "accuracy",
            "avg_success_rate",
            "worst_success_rate",
            "l2_distortion",
        }
    for r in data["blackbox"] + data["adaptive"]:
        assert r["intervals"]["attack_success_rate"]["n"] == 6
    for r in data["whitebox"]:
        assert set(r["intervals"]) == {"accuracy", "avg_success_rate", "worst_success_rate"}
        assert r["intervals"]["accuracy"]["n"] == 10
    md = (out / "blur.md").read_text()
    assert md.count("| baseline |") == 2 and md.count("| standard |") == 2
    assert "95% Wilson intervals on n = 6 images" in md
    assert "bootstrap over images for the average success" in md
    assert md.count("% [") >= 2 * 3 * 3 + 2 * 3  # every rate in every row has an interval
    assert (out / "blur.png").exists() and (out / "blur_whitebox.png").exists()
