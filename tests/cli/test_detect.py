"""`spectral detect`: the table, the ROC figure, --save / --load --screen, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import spectral as sp
from cli.main import app
from spectral.defenses import Detector

runner = CliRunner()
SMALL = ["--n-images", "24", "--attacks", "pgd,fgsm", "--steps", "3", "--adaptive-steps", "3"]


def test_detect_writes_table_figure_and_a_detector_that_screens(tmp_path: Path) -> None:
    out, saved = tmp_path / "d", tmp_path / "det.json"
    res = runner.invoke(app, ["detect", *SMALL, "--out", str(out), "--save", str(saved)])
    assert res.exit_code == 0, res.stderr
    data = json.loads((out / "detect.json").read_text())
    assert [(r["attack"], r["feature"]) for r in data["results"]] == [
        ("pgd", "InputMFS"),
        ("pgd", "LayerMFS"),
        ("fgsm", "InputMFS"),
        ("fgsm", "LayerMFS"),
    ]
    assert not set(data["train_indices"]) & set(data["test_indices"])
    assert [r["feature"] for r in data["adaptive"]] == ["InputMFS", "LayerMFS"]
    md = (out / "detect.md").read_text()
    assert "| attack | feature |" in md and "detector-aware PGD" in md
    assert (out / "detect.png").stat().st_size > 0 and (out / "detect.pdf").exists()
    det = json.loads(saved.read_text())
    assert (det["feature"], det["format"]) == ("InputMFS", "spectral-fourier-detector")

    screened = tmp_path / "s"
    args = ["detect", "--load", str(saved), "--screen", "builtin", "--n-images", "6"]
    res = runner.invoke(app, [*args, "--out", str(screened)])
    assert res.exit_code == 0, res.stderr
    scr = json.loads((screened / "screen.json").read_text())
    images = sp.load_dataset("builtin", "test", seed=0, n_images=6).images
    want = Detector.load(saved).decision_function(images)
    assert scr["scores"] == [float(s) for s in want]
    assert scr["flagged"] == [bool(s > 0) for s in want] and scr["n_images"] == 6
    assert torch.equal(torch.tensor(scr["scores"], dtype=torch.float64), want)


def test_save_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    saved = tmp_path / "det.json"
    saved.write_text("mine")
    res = runner.invoke(app, ["detect", *SMALL, "--out", str(tmp_path / "d"), "--save", str(saved)])
    assert res.exit_code == 1
    assert res.stderr.strip().count("\n") == 0 and "--force" in res.stderr
    assert saved.read_text() == "mine"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--features", "InputXYZ"], "'InputMFS'"),
        (["--attacks", "magic"], "magic"),
        (["--test-fraction", "1"], "--test-fraction"),
        (["--screen", "builtin"], "--screen and --load go together"),
        (["--adaptive-steps", "-1"], "--adaptive-steps"),
    ],
)
def test_bad_options_give_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    res = runner.invoke(app, ["detect", "--n-images", "8", "--out", str(tmp_path / "d"), *args])
    assert res.exit_code == 1, res.stdout
    assert message in res.stderr and res.stderr.strip().count("\n") == 0
    assert not (tmp_path / "d").exists()


def test_report_section_is_skipped_with_a_note_when_too_few_images_are_correct(
    tmp_path: Path,
) -> None:
    from cli._report_detect import MIN_CORRECT, detect_section

    model = sp.load_model("builtin:standard")
    x = sp.load_dataset("builtin", "test", n_images=8).images
    wrong = (sp.predict(model, x) + 1) % 10  # labels the model never predicts
    part, sections = detect_section(
        model=model, x=x, y=wrong, n_images=8, eps=8 / 255, steps=2, seed=0,
        figdir=tmp_path, formats=("png",), bar=None,
    )  # fmt: skip
    note = part["detect"]["skipped"]
    assert note.startswith("0 of 8 images") and f"needs {MIN_CORRECT}" in note
    assert len(sections) == 1 and sections[0].figures == [] and not list(tmp_path.iterdir())
    assert detect_section(
        model=model, x=x, y=wrong, n_images=0, eps=8 / 255, steps=2, seed=0,
        figdir=tmp_path, formats=("png",), bar=None,
    ) == ({}, [])  # fmt: skip
