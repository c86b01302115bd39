"""`spectral zoo`: list the built-in models with their measured accuracies."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from cli._common import stdout


def zoo(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the built-in models (load them as builtin:<name>)."""
    from spectral.models import list_models

    models = list_models()
    if as_json:
        typer.echo(json.dumps(models, indent=2))
        return
    table = Table(title="built-in models (accuracies on the built-in test split)")
    for col in ("model", "description", "clean acc.", "PGD-10 acc. (8/255)"):
        table.add_column(col, justify="right" if "acc" in col else "left")
    for m in models:
        met = m.get("metrics", {})
        table.add_row(
            f"builtin:{m['name']}",
            m.get("description", ""),
            f"{met.get('clean_accuracy', float('nan')):.3f}",
            f"{met.get('pgd10_accuracy', float('nan')):.3f}",
        )
    stdout.print(table)
