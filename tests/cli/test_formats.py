"""`--format`: every figure in every format asked for; a bad format is one line."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "img.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(
        path
    )
    return path


def test_filters_writes_png_pdf_and_svg(tmp_path: Path) -> None:
    out = tmp_path / "f"
    res = runner.invoke(app, ["filters", "--out", str(out), "--format", "png,pdf,svg"])
    assert res.exit_code == 0, res.stderr
    assert {p.name for p in out.glob("filters.*")} == {
        "filters.json",
        "filters.md",
        "filters.png",
        "filters.pdf",
        "filters.svg",
    }
    png = Image.open(out / "filters.png")
    assert png.format == "PNG" and png.info["dpi"] == pytest.approx((200, 200), abs=0.1)
    assert (out / "filters.pdf").read_bytes()[:5] == b"%PDF-"
    assert ET.parse(out / "filters.svg").getroot().tag == "{http://www.w3.org/2000/svg}svg"
    assert "filters.svg" in res.stdout


def test_spectrum_default_is_png_and_pdf_and_one_format_is_honoured(
    tmp_path: Path, image: Path
) -> None:
    out = tmp_path / "d"
    assert runner.invoke(app, ["spectrum", str(image), "--out", str(out)]).exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == [
        ".spectral-output",  # the marker of a spectral output folder
        "spectrum.json",
        "spectrum.pdf",
        "spectrum.png",
    ]
    out = tmp_path / "s"
    res = runner.invoke(app, ["spectrum", str(image), "--out", str(out), "--format", " SVG "])
    assert res.exit_code == 0, res.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        ".spectral-output",
        "spectrum.json",
        "spectrum.svg",
    ]
    assert json.loads((out / "spectrum.json").read_text())["figures"] == ["spectrum.svg"]


@pytest.mark.parametrize(
    "command", ["spectrum", "filters", "calibrate", "gradients", "heatmap", "blur", "bands"]
)
@pytest.mark.parametrize("value", ["png,jpg", "", ","])
def test_bad_format_is_one_line(tmp_path: Path, image: Path, command: str, value: str) -> None:
    out = tmp_path / "o"
    args = [command, *([str(image)] if command == "spectrum" else []), "--out", str(out)]
    res = runner.invoke(app, [*args, "--format", value])
    lines = res.stderr.strip().splitlines()
    assert res.exit_code == 1 and len(lines) == 1, res.stderr
    assert lines[0].startswith("error: --format: expected comma-separated png, pdf, svg")
    assert "Traceback" not in res.stderr and not out.exists()
