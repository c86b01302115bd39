"""`spectral report`: schema, self-contained HTML, refusal to overwrite, no half-written output."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import spectral as sp
import spectral.plot
from cli._output import output_dir
from cli.main import app
from spectral.metrics import proportion_interval

runner = CliRunner()
SMALL = ["--n-images", "8", "--steps", "2", "--blur-images", "4", "--detect-images", "40"]
SMALL += ["--band-images", "6"]


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rep") / "spectral-report"
    res = runner.invoke(app, ["report", "--out", str(out), *SMALL, "--format", "png,pdf,svg"])
    assert res.exit_code == 0, res.output + res.stderr
    return out


def test_every_figure_in_every_format(report_dir: Path) -> None:
    import xml.etree.ElementTree as ET

    figs = report_dir / "figures"
    stems = sorted(p.stem for p in figs.glob("*.png"))
    assert len(stems) >= 10
    assert sorted(p.name for p in figs.iterdir()) == sorted(
        f"{s}.{f}" for s in stems for f in ("png", "pdf", "svg")
    )
    for s in stems:
        assert (figs / f"{s}.pdf").read_bytes()[:5] == b"%PDF-"
        assert ET.parse(figs / f"{s}.svg").getroot().tag.endswith("svg")


def test_report_files_and_json_schema(report_dir: Path) -> None:
    data = json.loads((report_dir / "report.json").read_text())
    for key in (
        "spectral_version",
        "seed",
        "device",
        "input_spectra",
        "dataset_spectrum",
        "noise_baseline",
        "clean_accuracy",
        "attack_success_rate",
        "l2_dissimilarity",
        "band_energy",
        "feature_spectra",
        "blur",
    ):
        assert key in data
    for k in ("clean", "adversarial", "perturbation"):
        assert len(data["band_energy"][k]) == 3
        assert sum(data["band_energy"][k]) == pytest.approx(1.0, abs=1e-6)
    assert 0.0 <= data["attack_success_rate"] <= 1.0 and data["l2_dissimilarity"] > 0
    assert list(data["feature_spectra"]) == ["first_conv", "features.conv2"]
    fs = data["feature_spectra"]["first_conv"]
    width = sp.load_model("builtin:standard").features.conv1.out_channels
    assert fs["shape"] == [width, 32, 32] and fs["count"] == 8
    assert [r["defense"] for r in data["blur"]["blackbox"]] == [
        "baseline",
        "input 3x3",
        "input 5x5",
        "3x3 on L1 feature maps",
        "5x5 on L1 feature maps",
    ]
    assert set(data["models"]) == {"builtin:standard", "builtin:adversarial"}
    # every proportion carries its n and a 95% Wilson interval; blur rows too
    for v in data["models"].values():
        for k in ("clean_accuracy", "adversarial_accuracy", "attack_success_rate"):
            iv = v["intervals"][k]
            assert iv["n"] == 8 and iv["method"] == "wilson"
            assert iv["ci95"][0] <= v[k] <= iv["ci95"][1]
    d = data["models"]["builtin:adversarial"]["difference_vs_main"]["adversarial_accuracy"]
    assert d["n"] == 8 and isinstance(d["excludes_zero"], bool)
    for r in data["blur"]["blackbox"]:
        assert r["intervals"]["accuracy"]["estimate"] == r["accuracy"]
        assert r["intervals"]["accuracy"]["n"] == data["blur"]["n_images"] == 4
    ds = data["dataset_spectrum"]
    assert ds["n_images"] == 8 and ds["data"] == "builtin" and ds["size"] == "32x32"
    # the spectrum is of the analysed test images (the same seeded subset), not of photos
    test = sp.load_dataset("builtin", "test").subset(8, seed=0)
    acc = sp.SpectrumAccumulator()
    acc.update(test.images)
    radii, prof = sp.radial_profile(acc.mean()[None])
    slope = sp.powerlaw_slope(radii, prof)[0].tolist()
    assert list(ds["radial_slope"].values()) == pytest.approx(slope, rel=1e-5)
    be = data["noise_baseline"]["band_energy"]
    for k in ("clean", "adversarial", "perturbation"):
        assert len(be[k]) == 3 and sum(be[k]) == pytest.approx(1.0, abs=1e-5)
    # random sign noise is white: most of its energy is in the high band (area > 0.8)
    assert be["perturbation"][2] > 0.7
    for photo in data["input_spectra"].values():
        assert set(photo["band_energy"]) == {"R", "G", "B"}
        assert all(-4.0 < s < -1.0 for s in photo["radial_slope"].values())  # natural images


def test_robust_vs_normal_sections(report_dir: Path) -> None:
    import spectral as sp
    from spectral.analysis import filter_metrics

    data = json.loads((report_dir / "report.json").read_text())
    names = ["builtin:standard", "builtin:adversarial"]
    # filters: the library's numbers for both models
    assert list(data["filters"]) == names
    ref = filter_metrics(sp.load_model("builtin:adversarial"))
    got = data["filters"]["builtin:adversarial"]
    assert [r["orthogonality"] for r in got] == pytest.approx([r["orthogonality"] for r in ref])
    # calibration runs on the attack section's images and adversarial examples
    for name in names:
        cal = data["calibration"]["models"][name]
        assert cal["clean"]["accuracy"] == pytest.approx(data["models"][name]["clean_accuracy"])
        assert cal["adversarial"]["accuracy"] == pytest.approx(
            data["models"][name]["adversarial_accuracy"]
        )
        for kind in ("clean", "adversarial"):  # 95% intervals on the 8 images
            iv = cal[kind]["intervals"]
            assert iv["accuracy"] == proportion_interval(cal[kind]["accuracy"], 8).to_dict()
            assert iv["ece"]["n"] == 8 and iv["ece"]["ci95"][0] <= cal[kind]["ece"]
    # gradients: band fractions of each map sum to one, both kinds for both models
    grads = data["gradients"]["models"]
    assert list(grads) == names and data["gradients"]["n_images"] == 8
    for v in grads.values():
        assert set(v["summary"]) == {"gradient", "integrated", "image"}
        for s in v["summary"].values():
            assert s["low"] + s["mid"] + s["high"] == pytest.approx(1.0, abs=1e-6)
            assert 0 < s["mean_frequency"] < 0.75
    # heat map: 32x32, point-symmetric about DC, error rates of 8 images
    heat = data["heatmap"]
    assert heat["n_images"] == 8 and heat["eps"] == 4.0
    for name, v in heat["models"].items():
        assert v["clean_error"] == pytest.approx(1 - data["models"][name]["clean_accuracy"])
        assert v["intervals"]["clean_error"] == proportion_interval(v["clean_error"], 8).to_dict()
        m = v["map"]
        assert len(m) == 32 and all(len(r) == 32 for r in m)
        for r in range(32):
            for c in range(32):
                assert m[r][c] == m[(32 - r) % 32][(32 - c) % 32]
                assert m[r][c] * 8 == pytest.approx(round(m[r][c] * 8), abs=1e-6)
    html = (report_dir / "report.html").read_text()
    for title in (
        "3x3 filter statistics",
        "Confidence and calibration",
        "Input gradients",
        "Fourier heat map",
        "phenomena, measured here",
    ):
        assert title in html


def test_papers_section_is_computed_from_the_reports_numbers(report_dir: Path) -> None:
    from spectral.analysis import paper_comparison

    data = json.loads((report_dir / "report.json").read_text())
    papers = data.pop("papers")
    assert papers == json.loads(json.dumps(paper_comparison(data).to_dict()))
    assert papers["standard"] == "builtin:standard" and papers["robust"] == "builtin:adversarial"
    assert all(c["agrees"] in (True, False, None) for c in papers["claims"])
    html = (report_dir / "report.html").read_text()
    # the section comes first, before the attack section
    assert html.index("phenomena, measured here") < html.index("3x3 filter statistics")


def test_html_reads_in_order_and_says_how_it_was_made(report_dir: Path) -> None:
    data = json.loads((report_dir / "report.json").read_text())
    html = (report_dir / "report.html").read_text()
    # summary first, then contents, then numbered sections whose anchors the contents link
    assert html.index("<h2>Summary</h2>") < html.index("<h2>Contents</h2>") < html.index("1. ")
    titles = re.findall(r'<section id="s(\d+)"><h2>(\d+)\. ', html)
    assert titles and all(a == b for a, b in titles)
    assert [int(a) for a, _ in titles] == list(range(1, len(titles) + 1))
    assert all(f'href="#s{a}"' in html for a, _ in titles)
    # figures numbered in the order they appear
    numbers = [int(n) for n in re.findall(r"<figcaption>Figure (\d+)\.", html)]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 6
    # the summary quotes the main model's clean accuracy with its interval
    main = data["models"]["builtin:standard"]["intervals"]["clean_accuracy"]
    assert f"clean accuracy {100 * main['estimate']:.1f}% (95% CI" in html
    # bands defined with the cutoffs used, the exact command and versions recorded
    lo, hi = data["cutoffs"]
    assert f"0 &lt; r &lt; {lo:g} cycles/pixel" in html and f"r &gt;= {hi:g}" in html
    assert data["command"].startswith("spectral ") and "--n-images 8" in data["command"]
    assert data["versions"]["torch"] == torch.__version__
    assert data["skipped"] == []


def test_html_is_self_contained_and_embeds_every_figure(report_dir: Path) -> None:
    html = (report_dir / "report.html").read_text()
    figures = sorted(p.name for p in (report_dir / "figures").glob("*.png"))
    assert len(figures) >= 4
    srcs = re.findall(r'<img src="([^"]+)"', html)
    assert len(srcs) == len(figures)
    assert all(s.startswith("data:image/png;base64,") for s in srcs)
    assert not re.search(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//", html)
    assert "http://" not in html and "https://" not in html
    assert "<link" not in html and "<script" not in html


def test_refuses_non_empty_out_and_touches_nothing(tmp_path: Path) -> None:
    out = tmp_path / "spectral-report"
    out.mkdir()
    (out / "report.json").write_text("{}")
    res = runner.invoke(app, ["report", "--out", str(out), *SMALL])
    assert res.exit_code == 1
    assert res.stderr.strip().startswith("error: ") and len(res.stderr.strip().splitlines()) == 1
    assert (out / "report.json").read_text() == "{}"
    assert sorted(p.name for p in out.iterdir()) == ["report.json"]


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt()])
def test_interrupted_run_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exc: BaseException
) -> None:
    real = spectral.plot.save_figure
    calls = {"n": 0}

    def failing(fig, path, **kw):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise exc
        return real(fig, path, **kw)

    monkeypatch.setattr(spectral.plot, "save_figure", failing)
    out = tmp_path / "spectral-report"
    res = runner.invoke(app, ["report", "--out", str(out), *SMALL])
    assert res.exit_code != 0
    assert calls["n"] == 2
    # no output and no partial temporary folder: only the finished attack batches, kept
    # for --resume in the hidden work folder
    assert list(tmp_path.iterdir()) == [out]
    assert [p.name for p in out.iterdir()] == [".spectral-work"]
    assert list((out / ".spectral-work" / "report" / "attack").glob("*.pt"))
    if isinstance(exc, KeyboardInterrupt):
        assert "kept in" in res.stderr and "--resume" in res.stderr
    again = runner.invoke(app, ["report", "--out", str(out), *SMALL])
    assert again.exit_code == 1 and "pass --resume" in again.stderr


@pytest.mark.slow  # a whole report; --force itself is tested in test_output_dir.py
def test_force_replaces_previous_report(tmp_path: Path) -> None:
    out = tmp_path / "r"
    with output_dir(out, force=False, command="report") as tmp:  # an earlier spectral output
        (tmp / "old.txt").write_text("x")
    res = runner.invoke(app, ["report", "--out", str(out), "--force", *SMALL, "--format", "png"])
    assert res.exit_code == 0, res.stderr
    assert not (out / "old.txt").exists() and (out / "report.json").exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--eps", "0"], "--eps"),
        (["--eps", "2"], "--eps"),
        (["--n-images", "1"], "--n-images"),
        (["--device", "quantum"], "--device"),
        (["--data", "/no/such/data"], "no such file"),
        (["--layers", "first_conv,features.nope"], "features.nope"),
        (["--model", "builtin:nope"], "unknown built-in model"),
        (["--attack", "magic"], "magic"),
        (["--heatmap-eps", "0"], "--heatmap-eps"),
        (["--heatmap-images", "-1"], "--heatmap-images"),
        (["--gradient-images", "-1"], "--gradient-images"),
        (["--format", "png,jpg"], "--format"),
        (["--format", "pdf,svg"], "include png"),  # report.html embeds the PNGs
    ],
)
def test_bad_options_are_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    out = tmp_path / "o"
    res = runner.invoke(app, ["report", "--out", str(out), *args])
    lines = res.stderr.strip().splitlines()
    assert res.exit_code == 1 and len(lines) == 1 and needle in lines[0]
    assert "Traceback" not in res.stderr
    assert not out.exists()


@pytest.mark.slow  # a whole report again; the analyses' own tests check their seeds
def test_same_seed_same_numbers(tmp_path: Path, report_dir: Path) -> None:
    out = tmp_path / "again"
    res = runner.invoke(app, ["report", "--out", str(out), *SMALL, "--format", "png"])
    assert res.exit_code == 0, res.stderr
    a = json.loads((report_dir / "report.json").read_text())
    b = json.loads((out / "report.json").read_text())
    assert a["noise_baseline"] == b["noise_baseline"]
    assert a["models"] == b["models"] and a["feature_spectra"] == b["feature_spectra"]
    assert a["blur"] == b["blur"]
    assert a["dataset_spectrum"] == b["dataset_spectrum"]
    for key in ("filters", "calibration", "gradients", "heatmap"):
        assert a[key] == b[key], key


def test_sigterm_leaves_nothing_behind(tmp_path: Path) -> None:
    """A scheduler's SIGTERM unwinds like Ctrl-C: no report, no hidden partial folder."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "r"
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "report", "--out", str(out), "--n-images", "64"],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    deadline = time.monotonic() + 120
    while not list(out.glob(".partial-*")) and time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"report ended before it could be interrupted: {proc.stderr.read()!r}")
        time.sleep(0.05)
    assert list(out.glob(".partial-*")), "the report never started writing"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    assert list(tmp_path.iterdir()) == []
