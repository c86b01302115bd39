"""`spectral bands` and the report's band section: files, library numbers, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()
SMALL = [
    "--n-images",
    "12",
    "--attack-images",
    "6",
    "--radii",
    "4/32,16/32",
    "--kinds",
    "ideal",
    "--bands",
    "low,high",
    "--eps",
    "8/255",
    "--steps",
    "2",
    "--format",
    "png",
]


def _one_error_line(result) -> str:  # type: ignore[no-untyped-def]
    err = result.stderr.strip().splitlines()
    assert len(err) == 1, result.stderr
    assert err[0].startswith("error: ")
    assert result.exit_code == 1
    return err[0]


def test_bands_writes_json_and_figure(tmp_path: Path) -> None:
    out = tmp_path / "b"
    res = runner.invoke(app, ["bands", "--out", str(out), *SMALL])
    assert res.exit_code == 0, res.output + res.stderr
    data = json.loads((out / "bands.json").read_text())
    assert (out / "bands.png").stat().st_size > 1000
    f = data["filtered_accuracy"]
    assert f["radii_pixels"] == pytest.approx([4.0, 16.0]) and f["boundary"] == "strict"
    assert set(f["models"]) == {"builtin:standard", "builtin:adversarial"}
    for m in f["models"].values():
        for p in ("lowpass", "highpass"):
            accs = m[p]["ideal"]
            assert len(accs) == 2 and all(round(a * 12) == pytest.approx(a * 12) for a in accs)
        # R = 16 px (Nyquist): the strict low-pass keeps all but the corners (r >= 1/2)
        assert m["lowpass"]["ideal"][1] >= m["clean_accuracy"] - 3 / 12
    b = data["band_attack"]
    assert b["bands"] == ["low", "high"] and b["eps"] == pytest.approx([8 / 255])
    assert b["n_images"] == 6 and b["box"] == "none"
    for m in b["models"].values():
        assert max(m["max_out_of_band_energy"].values()) < 1e-6
        assert all(len(v) == 1 for v in m["robust_accuracy"].values())
    assert "robust accuracy (%) under band-limited PGD-2" in res.stdout


def test_attack_images_zero_skips_the_attack(tmp_path: Path) -> None:
    out = tmp_path / "b"
    args = ["bands", "--out", str(out), "--vs", "", *SMALL, "--attack-images", "0"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output + res.stderr
    data = json.loads((out / "bands.json").read_text())
    assert data["band_attack"] is None
    assert list(data["filtered_accuracy"]["models"]) == ["builtin:standard"]


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--eps", "8"], "--eps: expected L-inf budgets <= 1"),
        (["--eps", "a/b"], "--eps: expected comma-separated numbers"),
        (["--radii", "0"], "--radii: expected numbers > 0"),
        (["--kinds", "box"], "--kinds: expected some of"),
        (["--boundary", "open"], "--boundary: expected strict or inclusive"),
        (["--bands", "ultra"], "--bands: expected low, mid, high or all"),
        (["--norm", "L1"], "--norm: expected Linf or L2"),
        (["--box", "wrap"], "--box: expected none or clip"),
        (["--n-images", "0"], "--n-images: expected >= 1"),
        (["--attack-images", "-1"], "--attack-images: expected >= 0"),
        (["--steps", "0"], "--steps: expected >= 1"),
        (["--model", "builtin:nope"], "builtin:nope"),
    ],
)
def test_bad_options_are_one_line_and_write_nothing(
    tmp_path: Path, args: list[str], needle: str
) -> None:
    out = tmp_path / "b"
    res = runner.invoke(app, ["bands", "--out", str(out), *SMALL, *args])
    assert needle in _one_error_line(res)
    assert not out.exists()


def test_report_band_section_and_skip(tmp_path: Path) -> None:
    base = ["report", "--n-images", "8", "--steps", "1", "--blur-images", "0"]
    base += ["--gradient-images", "0", "--heatmap-images", "0", "--detect-images", "0"]
    base += ["--format", "png"]
    out = tmp_path / "r"
    res = runner.invoke(app, [*base, "--out", str(out), "--band-images", "6"])
    assert res.exit_code == 0, res.output + res.stderr
    data = json.loads((out / "report.json").read_text())
    part = data["band_robustness"]
    assert part["filtered_accuracy"]["n_images"] == 6
    assert part["band_attack"]["bands"] == ["low", "mid", "high"]
    assert part["filtered_accuracy"]["radii_pixels"] == pytest.approx([1, 2, 4, 8, 12, 16])
    assert (out / "figures" / "bands.png").exists()
    assert "Where in the spectrum the models break" in (out / "report.html").read_text()
    off = tmp_path / "off"
    res = runner.invoke(app, [*base, "--out", str(off), "--band-images", "0"])
    assert res.exit_code == 0, res.output + res.stderr
    data = json.loads((off / "report.json").read_text())
    assert "band_robustness" not in data
    assert {"section": "Where the models break", "enable_with": "--band-images N (N > 0)"} in (
        data["skipped"]
    )


def test_report_section_on_images_too_small_for_the_low_band(tmp_path: Path) -> None:
    import torch

    from cli._progress import progress
    from cli._report_bands import bands_section

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 3))
    x, y = torch.rand(5, 3, 8, 8), torch.tensor([0, 1, 2, 0, 1])
    with progress() as bar:
        part, (sec,) = bands_section(
            nets={"net": net}, x=x, y=y, band_images=4, seed=0, figdir=tmp_path,
            formats=("png",), bar=bar,
        )  # fmt: skip
    # 8x8: the lowest non-zero radius is 1/8, so the low band (r < 1/8) is empty
    assert part["band_robustness"]["band_attack"]["bands"] == ["mid", "high"]
    assert any("Not attacked: the low band" in p for p in sec.paragraphs)
    assert (tmp_path / "bands.png").exists()
