"""Layout rules: one-way dependencies between subpackages, public API at the edges."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Each subpackage may import only from subpackages of a lower rank (and itself).
RANK = {
    "errors": 0,
    "distributed": 1,
    "_internal": 2,
    "fourier": 3,
    "data": 4,
    "models": 4,
    "metrics": 5,
    "attacks": 6,
    "defenses": 7,
    "analysis": 8,
    "plot": 9,
    "train": 9,
}
# Imports a function may defer: heavy or optional dependencies, or platform modules.
DEFERRABLE = {"torchattacks", "matplotlib", "scipy", "pyfftw", "skimage", "PIL", "robustbench"}
DEFERRABLE |= {"sklearn"}
DEFERRABLE |= {"fcntl"}
MAX_LINES = 420


def _files(*folders: str) -> list[Path]:
    return sorted(p for f in folders for p in (ROOT / f).rglob("*.py"))


def _subpackage(path: Path) -> str:
    parts = path.relative_to(ROOT / "spectral").parts
    return parts[0].removesuffix(".py")


def _imports(path: Path) -> list[tuple[ast.stmt, str, list[str], bool]]:
    """(node, module, imported names, at module level) for every import in ``path``."""
    tree = ast.parse(path.read_text())
    top = {id(n) for n in tree.body}
    # imports under a module-level try/if (optional dependencies) count as module level
    for n in tree.body:
        if isinstance(n, (ast.Try, ast.If)):
            top |= {id(c) for c in ast.walk(n)}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node, a.name, [], id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [a.name for a in node.names]
            out.append((node, node.module, names, id(node) in top))
    return out


def _where(path: Path, node: ast.stmt) -> str:
    return f"{path.relative_to(ROOT)}:{node.lineno}"


def test_import_spectral_loads_no_subpackage_matplotlib_typer_or_rich() -> None:
    code = (
        "import sys, spectral; "
        "print(','.join(m for m in sys.modules if m.split('.')[0] in "
        "('matplotlib', 'typer', 'rich', 'cli', 'torchattacks') or m.startswith('spectral.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_top_level_names_resolve_lazily_and_are_few() -> None:
    import spectral as sp

    assert 30 <= len(sp.__all__) <= 50
    for name in sp.__all__:
        assert getattr(sp, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        _ = sp.nonexistent  # type: ignore[attr-defined]


def test_subpackages_depend_one_way() -> None:
    bad = []
    for path in _files("spectral"):
        if path == ROOT / "spectral" / "__init__.py":
            continue
        src = _subpackage(path)
        assert src in RANK, f"{path}: a subpackage missing from RANK"
        for node, module, _, _ in _imports(path):
            if module.startswith("spectral."):
                dst = module.split(".")[1]
                if dst != src and RANK[dst] >= RANK[src]:
                    bad.append(f"{_where(path, node)}: {src} imports {module}")
    assert bad == []


def test_functions_defer_only_heavy_or_optional_imports() -> None:
    bad = []
    for path in _files("spectral"):
        if path == ROOT / "spectral" / "__init__.py":
            continue  # its imports are the TYPE_CHECKING block
        for node, module, _, at_top in _imports(path):
            root = module.split(".")[0]
            deferred_attack = module.startswith("spectral.attacks")  # defers torchattacks
            if not at_top and root not in DEFERRABLE and not deferred_attack:
                bad.append(f"{_where(path, node)}: import {module} inside a function")
    assert bad == []


def test_private_names_stay_inside_their_subpackage() -> None:
    bad = []
    for path in _files("spectral"):
        src = (
            _subpackage(path) if path.parent != ROOT / "spectral" or path.stem != "__init__" else ""
        )
        for node, module, names, _ in _imports(path):
            if not module.startswith("spectral."):
                continue
            dst = module.split(".")[1]
            private = [n for n in names if n.startswith("_")]
            if private and dst != src:
                bad.append(f"{_where(path, node)}: {module} {private}")
    assert bad == []


def test_cli_figures_and_benchmarks_use_public_api_only() -> None:
    bad = []
    for path in _files("cli", "figures", "benchmarks"):
        for node, module, names, _ in _imports(path):
            if not module.startswith("spectral"):
                continue
            parts = module.split(".")
            private = [n for n in names if n.startswith("_") and n != "__version__"]
            if any(p.startswith("_") for p in parts) or private:
                bad.append(f"{_where(path, node)}: {module} {names}")
    assert bad == []


def test_no_command_imports_another_command() -> None:
    commands = {p.stem for p in (ROOT / "cli").glob("*.py") if not p.stem.startswith("_")}
    commands -= {"__init__", "main"}
    bad = []
    for path in _files("cli"):
        if path.stem == "main":
            continue  # registers the commands
        for node, module, _, _ in _imports(path):
            if module.startswith("cli.") and module.split(".")[1] in commands:
                bad.append(f"{_where(path, node)}: imports {module}")
    assert bad == []


def test_no_module_is_long() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in _files("spectral", "cli")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_library_never_imports_cli_typer_or_rich() -> None:
    for path in _files("spectral"):
        bad = {m.split(".")[0] for _, m, _, _ in _imports(path)} & {"typer", "rich", "cli", "click"}
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_only_plot_imports_matplotlib() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in _files("spectral", "cli")
        if "matplotlib" in {m.split(".")[0] for _, m, _, _ in _imports(p)}
        and p.parent != ROOT / "spectral" / "plot"
    ]
    assert offenders == []
