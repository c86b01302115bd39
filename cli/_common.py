"""Pieces shared by the commands: options, one-line errors, safe output folders, progress."""

from __future__ import annotations

import base64
import datetime as _dt
import errno
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

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


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: message`` as one line on stderr and exit with ``code``."""
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
    return dev


MARKER = ".spectral-output"
"""The file that marks a folder as written by a spectral command (JSON: command, version,
created); ``--force`` replaces only folders that have it."""
LOCK = ".spectral-lock"
"""Created (``O_EXCL``) inside ``--out`` while a command writes there: a second run refuses."""


def check_out(out: Path, force: bool) -> None:
    """Refuse (before any work) an ``--out`` that cannot be written or must not be replaced.

    Looks only, changes nothing; :func:`output_dir` checks again once it holds ``out``.

    Args:
        out: The ``--out`` folder (it need not exist; a symlink to a folder is followed).
        force: Whether ``--force`` was given.

    Raises:
        UserError: ``out`` is a file or a dangling symlink, another spectral command is
            writing into it, it is not empty and ``force`` is false, or ``force`` is true
            but it is not a folder a spectral command wrote (no :data:`MARKER`).
    """
    if out.is_symlink() and not out.exists():
        raise UserError(f"--out {out}: a symlink to {os.readlink(out)}, which does not exist")
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a directory")
    if out.is_dir():
        if (out / LOCK).exists():
            raise UserError(_busy(out))
        _check_contents(out, force)


def _check_contents(out: Path, force: bool) -> None:
    """Refuse a non-empty ``out`` without ``force``, and one without the marker with it.

    Args:
        out: An existing folder.
        force: Whether ``--force`` was given.

    Raises:
        UserError: As described; also when ``out`` cannot be listed.
    """
    try:
        entries = [e for e in os.listdir(out) if e != LOCK]
    except OSError as err:
        raise UserError(f"--out {out}: cannot read ({err.strerror or err})") from None
    if not entries:
        return
    if not force:
        raise UserError(f"--out {out}: directory is not empty; pass --force to replace it")
    if _marker(out) is None:
        raise UserError(
            f"--out {out}: not a spectral output folder (no valid {MARKER} inside), "
            "so --force does not replace it; choose a new or empty folder"
        )


def _marker(folder: Path) -> dict[str, Any] | None:
    """The marker's JSON object if ``folder`` has a valid one (with ``command``), else None."""
    try:
        data = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "command" in data else None


def _busy(out: Path) -> str:
    """The one-line refusal for an ``out`` whose lock file exists."""
    try:
        pid = int(json.loads((out / LOCK).read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        pid = 0
    who = f"another spectral command (process {pid})" if pid else "another spectral command"
    return (
        f"--out {out}: {who} is writing into it; wait for it to finish, or remove "
        f"{out / LOCK} if no such command is running"
    )


@contextmanager
def output_dir(out: Path, force: bool, command: str = "spectral") -> Iterator[Path]:
    """Claim ``out`` now, yield a hidden stage inside it, and move the stage into place.

    On entry ``out`` is created if missing (``os.mkdir`` is atomic) and a lock file is
    created in it with ``O_EXCL``, so a second run on the same ``out`` refuses until this
    one ends. The command writes into a stage folder ``out/.partial-*``. When the work
    is done a marker (:data:`MARKER`) is added, the old contents (``force``) are moved
    aside into ``out/.old-*``, the stage's entries are renamed into ``out`` and the old
    ones deleted. Only entries are renamed, never ``out`` itself, so ``.``, a mount point
    and a symlink to a folder (which stays a symlink) work. On an error, Ctrl-C or
    SIGTERM the stage is removed and ``out`` is left as before (removed if this call
    created it); Ctrl-C becomes :class:`Interrupted`.

    Args:
        out: The ``--out`` folder.
        force: Replace an existing spectral output folder (one with the marker) as a whole.
        command: The subcommand (``report``, ...), named in the marker and in messages.

    Yields:
        The stage folder to write the output into.

    Raises:
        UserError: ``out`` is refused (see :func:`check_out`), cannot be created, or the
            output cannot be moved into place (``out`` is then as before).
        Interrupted: Ctrl-C (``KeyboardInterrupt``) while the command ran.
    """
    check_out(out, force)
    created = _claim(out, force, command)
    try:
        stage = Path(tempfile.mkdtemp(prefix=".partial-", dir=out))
    except OSError as err:
        _release(out, None, created)
        raise UserError(f"--out {out}: cannot write into it ({err.strerror or err})") from None
    try:
        yield stage
        try:
            _write_marker(stage, command)
            _move_into_place(stage, out)
        except OSError as err:  # only the move's: the command's own errors pass as they are
            raise UserError(
                f"--out {out}: cannot move the output into place ({_reason(err)}); it is as before"
            ) from None
    except KeyboardInterrupt:
        _release(out, stage, created)
        was = "not created" if created else "left as it was"
        raise Interrupted(
            f"spectral {command} interrupted; nothing was written (--out {out} {was})"
        ) from None
    except BaseException:
        _release(out, stage, created)
        raise
    _release(out, stage, created=False)


def _claim(out: Path, force: bool, command: str) -> bool:
    """Create ``out`` if missing and its lock file (``O_EXCL``); check it again under the lock.

    Args:
        out: The ``--out`` folder.
        force: Whether ``--force`` was given.
        command: The subcommand, recorded in the lock file.

    Returns:
        Whether this call created ``out`` (missing parent folders are created and kept).

    Raises:
        UserError: ``out`` cannot be created, another command holds it, or the check
            under the lock refuses it; nothing is left behind.
    """
    try:
        out.absolute().parent.mkdir(parents=True, exist_ok=True)
        os.mkdir(out)
        created = True
    except FileExistsError:
        created = False
    except OSError as err:
        raise UserError(f"--out {out}: cannot create ({err.strerror or err})") from None
    try:
        fd = os.open(out / LOCK, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise UserError(_busy(out)) from None
    except OSError as err:
        if created:
            with suppress(OSError):
                os.rmdir(out)
        raise UserError(f"--out {out}: cannot write into it ({err.strerror or err})") from None
    with os.fdopen(fd, "w") as f:
        json.dump({"pid": os.getpid(), "command": command, "created": _now()}, f)
    try:
        _check_contents(out, force)  # another run may have finished since check_out
    except UserError:
        _release(out, None, created)
        raise
    return created


def _release(out: Path, stage: Path | None, created: bool) -> None:
    """Remove the stage and the lock; remove ``out`` too if this run created it.

    Args:
        out: The claimed ``--out`` folder.
        stage: The stage folder, if one was made.
        created: Whether ``out`` did not exist before the claim.
    """
    if stage is not None:
        shutil.rmtree(stage, ignore_errors=True)
    with suppress(OSError):
        os.unlink(out / LOCK)
    if created:
        with suppress(OSError):  # only if empty: never delete anything but our own
            os.rmdir(out)


def _write_marker(stage: Path, command: str) -> None:
    """Write :data:`MARKER` (command, version, created time) into the stage."""
    from spectral import __version__

    write_json(stage / MARKER, {"command": command, "version": __version__, "created": _now()})


def _move_into_place(stage: Path, out: Path) -> None:
    """Replace ``out``'s contents by the stage's, by renames inside ``out``; undo on failure.

    The old entries go into ``out/.old-*`` (the marker last), the new ones into ``out``
    (the marker first), so the folder always has a marker; then the old ones are deleted.

    Args:
        stage: The finished stage folder inside ``out``.
        out: The claimed ``--out`` folder.

    Raises:
        OSError: A rename failed; every entry moved so far has been moved back.
    """
    old = sorted((e for e in os.listdir(out) if e not in (LOCK, stage.name)), key=_marker_last)
    new = sorted(os.listdir(stage), key=_marker_last, reverse=True)
    trash = Path(tempfile.mkdtemp(prefix=".old-", dir=out)) if old else None
    moved: list[tuple[Path, Path]] = []
    try:
        if trash is not None:
            for name in old:
                moved.append((out / name, trash / name))
                os.rename(*moved[-1])
        for name in new:
            moved.append((stage / name, out / name))
            os.rename(*moved[-1])
    except OSError:
        for src, dst in reversed(moved[:-1]):
            with suppress(OSError):
                os.rename(dst, src)
        if trash is not None:
            with suppress(OSError):
                os.rmdir(trash)
        raise
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)


def _marker_last(name: str) -> bool:
    """Sort key that puts :data:`MARKER` last."""
    return name == MARKER


def _reason(err: OSError) -> str:
    """``EBUSY: Device or resource busy`` for an OSError (its errno name and message)."""
    name = errno.errorcode.get(err.errno or 0, "")
    text = err.strerror or str(err)
    return f"{name}: {text}" if name else text


def _now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class PlainProgress:
    """Progress as plain lines on stderr, for when it is not a terminal (CI, a log, a pipe).

    Same calls as the rich :class:`~rich.progress.Progress` the commands use (``add_task``,
    ``update``, ``advance``). A line (``[elapsed] description: done/total, ~remaining``) is
    printed at most every ``interval`` seconds per task, and a last one when a task that
    printed completes, so runs shorter than ``interval`` print nothing.
    """

    def __init__(self, interval: float = 10.0) -> None:
        self.interval = interval
        self.start = time.monotonic()
        self.tasks: dict[int, dict[str, Any]] = {}

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(self, description: str, total: float | None = None, **_: Any) -> int:
        """Start a task; returns its id."""
        tid = len(self.tasks)
        now = time.monotonic()
        self.tasks[tid] = {"d": description, "total": total, "done": 0.0, "t0": now, "last": now}
        self.tasks[tid]["printed"] = False
        return tid

    def advance(self, task: int, advance: float = 1) -> None:
        """Add ``advance`` to a task's completed count."""
        self.update(task, advance=advance)

    def update(
        self,
        task: int,
        *,
        total: float | None = None,
        completed: float | None = None,
        advance: float | None = None,
        description: str | None = None,
        **_: Any,
    ) -> None:
        """Change a task's total, completed count or description; maybe print a line."""
        t = self.tasks[task]
        if total is not None:
            t["total"] = total
        if completed is not None:
            t["done"] = completed
        if advance is not None:
            t["done"] += advance
        if description is not None:
            t["d"] = description
        now = time.monotonic()
        finished = t["total"] is not None and t["done"] >= t["total"]
        if now - t["last"] >= self.interval or (finished and t["printed"]):
            t["last"], t["printed"] = now, True
            sys.stderr.write(self._line(t, now) + "\n")
            sys.stderr.flush()

    def _line(self, t: dict[str, Any], now: float) -> str:
        done, total = t["done"], t["total"]
        line = f"[{_duration(now - self.start)}] {t['d']}: {done:g}"
        if total:
            line += f"/{total:g}"
            if 0 < done < total:
                line += f", ~{_duration((now - t['t0']) * (total - done) / done)} left"
        return line


def _duration(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def progress() -> Progress:
    """Progress on stderr: a transient rich bar on a terminal, plain lines otherwise.

    The bar is transient, so an error below it stays one line.
    """
    if not stderr.is_terminal:
        return PlainProgress()  # type: ignore[return-value]
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
    )


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


def load_model_option(spec: str, option: str, dev: Any, weights: Path | None = None) -> Any:
    """Load the model that ``option`` (``--model``, ``--surrogate``, ...) names.

    A load error becomes one line naming the option (or, for a bad state dict, its
    weights option, ``--weights`` for ``--model``).
    """
    from spectral.models import load_model

    try:
        return load_model(spec, weights=weights, device=dev)
    except SpectralError as err:
        message = str(err).splitlines()[0].removeprefix("model: ")
        for prefix in (f"model {spec!r}: ", f"model {spec}: "):
            message = message.removeprefix(prefix)
        if message.startswith("weights: "):  # the error is in the weights option
            rest = message[9:]
            sep = " " if weights is not None and rest.startswith(f"{weights}: ") else ": "
            raise UserError(f"{WEIGHTS_OPTION.get(option, '--weights')}{sep}{rest}") from None
        raise UserError(f"{option} {spec!r}: {message}") from None


def load_models(
    model: str,
    vs: str,
    weights: Path | None,
    dev: Any,
    vs_weights: Path | None = None,
    *,
    options: tuple[str, str] = ("--model", "--vs"),
) -> dict[str, Any]:
    """``{name: net}`` for ``--model`` and ``--vs`` (left out when empty or identical).

    Two entries with the same spec but different weights are named ``spec [file]``.
    A load error names the option it came from.
    """
    entries = [(model, weights, options[0])]
    if vs and (vs, vs_weights) != (model, weights):
        entries.append((vs, vs_weights, options[1]))
    same_spec = len(entries) == 2 and vs == model
    nets: dict[str, Any] = {}
    for spec, w, option in entries:
        name = f"{spec} [{w.name if w else 'no weights'}]" if same_spec else spec
        nets[name if name not in nets else f"{name} ({option})"] = load_model_option(
            spec, option, dev, w
        )
    return nets


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


def check_fit(nets: dict[str, Any], x: Any, y: Any) -> None:
    """Run each model on two images: refuse (one line) a model that does not fit the data.

    Catches a wrong number of input channels or image size, outputs that are not
    ``(B, K)`` logits, and fewer classes than the data's labels, before any long work.
    """
    import torch

    from spectral.models import Normalize

    shape = tuple(x.shape[1:])
    for name, net in nets.items():
        for m in net.modules():  # a per-channel Normalize would broadcast 1 channel to 3
            if isinstance(m, Normalize) and m.mean.shape[1] != shape[0]:
                raise UserError(
                    f"{name}: expects {m.mean.shape[1]}-channel images, the data has {shape[0]}"
                )
        try:
            with torch.no_grad():  # loaded models are in eval mode already
                out = net(x[:2])
        except (RuntimeError, ValueError, TypeError, IndexError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise UserError(
                f"{name}: does not run on the data's images of shape (C, H, W) = {shape}: {first}"
            ) from None
        if not isinstance(out, torch.Tensor) or out.ndim != 2:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise UserError(f"{name}: expected (batch, classes) logits, got {got}")
        if len(y) and int(y.max()) >= out.shape[1]:
            raise UserError(
                f"{name}: has {out.shape[1]} classes but the data has labels up to {int(y.max())}"
            )


def check_attack(attack: str, net: Any, eps: float, steps: int) -> None:
    """Build the attack once so an unknown name or a bad option fails before any work."""
    import spectral as sp

    try:
        sp.make_attack(attack, net, eps=eps, steps=steps)
    except SpectralError as err:
        message = str(err).splitlines()[0].removeprefix("name: ")
        raise UserError(f"--attack {attack}: {message}") from None


def load_compared(
    *,
    model: str,
    vs: str,
    weights: Path | None,
    vs_weights: Path | None,
    data: str,
    n_images: int,
    seed: int,
    device: str,
    options: tuple[str, str] = ("--model", "--vs"),
) -> tuple[Any, dict[str, Any], Any, Any]:
    """The shared start of the two-model commands: ``(device, nets, images, labels)``.

    Validates ``--device``, takes ``n_images`` test images of ``--data``, loads the two
    models (``options`` name them in errors) and checks that both run on those images.
    (``--out`` is claimed before, by :func:`output_dir`.)
    """
    dev = parse_device(device)
    test = load_data(data, "test", seed=seed).subset(n_images, seed=seed)
    nets = load_models(model, vs, weights, dev, vs_weights, options=options)
    x, y = test.images.to(dev), test.labels.to(dev)
    check_fit(nets, x, y)
    return dev, nets, x, y


def count_task(bar: Progress, description: str) -> Callable[[int, int], None]:
    """A progress task of unknown size and the ``(done, total)`` callback that drives it."""
    task = bar.add_task(description, total=None)

    def tick(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return tick
