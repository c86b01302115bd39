"""`--out` never loses or misplaces anything: claims, the marker, `.`, symlinks, Ctrl-C."""

from __future__ import annotations

import datetime as _dt
import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import spectral as sp
from cli._common import UserError
from cli._output import output_dir
from cli.main import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
MARKER = ".spectral-output"


@pytest.fixture
def png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("img") / "img.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(path)
    return path


def _tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` (hidden ones too) with its text: what is on disk."""
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def _spectral_folder(out: Path, files: dict[str, str]) -> None:
    """A folder written by a previous (spectral) run: ``files`` plus the marker."""
    with output_dir(out, force=False) as tmp:
        for name, text in files.items():
            (tmp / name).write_text(text)


def _one_line(res: object) -> str:
    lines = res.stderr.strip().splitlines()  # type: ignore[attr-defined]
    assert res.exit_code != 0, res.stdout  # type: ignore[attr-defined]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


# 1. two runs on the same --out ---------------------------------------------------------


@pytest.mark.parametrize("exists", [False, True], ids=["new", "empty-existing"])
def test_second_run_on_same_out_is_refused_while_first_runs(tmp_path: Path, exists: bool) -> None:
    out = tmp_path / "o"
    if exists:
        out.mkdir()
    with output_dir(out, force=False) as first:
        assert out.is_dir()  # claimed on disk at the start, visible to other processes
        (first / "a.txt").write_text("first")
        for force in (False, True):
            with pytest.raises(UserError, match="another spectral command"):
                with output_dir(out, force=force) as second:
                    (second / "a.txt").write_text("second")
    assert (out / "a.txt").read_text() == "first"
    assert sorted(os.listdir(out)) == [MARKER, "a.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]


def test_second_process_is_refused_while_first_holds_out(tmp_path: Path, png: Path) -> None:
    out = tmp_path / "o"
    holder = (
        "import sys\nfrom pathlib import Path\nfrom cli._output import output_dir\n"
        f"with output_dir(Path({str(out)!r}), False) as t:\n"
        "    (t / 'held.txt').write_text('held')\n"
        "    print('claimed', flush=True)\n"
        "    sys.stdin.readline()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", holder],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "claimed"
        for extra in ([], ["--force"]):
            res = runner.invoke(app, ["spectrum", str(png), "--out", str(out), *extra])
            assert "another spectral command" in _one_line(res)
    finally:
        proc.communicate("\n", timeout=60)
    assert proc.returncode == 0
    assert sorted(os.listdir(out)) == [MARKER, "held.txt"]


# 2. the marker; --force replaces only what spectral wrote ---------------------------------


def test_every_output_folder_has_the_marker(tmp_path: Path, png: Path) -> None:
    out = tmp_path / "o"
    res = runner.invoke(app, ["spectrum", str(png), "--out", str(out)])
    assert res.exit_code == 0, res.stderr
    marker = json.loads((out / MARKER).read_text())
    assert marker["command"] == "spectrum" and marker["version"] == sp.__version__
    created = _dt.datetime.fromisoformat(marker["created"])
    assert abs((_dt.datetime.now(_dt.timezone.utc) - created).total_seconds()) < 600


@pytest.mark.parametrize(
    "contents",
    [{"notes.txt": "mine"}, {"sub/deep.txt": "mine"}, {".bashrc": "x", MARKER: "not json"}],
    ids=["user-file", "user-subfolder", "bogus-marker"],
)
def test_force_refuses_a_folder_spectral_did_not_write(
    tmp_path: Path, contents: dict[str, str]
) -> None:
    out = tmp_path / "home"
    for name, text in contents.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text)
    before = _tree(out)
    with pytest.raises(UserError, match="not a spectral output folder"):
        with output_dir(out, force=True) as tmp:
            (tmp / "new.txt").write_text("new")
    assert _tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]


def test_force_refuses_user_folder_on_the_command_line(tmp_path: Path, png: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    line = _one_line(runner.invoke(app, ["spectrum", str(png), "--out", str(out), "--force"]))
    assert "not a spectral output folder" in line and MARKER in line
    assert _tree(out) == {"thesis.tex": "years of work"}


@pytest.mark.parametrize("force", [False, True])
def test_a_file_at_out_is_refused(tmp_path: Path, force: bool) -> None:
    out = tmp_path / "file"
    out.write_text("keep")
    with pytest.raises(UserError, match="not a directory"):
        with output_dir(out, force=force):
            pass
    assert out.read_text() == "keep" and sorted(os.listdir(tmp_path)) == ["file"]


def test_force_replaces_a_spectral_folder_as_a_whole(tmp_path: Path) -> None:
    out = tmp_path / "o"
    _spectral_folder(out, {"old.txt": "old", "both.txt": "old"})
    with output_dir(out, force=True) as tmp:
        (tmp / "both.txt").write_text("new")
        (tmp / "fig").mkdir()
        (tmp / "fig" / "f.png").write_text("png")
    tree = _tree(out)
    assert set(tree) == {MARKER, "both.txt", "fig/f.png"}  # replaced, never merged
    assert tree["both.txt"] == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]


def test_failed_forced_run_leaves_the_old_output(tmp_path: Path) -> None:
    out = tmp_path / "o"
    _spectral_folder(out, {"old.txt": "old"})
    before = _tree(out)
    with pytest.raises(RuntimeError):
        with output_dir(out, force=True) as tmp:
            (tmp / "half.txt").write_text("half")
            raise RuntimeError("boom")
    assert _tree(out) == before and sorted(os.listdir(tmp_path)) == ["o"]


# 3. `.`, mount points, folders that cannot be renamed ------------------------------------


def test_out_is_the_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    with output_dir(Path("."), force=False) as tmp:
        (tmp / "a.txt").write_text("1")
    assert sorted(os.listdir(here)) == [MARKER, "a.txt"]
    with output_dir(Path("."), force=True) as tmp:  # replaces the output in `.`
        (tmp / "b.txt").write_text("2")
    assert sorted(os.listdir(here)) == [MARKER, "b.txt"]
    assert sorted(os.listdir(tmp_path)) == ["here"]


def test_cli_out_dot(tmp_path: Path, png: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    res = runner.invoke(app, ["spectrum", str(png), "--out", ".", "--format", "png"])
    assert res.exit_code == 0, (res.stderr, res.exception)
    assert sorted(os.listdir(here)) == [MARKER, "spectrum.json", "spectrum.png"]
    assert sorted(os.listdir(tmp_path)) == ["here"]


def _failing_rename(monkeypatch: pytest.MonkeyPatch, fails: object) -> None:
    """Make ``os.rename``/``os.replace`` raise EBUSY where ``fails(src)`` is true."""
    for name in ("rename", "replace"):
        real = getattr(os, name)

        def patched(src, dst, *a, _real=real, **kw):  # type: ignore[no-untyped-def]
            if fails(Path(src)):  # type: ignore[operator]
                raise OSError(errno.EBUSY, os.strerror(errno.EBUSY), str(src))
            return _real(src, dst, *a, **kw)

        monkeypatch.setattr(os, name, patched)


@pytest.mark.parametrize("existing", [False, True], ids=["new", "forced"])
def test_out_that_cannot_be_renamed_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, existing: bool
) -> None:
    """A mount point: renaming the folder itself fails with EBUSY, its entries move fine."""
    out = tmp_path / "mnt"
    out.mkdir()
    if existing:
        _spectral_folder(out, {"old.txt": "old"})
    _failing_rename(monkeypatch, lambda src: src.absolute() == out.absolute())
    with output_dir(out, force=existing) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(os.listdir(out)) == [MARKER, "new.txt"]
    assert sorted(os.listdir(tmp_path)) == ["mnt"]


@pytest.mark.parametrize("existing", [False, True], ids=["new", "forced"])
def test_failing_move_is_one_line_and_leaves_out_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, existing: bool
) -> None:
    out = tmp_path / "o"
    if existing:
        _spectral_folder(out, {"old.txt": "old"})
    before = _tree(out) if existing else None
    _failing_rename(monkeypatch, lambda src: True)
    with pytest.raises(UserError, match="as before"):
        with output_dir(out, force=existing) as tmp:
            (tmp / "new.txt").write_text("new")
    if existing:
        assert _tree(out) == before
    else:
        assert not out.exists()
    assert sorted(os.listdir(tmp_path)) == (["o"] if existing else [])


def test_cli_failing_move_is_one_line(
    tmp_path: Path, png: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "o"
    _failing_rename(monkeypatch, lambda src: True)
    line = _one_line(runner.invoke(app, ["spectrum", str(png), "--out", str(out)]))
    assert "EBUSY" in line or "busy" in line.lower()
    assert list(tmp_path.iterdir()) == []


# 4. a symlinked --out ---------------------------------------------------------------------


@pytest.mark.parametrize("existing", [False, True], ids=["empty-target", "forced"])
def test_symlinked_out_is_followed(tmp_path: Path, existing: bool) -> None:
    target = tmp_path / "real"
    target.mkdir()
    if existing:
        _spectral_folder(target, {"old.txt": "old"})
    link = tmp_path / "link"
    link.symlink_to(target, target_is_directory=True)
    with output_dir(link, force=existing) as tmp:
        (tmp / "new.txt").write_text("new")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert sorted(os.listdir(target)) == [MARKER, "new.txt"]
    assert sorted(os.listdir(tmp_path)) == ["link", "real"]


def test_dangling_symlink_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "nowhere")
    with pytest.raises(UserError, match="symlink"):
        with output_dir(link, force=True):
            pass
    assert link.is_symlink() and sorted(os.listdir(tmp_path)) == ["link"]


# 5. Ctrl-C ---------------------------------------------------------------------------------


@pytest.mark.parametrize("existing", [False, True], ids=["new", "forced"])
def test_ctrl_c_is_one_line_exit_130_and_writes_nothing(
    tmp_path: Path, png: Path, monkeypatch: pytest.MonkeyPatch, existing: bool
) -> None:
    out = tmp_path / "o"
    if existing:
        _spectral_folder(out, {"old.txt": "old"})
    before = _tree(out) if existing else None

    def interrupted(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(sp.plot, "save_figure", interrupted)
    extra = ["--force"] if existing else []
    res = runner.invoke(app, ["spectrum", str(png), "--out", str(out), *extra])
    line = _one_line(res)
    assert res.exit_code == 130
    assert "spectrum" in line and "interrupted" in line and "nothing" in line
    if existing:
        assert _tree(out) == before
    else:
        assert not out.exists()
    assert sorted(os.listdir(tmp_path)) == (["o"] if existing else [])
