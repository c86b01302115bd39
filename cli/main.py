"""The `spectral` command: one module per subcommand, registered here."""

from __future__ import annotations

import signal
import sys

import typer

from cli._common import launch_rank, stderr, stdout
from cli.bands import bands
from cli.blur import blur
from cli.calibrate import calibrate
from cli.detect import detect
from cli.evaluate import evaluate
from cli.filters import filters
from cli.gradients import gradients
from cli.heatmap import heatmap
from cli.report import report
from cli.spectrum import spectrum
from cli.train import train
from cli.zoo import zoo

app = typer.Typer(
    name="spectral",
    help="Frequency-domain analysis of adversarial robustness.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("report")(report)
app.command("bands")(bands)
app.command("blur")(blur)
app.command("calibrate")(calibrate)
app.command("detect")(detect)
app.command("evaluate")(evaluate)
app.command("filters")(filters)
app.command("gradients")(gradients)
app.command("heatmap")(heatmap)
app.command("spectrum")(spectrum)
app.command("train")(train)
app.command("zoo")(zoo)


def _terminate(signum: int, _frame: object) -> None:
    """SIGTERM (a scheduler, ``timeout``) unwinds like Ctrl-C: partial output is removed."""
    raise SystemExit(128 + signum)


def main() -> None:
    """Console-script entry point: usage errors become one ``error:`` line on stderr."""
    signal.signal(signal.SIGTERM, _terminate)
    if launch_rank() != 0:  # under torchrun, rank 0 alone talks (and writes the output)
        stdout.quiet = stderr.quiet = True
    try:
        rv = app(standalone_mode=False)
    except typer.Abort:
        typer.echo("error: interrupted", err=True)
        sys.exit(130)
    except typer.TyperException as err:
        message = err.format_message().strip()
        if message:  # `spectral` alone prints the help and has nothing to add
            typer.echo(f"error: {message}", err=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        typer.echo("error: interrupted", err=True)
        sys.exit(130)
    finally:
        from spectral.distributed import shutdown

        shutdown()
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":
    main()
