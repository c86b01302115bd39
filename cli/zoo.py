"""`spectral zoo`: list the built-in models with their measured accuracies."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from cli._common import stdout

TITLE = "built-in models (accuracies on the built-in test split; PGD-10 at L-inf 8/255)"
HEADER = ("model", "clean acc.", "PGD-10 acc.", "description")


def _rows(models: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    rows = []
    for m in models:
        met = m.get("metrics", {})
        rows.append(
            (
                f"builtin:{m['name']}",
                f"{met.get('clean_accuracy', float('nan')):.3f}",
                f"{met.get('pgd10_accuracy', float('nan')):.3f}",
                str(m.get("description", "")),
            )
        )
    return rows


def zoo_table(models: list[dict[str, Any]]) -> Table:
    """The rich table for a terminal: names and accuracies whole, descriptions folded."""
    rows = _rows(models)
    table = Table(title=TITLE)
    width = max([len(HEADER[0])] + [len(r[0]) for r in rows])
    table.add_column(HEADER[0], no_wrap=True, min_width=width)
    for col in HEADER[1:3]:
        table.add_column(col, justify="right", no_wrap=True, min_width=len(col))
    table.add_column(HEADER[3], overflow="fold", ratio=1)
    for row in rows:
        table.add_row(*row)
    return table


def zoo_plain(models: list[dict[str, Any]]) -> str:
    """Aligned plain text, one line per model, nothing wrapped or cut: for pipes and files."""
    rows = [HEADER, *_rows(models)]
    widths = [max(len(r[k]) for r in rows) for k in range(3)]
    lines = [
        "  ".join([r[0].ljust(widths[0]), r[1].rjust(widths[1]), r[2].rjust(widths[2]), r[3]])
        for r in rows
    ]
    return "\n".join([TITLE, *lines])


def zoo(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the built-in models (load them as builtin:<name>)."""
    from spectral.models import list_models

    models = list_models()
    if as_json:
        typer.echo(json.dumps(models, indent=2))
    elif stdout.is_terminal:
        stdout.print(zoo_table(models))
    else:  # a pipe or a file: whole lines, whatever the width
        typer.echo(zoo_plain(models))
