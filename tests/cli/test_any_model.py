"""Every model command runs end to end on models nobody here wrote: a torchvision-style
ResNet (7x7 stem, a ReLU called twice per block) and a ViT (16x16-style strided patch
embedding, GELU), each as a module:factory, a TorchScript file and a torch.export
``.pt2``; what a format cannot do is left out with a reason, never a traceback."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import foreign_models as fm
import pytest
from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """``{label: --model spec}`` for both architectures in all three formats."""
    root = tmp_path_factory.mktemp("foreign")
    specs = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in ("resnet", "vit"):
            specs[name] = f"foreign_models:{name}"
            specs[f"{name}.ts"] = str(fm.scripted(getattr(fm, name)(), root / f"{name}.ts"))
            specs[f"{name}.pt2"] = str(fm.exported(getattr(fm, name)(), root / f"{name}.pt2"))
    return specs


LABELS = ["resnet", "resnet.ts", "resnet.pt2", "vit", "vit.ts", "vit.pt2"]
QUICK = ["--n-images", "4", "--seed", "1"]
COMMANDS = {
    "evaluate": ["--pgd-steps", "1", "--apgd-steps", "0"],
    "calibrate": ["--vs", "", "--steps", "1"],
    "gradients": ["--vs", "", "--steps", "2", "--show", "2"],
    "heatmap": ["--vs", ""],
    "bands": [
        "--vs", "", "--attack-images", "2", "--steps", "1", "--radii", "0.25",
        "--kinds", "ideal", "--bands", "low", "--eps", "8/255",
    ],
    "filters": ["--vs", ""],
    "blur": ["--steps", "1", "--whitebox-images", "2", "--rp2-steps", "1", "--sizes", "3"],
    "report": [
        "--compare-model", "", "--steps", "1", "--blur-images", "4",
        "--gradient-images", "2", "--heatmap-images", "1",
    ],
}  # fmt: skip


def _run(cmd: str, spec: str, out: Path) -> tuple[int, str]:
    args = [cmd, "--model", spec, "--out", str(out), *COMMANDS[cmd]]
    if cmd != "filters":
        args += QUICK
    res = runner.invoke(app, args)
    assert "Traceback" not in res.output + res.stderr, res.output + res.stderr
    return res.exit_code, res.stderr


@pytest.mark.parametrize("label", LABELS)
@pytest.mark.parametrize("cmd", ["evaluate", "calibrate", "gradients", "heatmap", "bands"])
def test_io_only_commands_run_on_every_format(
    saved: dict[str, str], tmp_path: Path, cmd: str, label: str
) -> None:
    code, err = _run(cmd, saved[label], tmp_path / "o")
    assert code == 0, err
    assert any(p.suffix == ".json" for p in (tmp_path / "o").iterdir())


@pytest.mark.parametrize("label", LABELS)
def test_filters_read_the_weights_and_say_which_layers_are_not_3x3(
    saved: dict[str, str], tmp_path: Path, label: str
) -> None:
    code, err = _run("filters", saved[label], tmp_path / "o")
    assert code == 0, err
    result = json.loads((tmp_path / "o" / "filters.json").read_text())
    ((rows, skipped),) = zip(result["layers"].values(), result["skipped"].values(), strict=True)
    if label.startswith("resnet"):
        assert [r["name"] for r in rows] == [
            "layer1.0.conv1", "layer1.0.conv2", "layer2.0.conv1", "layer2.0.conv2"
        ]  # fmt: skip
        assert skipped == {"conv1": "7x7 kernel", "layer2.0.downsample.0": "1x1 kernel"}
    else:  # the ViT's one conv is its 8x8 patch embedding: no statistics, still drawn
        assert rows == [] and skipped == {"patch_embed.proj": "8x8 kernel"}
    assert (tmp_path / "o" / "filters.png").stat().st_size > 0


@pytest.mark.slow
@pytest.mark.parametrize("label", LABELS)
@pytest.mark.parametrize("cmd", ["blur", "report"])
def test_layer_commands_run_on_every_format(
    saved: dict[str, str], tmp_path: Path, cmd: str, label: str
) -> None:
    code, err = _run(cmd, saved[label], tmp_path / "o")
    assert code == 0, err
    if cmd == "report":
        report = json.loads((tmp_path / "o" / "report.json").read_text())
        skipped = {s["section"] for s in report["skipped"]}
        assert ("Feature-map spectra" in skipped) == label.endswith(".ts")
        assert (not report.get("feature_spectra")) == label.endswith(".ts")
