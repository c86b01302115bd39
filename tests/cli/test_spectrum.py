"""`spectral spectrum`: real files in, figure + JSON out; bad input -> one line, exit != 0."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

import spectral as sp
from cli.main import app

runner = CliRunner()


def _png(path: Path, arr: np.ndarray, mode: str | None = None) -> Path:
    Image.fromarray(arr, mode=mode).save(path)
    return path


@pytest.fixture
def images(tmp_path: Path) -> list[Path]:
    rng = np.random.default_rng(0)
    rgb = _png(tmp_path / "rgb.png", rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
    grey = _png(tmp_path / "grey.png", rng.integers(0, 256, (17, 20), dtype=np.uint8))
    rgba = rng.integers(0, 256, (16, 16, 4), dtype=np.uint8)
    rgba_p = _png(tmp_path / "rgba.png", rgba)
    jpg = tmp_path / "photo.jpg"
    Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(jpg, quality=90)
    return [rgb, grey, rgba_p, jpg]


def _one_error_line(result) -> str:
    err = result.stderr.strip().splitlines()
    assert len(err) == 1, result.stderr
    assert err[0].startswith("error: ")
    assert "Traceback" not in result.output + result.stderr
    assert result.exit_code != 0
    return err[0]


def test_spectrum_writes_figure_and_json_matching_the_library(
    images: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    res = runner.invoke(app, ["spectrum", *map(str, images), "--out", str(out)])
    assert res.exit_code == 0, res.output + res.stderr
    data = json.loads((out / "spectrum.json").read_text())
    assert (out / "spectrum.png").stat().st_size > 1000
    assert Image.open(out / "spectrum.png").format == "PNG"
    recs = {Path(r["path"]).name: r for r in data["images"]}
    assert recs["rgb.png"]["channels"] == ["R", "G", "B"]
    assert recs["grey.png"]["channels"] == ["grey"]
    assert recs["rgba.png"]["channels"] == ["R", "G", "B"]  # alpha dropped explicitly
    assert (recs["grey.png"]["height"], recs["grey.png"]["width"]) == (17, 20)
    # the JSON's numbers are the library's numbers for the same file
    x = sp.read_image(images[0])
    be = sp.band_energy(x)[0]
    for i, ch in enumerate(["R", "G", "B"]):
        assert recs["rgb.png"]["band_energy"][ch] == pytest.approx(be[i].tolist(), abs=1e-6)
        assert sum(recs["rgb.png"]["band_energy"][ch]) == pytest.approx(1.0, abs=1e-5)
    radii, prof = sp.radial_profile(sp.power_spectrum(x))
    slope = sp.powerlaw_slope(radii, prof)[0]
    assert recs["rgb.png"]["radial_slope"]["G"] == pytest.approx(float(slope[1]), abs=1e-5)


def test_spectrum_alpha_white_changes_result_for_transparent_pixels(tmp_path: Path) -> None:
    rgba = np.zeros((16, 16, 4), dtype=np.uint8)
    rgba[..., 0] = 255
    rgba[::2, :, 3] = 255  # transparent stripes: composited over white they become white
    path = _png(tmp_path / "stripes.png", rgba)
    outs = {}
    for alpha in ("drop", "white"):
        out = tmp_path / alpha
        res = runner.invoke(
            app, ["spectrum", str(path), "--out", str(out), "--transparency", alpha]
        )
        assert res.exit_code == 0, res.stderr
        outs[alpha] = json.loads((out / "spectrum.json").read_text())["images"][0]
    # dropped alpha: a flat red image -> no non-DC energy (NaN -> null); white: stripes in G
    assert outs["drop"]["band_energy"]["G"] == [None, None, None]
    assert outs["white"]["band_energy"]["G"][2] == pytest.approx(1.0)


def test_many_images_are_paged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import spectral.plot

    real, saved = spectral.plot.save_figure, []

    def counting(fig, path, **kw):  # type: ignore[no-untyped-def]
        saved.append(Path(path).name)
        return real(fig, path, **kw)

    monkeypatch.setattr(spectral.plot, "save_figure", counting)
    rng = np.random.default_rng(1)
    paths = [
        str(_png(tmp_path / f"i{k}.png", rng.integers(0, 256, (8, 8), dtype=np.uint8)))
        for k in range(9)
    ]
    out = tmp_path / "out"
    res = runner.invoke(app, ["spectrum", *paths, "--out", str(out)])
    assert res.exit_code == 0, res.stderr
    data = json.loads((out / "spectrum.json").read_text())
    # every file written: each page in each default format (png, pdf)
    assert data["figures"] == [
        "spectrum-1.png",
        "spectrum-1.pdf",
        "spectrum-2.png",
        "spectrum-2.pdf",
    ]
    assert all((out / f).exists() for f in data["figures"])
    assert saved == ["spectrum-1.png", "spectrum-2.png"]  # each page drawn once, at the end


def test_missing_file(tmp_path: Path) -> None:
    res = runner.invoke(app, ["spectrum", str(tmp_path / "nope.png"), "--out", str(tmp_path / "o")])
    line = _one_error_line(res)
    assert "nope.png" in line and "no such file" in line
    assert not (tmp_path / "o").exists()


def test_not_an_image(tmp_path: Path) -> None:
    bad = tmp_path / "notes.png"
    bad.write_text("this is not a png")
    res = runner.invoke(app, ["spectrum", str(bad), "--out", str(tmp_path / "o")])
    line = _one_error_line(res)
    assert "notes.png" in line and "not an image" in line
    assert not (tmp_path / "o").exists()


def test_truncated_image(tmp_path: Path, images: list[Path]) -> None:
    data = images[0].read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(data[: len(data) // 2])
    line = _one_error_line(runner.invoke(app, ["spectrum", str(cut), "--out", str(tmp_path / "o")]))
    assert "cut.png" in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read files without permission")
def test_unreadable_file(tmp_path: Path, images: list[Path]) -> None:
    images[0].chmod(0)
    try:
        line = _one_error_line(
            runner.invoke(app, ["spectrum", str(images[0]), "--out", str(tmp_path / "o")])
        )
        assert "permission denied" in line
    finally:
        images[0].chmod(0o644)


def test_directory_instead_of_file(tmp_path: Path) -> None:
    line = _one_error_line(
        runner.invoke(app, ["spectrum", str(tmp_path), "--out", str(tmp_path / "o")])
    )
    assert "is a directory" in line


def test_refuses_non_empty_out_without_force(images: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    keep = out / "mine.txt"
    keep.write_text("user data")
    line = _one_error_line(runner.invoke(app, ["spectrum", str(images[0]), "--out", str(out)]))
    assert "--force" in line
    assert keep.read_text() == "user data" and sorted(os.listdir(out)) == ["mine.txt"]
    # --force replaces only a folder a spectral command wrote: not this one
    line = _one_error_line(
        runner.invoke(app, ["spectrum", str(images[0]), "--out", str(out), "--force"])
    )
    assert "not a spectral output folder" in line
    assert keep.read_text() == "user data" and sorted(os.listdir(out)) == ["mine.txt"]
    keep.unlink()
    res = runner.invoke(app, ["spectrum", str(images[1]), "--out", str(out)])
    assert res.exit_code == 0, res.stderr
    res = runner.invoke(app, ["spectrum", str(images[0]), "--out", str(out), "--force"])
    assert res.exit_code == 0, res.stderr
    data = json.loads((out / "spectrum.json").read_text())
    assert [Path(r["path"]).name for r in data["images"]] == [images[0].name]
    # no temporary folders left next to the output
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_bad_cutoffs_and_device(images: list[Path], tmp_path: Path) -> None:
    line = _one_error_line(
        runner.invoke(
            app,
            ["spectrum", str(images[0]), "--out", str(tmp_path / "o"), "--cutoffs", "0.3", "0.1"],
        )
    )
    assert "cutoffs" in line
    line = _one_error_line(
        runner.invoke(
            app, ["spectrum", str(images[0]), "--out", str(tmp_path / "o"), "--device", "tpu"]
        )
    )
    assert "--device" in line
    assert not (tmp_path / "o").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA message")
def test_cuda_unavailable_is_one_line(images: list[Path], tmp_path: Path) -> None:
    line = _one_error_line(
        runner.invoke(
            app, ["spectrum", str(images[0]), "--out", str(tmp_path / "o"), "--device", "cuda"]
        )
    )
    assert "CUDA is not available" in line


def test_permission_error_is_one_line(
    images: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The unreadable-file branch, exercised even when running as root."""
    import PIL.Image

    def denied(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(PIL.Image, "open", denied)
    line = _one_error_line(
        runner.invoke(app, ["spectrum", str(images[0]), "--out", str(tmp_path / "o")])
    )
    assert images[0].name in line and "permission denied" in line
    assert not (tmp_path / "o").exists()


def test_filters_command_matches_library(tmp_path: Path) -> None:
    from spectral.analysis import filter_metrics

    out = tmp_path / "f"
    res = runner.invoke(app, ["filters", "--out", str(out)])
    assert res.exit_code == 0, res.stderr
    data = json.loads((out / "filters.json").read_text())
    assert data["models"] == ["builtin:standard", "builtin:adversarial"]
    ref = filter_metrics(sp.load_model("builtin:adversarial"))
    got = data["layers"]["builtin:adversarial"]
    assert [r["name"] for r in got] == [r["name"] for r in ref]
    for g, r in zip(got, ref, strict=True):
        assert {k: g[k] for k in r if k != "name"} == pytest.approx(
            {k: v for k, v in r.items() if k != "name"}
        )
    assert (out / "filters.png").exists() and "| builtin:standard |" in (
        out / "filters.md"
    ).read_text()
    line = _one_error_line(
        runner.invoke(app, ["filters", "--vs", "builtin:nope", "--out", str(tmp_path / "g")])
    )
    assert "unknown built-in model" in line and not (tmp_path / "g").exists()


def test_calibrate_command(tmp_path: Path) -> None:
    out = tmp_path / "c"
    res = runner.invoke(app, ["calibrate", "--out", str(out), "--n-images", "40", "--steps", "2"])
    assert res.exit_code == 0, res.stderr
    data = json.loads((out / "calibrate.json").read_text())
    assert set(data["models"]) == {"builtin:standard", "builtin:adversarial"}
    for per in data["models"].values():
        assert set(per) == {"clean", "adversarial"}
        assert per["adversarial"]["accuracy"] <= per["clean"]["accuracy"]
        for m in per.values():  # 95% intervals: Wilson for the accuracy, bootstrap for the ECE
            iv = m["intervals"]
            assert iv["accuracy"]["n"] == 40 and iv["accuracy"]["method"] == "wilson"
            assert iv["accuracy"]["estimate"] == pytest.approx(m["accuracy"])
            assert iv["ece"]["ci95"][0] <= m["ece"] <= iv["ece"]["ci95"][1]
    assert "95% intervals (n = 40 images)" in res.stdout
    assert res.stdout.count("% [") >= 4  # each accuracy printed with its interval
    assert (out / "calibrate.png").exists()
    line = _one_error_line(
        runner.invoke(app, ["calibrate", "--eps", "0", "--out", str(tmp_path / "d")])
    )
    assert "--eps" in line


@pytest.mark.parametrize("args", [["--n-images", "0"], ["--bins", "0"], ["--steps", "0"]])
def test_calibrate_bad_counts_name_the_option(tmp_path: Path, args: list[str]) -> None:
    line = _one_error_line(runner.invoke(app, ["calibrate", "--out", str(tmp_path / "c"), *args]))
    assert args[0] in line
    assert not (tmp_path / "c").exists()


def test_heatmap_command_matches_library(tmp_path: Path) -> None:
    from spectral.analysis import fourier_heatmap

    out = tmp_path / "h"
    res = runner.invoke(
        app,
        [
            "heatmap",
            "--out",
            str(out),
            "--n-images",
            "3",
            "--eps",
            "3",
            "--seed",
            "2",
            "--format",
            "png",
        ],
    )
    assert res.exit_code == 0, res.stderr
    data = json.loads((out / "heatmap.json").read_text())
    assert list(data["models"]) == ["builtin:standard", "builtin:adversarial"]
    assert data["eps"] == 3.0 and data["n_images"] == 3 and data["seed"] == 2
    test = sp.load_dataset("builtin", "test", seed=2).subset(3, seed=2)
    for name, v in data["models"].items():
        ref = fourier_heatmap(
            sp.load_model(name), test.images, test.labels, eps=3.0, seed=2, batch_size=17
        )
        assert torch.tensor(v["map"], dtype=ref.dtype).equal(ref)
        assert v["mean_error"] == pytest.approx(float(ref.double().mean()))
        assert v["clean_error"] == pytest.approx(
            1 - sp.accuracy(sp.load_model(name), test.images, test.labels)
        )
        iv = v["intervals"]["clean_error"]  # Wilson on the 3 images
        assert iv["n"] == 3 and iv["method"] == "wilson"
        assert iv["estimate"] == pytest.approx(v["clean_error"])
        assert iv["ci95"][0] <= v["clean_error"] <= iv["ci95"][1]
    assert (out / "heatmap.png").stat().st_size > 0
    assert "error rates on n = 3 images" in res.stdout and res.stdout.count(", n=3") == 2
    assert "builtin:adversarial: clean error" in res.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--eps", "0"], "--eps"),
        (["--eps", "nan"], "--eps"),
        (["--n-images", "0"], "--n-images"),
        (["--batch-size", "-1"], "--batch-size"),
        (["--vs", "builtin:nope"], "unknown built-in model"),
    ],
)
def test_heatmap_bad_options_are_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    line = _one_error_line(runner.invoke(app, ["heatmap", "--out", str(tmp_path / "h"), *args]))
    assert needle in line and not (tmp_path / "h").exists()


def test_gradients_command_matches_library(tmp_path: Path) -> None:
    from spectral.analysis import gradient_spectra

    out = tmp_path / "g"
    res = runner.invoke(
        app, ["gradients", "--out", str(out), "--n-images", "10", "--steps", "8", "--show", "2"]
    )
    assert res.exit_code == 0, res.stderr
    data = json.loads((out / "gradients.json").read_text())
    assert list(data["models"]) == ["builtin:standard", "builtin:adversarial"]
    test = sp.load_dataset("builtin", "test", seed=0).subset(10, seed=0)
    for name, v in data["models"].items():
        ref = gradient_spectra(sp.load_model(name), test.images, test.labels, steps=8).summary()
        assert set(v["summary"]) == set(ref)
        for kind, row in ref.items():
            assert v["summary"][kind] == pytest.approx(row, rel=1e-5, abs=1e-7)
    assert (out / "gradients.png").stat().st_size > 0
    line = _one_error_line(
        runner.invoke(app, ["gradients", "--steps", "0", "--out", str(tmp_path / "x")])
    )
    assert "--steps" in line and not (tmp_path / "x").exists()
