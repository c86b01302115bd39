"""Catalogue of bad command lines: each is refused with one error line and writes nothing.

Every case fails in validation, before any attack, training or figure, so each runs in
about a second. A case is ``(argv, fragment, exit code)``: ``{tmp}`` in the argv is the
test's temporary directory (which holds the files below); ``--out {tmp}/out`` is added.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()

FACTORIES = """
def needs_width(width):
    raise AssertionError("never called with an argument")

def raises():
    raise RuntimeError("factory exploded")
"""

# (argv, fragment of the one error line, exit code)
CASES: list[tuple[list[str], str, int]] = [
    # spectrum: band cutoffs beyond the frequencies of an image (0.5 on the axes)
    (["spectrum", "{tmp}/img.png", "--cutoffs", "0.1", "0.9"], "--cutoffs: expected 0 <", 1),
    (["spectrum", "{tmp}/img.png", "--cutoffs", "0.3", "0.1"], "--cutoffs: expected 0 <", 1),
    (["spectrum", "{tmp}/small.png", "--cutoffs", "0.1", "0.3"], "low band empty for 8x8", 1),
    (["spectrum", "{tmp}/small.png", "--cutoffs", "0.26", "0.27"], "mid band empty for 8x8", 1),
    (["spectrum", "{tmp}/no-such.png"], "no-such.png", 1),
    # attack budgets in pixel units
    (["evaluate", "--eps", "8"], "--eps: expected 0 < eps <= 1", 1),
    (["calibrate", "--eps", "2"], "did you mean 2/255", 1),
    (["report", "--eps", "0"], "(images are in [0, 1]), got 0", 1),
    # model factories that fail, and files that are no state dict
    (["evaluate", "--model", "badfactories:needs_width"], "missing 1 required positional", 1),
    (["evaluate", "--model", "badfactories:needs_width"], "--model 'badfactories:needs_w", 1),
    (["filters", "--model", "badfactories:raises"], "calling it failed: RuntimeError", 1),
    (
        ["evaluate", "--model", "torch.nn:Flatten", "--weights", "{tmp}/weights.txt"],
        "--weights {tmp}/weights.txt: not a PyTorch state dict",
        1,
    ),
    (
        ["heatmap", "--vs", "torch.nn:Flatten", "--vs-weights", "{tmp}/weights.txt"],
        "--vs-weights {tmp}/weights.txt: not a PyTorch state dict",
        1,
    ),
    (
        ["evaluate", "--model", "torch.nn:Flatten", "--weights", "{tmp}/missing.pt"],
        "--weights {tmp}/missing.pt: no such file",
        1,
    ),
    (["evaluate", "--model", "builtin:nope"], "--model 'builtin:nope': unknown built-in", 1),
    (["gradients", "--vs", "nosuchmodule:f"], "--vs 'nosuchmodule:f': cannot import", 1),
    (["evaluate", "--model", "{tmp}/weights.txt"], "not a TorchScript file", 1),
    # options that name themselves
    (["calibrate", "--bins", "0"], "--bins: expected >= 1, got 0", 1),
    (["calibrate", "--n-images", "1"], "--n-images: expected >= 2", 1),
    (["blur", "--whitebox", "builtin:nope"], "--whitebox 'builtin:nope'", 1),
    (["blur", "--surrogate", "builtin:nope"], "--surrogate 'builtin:nope'", 1),
    (["blur", "--surrogate", "badfactories:raises"], "--surrogate 'badfactories:raises'", 1),
    (["blur", "--rp2-steps", "0"], "--rp2-steps: expected >= 1", 1),
    (["blur", "--sizes", "2"], "--sizes: expected comma-separated odd ints", 1),
    (["evaluate", "--n-images", "-3"], "--n-images: expected >= 1, got -3", 1),
    (["heatmap", "--n-images", "0"], "--n-images: expected >= 1", 1),
    (["report", "--blur-images", "-1"], "--blur-images: expected >= 0, got -1", 1),
    (["train", "--data", "patches", "--epochs", "0"], "--epochs: expected >= 1", 1),
    # data, attack and device
    (["evaluate", "--data", "{tmp}/no/such/data"], "--data {tmp}/no/such/data: no such", 1),
    (["train", "--data", "patches", "--test-data", "{tmp}/none.npz"], "--test-data", 1),
    (["calibrate", "--attack", "nope", "--n-images", "4"], "--attack nope: expected one of", 1),
    (["evaluate", "--device", "tpu"], "--device: expected cpu, cuda or cuda:N", 1),
]
if not torch.cuda.is_available():
    CASES.append((["evaluate", "--device", "cuda"], "--device cuda: CUDA is not available", 1))


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(tmp_path / "img.png")
    Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(tmp_path / "small.png")
    (tmp_path / "weights.txt").write_text("import torch\nthese are not weights\n")
    (tmp_path / "badfactories.py").write_text(FACTORIES)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("badfactories", None)


@pytest.mark.parametrize(
    ("argv", "fragment", "code"), CASES, ids=[" ".join(c[0][:3]) for c in CASES]
)
def test_bad_input_is_one_line_and_writes_nothing(
    files: Path, argv: list[str], fragment: str, code: int
) -> None:
    out = files / "out"
    args = [a.replace("{tmp}", str(files)) for a in argv]
    res = runner.invoke(app, [*args, "--out", str(out)])
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.exit_code == code != 0, res.output
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("error: "), lines
    assert fragment.replace("{tmp}", str(files)) in lines[0], lines[0]
    assert "Traceback" not in res.output and not res.stdout.strip()
    assert not out.exists()
    assert not list(files.glob(".out.partial-*"))
