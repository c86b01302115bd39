"""The `spectral` command-line interface (typer)."""
