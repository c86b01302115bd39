"""Dependency direction: cli -> spectral; only spectral/plot imports matplotlib."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imported_modules(path: Path) -> set[str]:
    mods: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            mods |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            mods.add(node.module.split(".")[0])
    return mods


def test_import_spectral_does_not_load_matplotlib_typer_or_rich() -> None:
    code = (
        "import sys, spectral; "
        "print(','.join(m for m in ('matplotlib', 'typer', 'rich', 'cli') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_library_never_imports_cli_typer_or_rich() -> None:
    for path in (ROOT / "spectral").rglob("*.py"):
        bad = _imported_modules(path) & {"typer", "rich", "cli", "click"}
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_only_plot_imports_matplotlib() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for folder in ("spectral", "cli")
        for p in (ROOT / folder).rglob("*.py")
        if "matplotlib" in _imported_modules(p) and p.name != "plot.py"
    ]
    assert offenders == []
