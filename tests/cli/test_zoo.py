"""`spectral zoo`: model names are never truncated, in a pipe or on an 80-column terminal."""

from __future__ import annotations

from rich.console import Console
from typer.testing import CliRunner

from cli.main import app
from cli.zoo import zoo_table
from spectral.models import list_models

NAMES = [f"builtin:{m['name']}" for m in list_models()]


def test_zoo_in_a_pipe_prints_whole_lines(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COLUMNS", "80")
    res = CliRunner().invoke(app, ["zoo"])  # not a terminal
    assert res.exit_code == 0, res.output
    assert "…" not in res.stdout
    firsts = [line.split()[0] for line in res.stdout.splitlines()[2:]]
    assert firsts == NAMES
    for m in list_models():  # nothing folded: a whole description on its model's line
        line = next(ln for ln in res.stdout.splitlines() if ln.startswith(f"builtin:{m['name']} "))
        assert line.endswith(m["description"])


def test_zoo_table_on_an_80_column_terminal_keeps_names_whole() -> None:
    console = Console(width=80, force_terminal=True, color_system=None, record=True)
    console.print(zoo_table(list_models()))
    text = console.export_text()
    assert "…" not in text
    assert max(map(len, text.splitlines())) <= 80
    for name in NAMES:
        assert f"│ {name} " in text, name
