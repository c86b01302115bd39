"""Pieces shared by the commands: options, one-line errors, loading, JSON.

Safe output folders are in :mod:`cli._output`, progress in :mod:`cli._progress`.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from spectral.errors import SpectralError

stderr = Console(stderr=True)
stdout = Console()


class UserError(Exception):
    """A mistake in the command line or its files: reported as one line, exit code 1."""

    exit_code = 1


class Interrupted(UserError):
    """Ctrl-C while a command ran (nothing was written): one line, exit code 130."""

    exit_code = 130


SeedOpt = Annotated[
    int,
    typer.Option("--seed", min=0, max=2**63 - 1, help="Random seed (sampling, noise, attacks)."),
]
VsOpt = Annotated[str, typer.Option("--vs", help="Second model to compare with ('' for none).")]
VsWeightsOpt = Annotated[
    Path | None,
    typer.Option("--vs-weights", help="State dict for a module:factory --vs model."),
]
DeviceOpt = Annotated[str, typer.Option("--device", help="Torch device: cpu, cuda or cuda:N.")]
ResumeOpt = Annotated[
    bool,
    typer.Option(
        "--resume",
        help="Continue an interrupted run on the same --out: finished attack batches and "
        "heat-map passes are kept in --out/.spectral-work and not run again.",
    ),
]
ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Replace an --out folder a spectral command wrote, as a whole (never merged); "
        "other non-empty folders are refused.",
    ),
]

FormatOpt = Annotated[
    str,
    typer.Option(
        "--format",
        help="Figure formats, comma-separated: png (200 dpi), pdf, svg (vector).",
    ),
]
FIGURE_FORMATS = ("png", "pdf", "svg")  # spectral.plot.FIGURE_FORMATS, without matplotlib


def parse_formats(text: str, *, need_png: bool = False) -> tuple[str, ...]:
    """Validate ``--format`` (e.g. ``png,pdf``): the formats in order, each once.

    ``need_png`` (the report, whose HTML embeds the PNGs) refuses a list without png.
    """
    fmts = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
    bad = [f for f in fmts if f not in FIGURE_FORMATS]
    if not fmts or bad:
        raise UserError(
            f"--format: expected comma-separated {', '.join(FIGURE_FORMATS)}, got {text!r}"
        )
    if need_png and "png" not in fmts:
        raise UserError(f"--format: report.html embeds PNG figures; include png, got {text!r}")
    return fmts


def figure_names(stem: str, formats: tuple[str, ...]) -> str:
    """``"x.png, x.pdf"``: the files one figure is written as, for the closing message."""
    return ", ".join(f"{stem}.{f}" for f in formats)


ModelOpt = Annotated[
    str,
    typer.Option("--model", help="Model: builtin:<name>, a TorchScript/.pt2 file, module:factory."),
]
WeightsOpt = Annotated[
    Path | None, typer.Option("--weights", help="State dict for a module:factory model.")
]
DataOpt = Annotated[
    str, typer.Option("--data", help="'builtin', an image folder, a CIFAR-10 dir or .npz/.pt.")
]
AttackOpt = Annotated[str, typer.Option("--attack", help="Attack name (pgd, fgsm, cw, ...).")]
EpsOpt = Annotated[float, typer.Option("--eps", help="L-inf attack budget in [0, 1] units.")]
StepsOpt = Annotated[int, typer.Option("--steps", help="Attack iterations.")]


def check_eps(eps: float) -> None:
    """Refuse an ``--eps`` outside (0, 1] (images are in [0, 1])."""
    if not 0.0 < eps <= 1.0:
        hint = f"; did you mean {eps:g}/255 = {eps / 255:.4g}?" if 1.0 < eps <= 255.0 else ""
        raise UserError(f"--eps: expected 0 < eps <= 1 (images are in [0, 1]), got {eps:g}{hint}")


def check_min(option: str, value: int, minimum: int) -> None:
    """Refuse an integer option below ``minimum``, naming the option."""
    if value < minimum:
        raise UserError(f"{option}: expected >= {minimum}, got {value}")


def check_l2_eps(eps: float, option: str) -> None:
    """Refuse an L2 norm (heat-map ``eps``) that is not a positive finite number."""
    if not 0.0 < eps < float("inf"):
        raise UserError(f"{option}: expected an L2 norm > 0 (Yin et al. use 4 on 32x32), got {eps}")


def launch_rank() -> int:
    """This process's rank under ``torchrun`` (``RANK``), 0 when not launched that way."""
    import os

    try:
        return int(os.environ.get("RANK", "0")) if int(os.environ.get("WORLD_SIZE", "1")) > 1 else 0
    except ValueError:
        return 0


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: message`` as one line on stderr and exit with ``code``.

    Under ``torchrun`` only rank 0 prints (every rank meets the same input errors), except
    for a message about one rank (``rank N: ...``), which that rank prints.
    """
    if launch_rank() == 0 or message.startswith("rank "):
        typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn input errors (ours and the library's typed ones) into one line and exit 1.

    Ctrl-C becomes one line too, with exit code 130 (:class:`Interrupted` from
    :func:`output_dir` says that nothing was written).

    Raises:
        typer.Exit: With code 1 for an error, 130 for Ctrl-C, after the line is printed.
    """
    try:
        yield
    except (UserError, SpectralError) as err:
        code = err.exit_code if isinstance(err, UserError) else 1
        fail(str(err).splitlines()[0] if str(err) else type(err).__name__, code)
    except KeyboardInterrupt:
        fail("interrupted before anything was written", 130)


def parse_device(name: str) -> Any:
    """Validate ``--device`` and return a :class:`torch.device`."""
    import torch

    try:
        dev = torch.device(name)
    except RuntimeError:
        raise UserError(f"--device: expected cpu, cuda or cuda:N, got {name!r}") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(f"--device {name}: CUDA is not available here; use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise UserError(
                f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) present"
            )
    elif dev.type != "cpu":
        raise UserError(f"--device: expected cpu, cuda or cuda:N, got {name!r}")
    from spectral.distributed import init_from_env, launched
    from spectral.errors import SpectralValueError

    if launched():  # under torchrun: join the group; one GPU per rank (LOCAL_RANK)
        try:
            dev = init_from_env(dev)
        except SpectralValueError as err:
            raise UserError(f"rank {launch_rank()}: {err}") from None
    return dev


"""The file that marks a folder as written by a spectral command (JSON: command, version,
created); ``--force`` replaces only folders that have it."""
"""Created (``O_EXCL``) inside ``--out`` while a command writes there: a second run refuses."""


def clean_json(obj: Any) -> Any:
    """Replace NaN/Inf floats by None, recursively, so the output is strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): clean_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [clean_json(v) for v in obj]
    return obj


def write_json(path: Path, data: Any) -> None:
    """Write strict JSON (NaN -> null), indented."""
    path.write_text(json.dumps(clean_json(data), indent=2, allow_nan=False) + "\n")


def data_uri(png: Path) -> str:
    """A ``data:image/png;base64,...`` URI embedding the file."""
    return "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")


WEIGHTS_OPTION = {
    "--model": "--weights",
    "--vs": "--vs-weights",
    "--compare-model": "--compare-weights",
}


def load_model_option(
    spec: str,
    option: str,
    dev: Any,
    weights: Path | None = None,
    *,
    model_dir: Path | None = None,
) -> Any:
    """Load the model that ``option`` (``--model``, ``--surrogate``, ...) names.

    A load error becomes one line naming the option (or, for a bad state dict, its
    weights option, ``--weights`` for ``--model``).
    """
    from spectral.models import load_model

    try:
        return load_model(spec, weights=weights, model_dir=model_dir, device=dev)
    except SpectralError as err:
        message = str(err).splitlines()[0].removeprefix("model: ")
        for prefix in (f"model {spec!r}: ", f"model {spec}: "):
            message = message.removeprefix(prefix)
        if message.startswith("weights: "):  # the error is in the weights option
            rest = message[9:]
            sep = " " if weights is not None and rest.startswith(f"{weights}: ") else ": "
            raise UserError(f"{WEIGHTS_OPTION.get(option, '--weights')}{sep}{rest}") from None
        raise UserError(f"{option} {spec!r}: {message}") from None


def load_data(spec: str, split: str, option: str = "--data", **kwargs: Any) -> Any:
    """:func:`spectral.load_dataset`, with a data error naming ``option`` (``--data``)."""
    import spectral as sp

    try:
        return sp.load_dataset(spec, split, **kwargs)
    except SpectralError as err:
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        if message.startswith("data: "):
            raise UserError(f"{option} {message[6:]}") from None
        raise


def check_attack(attack: str, net: Any, eps: float, steps: int) -> None:
    """Build the attack once so an unknown name or a bad option fails before any work."""
    import spectral as sp

    try:
        sp.make_attack(attack, net, eps=eps, steps=steps)
    except SpectralError as err:
        message = str(err).splitlines()[0].removeprefix("name: ")
        raise UserError(f"--attack {attack}: {message}") from None
