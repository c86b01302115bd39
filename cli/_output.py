"""Writing a command's --out safely: claim it, stage inside it, move into place, mark it."""

from __future__ import annotations

import datetime as _dt
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from cli._common import Interrupted, UserError, launch_rank, write_json

__all__ = ["LOCK", "MARKER", "WORK", "check_out", "output_dir", "work_dir"]


MARKER = ".spectral-output"
LOCK = ".spectral-lock"
#: Hidden folder in ``--out`` with an interrupted run's checkpoints (``--resume``).
WORK = ".spectral-work"


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
        entries = [e for e in os.listdir(out) if e not in (LOCK, WORK)]
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


def work_dir(out: Path, command: str) -> Path:
    """Where ``command`` keeps its checkpoints for ``--resume``: ``out/.spectral-work/command``."""
    return out / WORK / command


@contextmanager
def output_dir(
    out: Path, force: bool, command: str = "spectral", resume: bool | None = None
) -> Iterator[Path]:
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
        resume: For a command with checkpoints (:func:`work_dir`): True continues from
            an interrupted run's; False refuses a folder that holds some (unless
            ``force``, which deletes them); None: the command keeps none. With True or
            False the command runs under :func:`spectral.resumable` (finished attack
            batches and heat-map passes are kept). On success the checkpoints are
            deleted; on an error or interruption they stay.

    Yields:
        The stage folder to write the output into.

    Raises:
        UserError: ``out`` is refused (see :func:`check_out`), cannot be created, or the
            output cannot be moved into place (``out`` is then as before).
        Interrupted: Ctrl-C (``KeyboardInterrupt``) while the command ran.
    """
    if launch_rank() != 0:  # under torchrun, rank 0 alone writes; the others' files are dropped
        with (
            tempfile.TemporaryDirectory(prefix="spectral-rank-") as scratch,
            _kept(out, command, resume),
        ):
            yield Path(scratch)
        return
    check_out(out, force)
    if resume is False and (out / WORK).is_dir() and not force:
        raise UserError(
            f"--out {out}: holds an interrupted run's checkpoints ({WORK}); pass --resume to "
            "continue it, or --force to start over"
        )
    created = _claim(out, force, command)
    if resume is False and force:
        shutil.rmtree(out / WORK, ignore_errors=True)
    try:
        stage = Path(tempfile.mkdtemp(prefix=".partial-", dir=out))
    except OSError as err:
        _release(out, None, created)
        raise UserError(f"--out {out}: cannot write into it ({err.strerror or err})") from None
    try:
        with _kept(out, command, resume):
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
        if (out / WORK).is_dir():
            raise Interrupted(
                f"spectral {command} interrupted; no output was written, its finished work "
                f"is kept in {out / WORK} (rerun with --resume to continue)"
            ) from None
        was = "not created" if created else "left as it was"
        raise Interrupted(
            f"spectral {command} interrupted; nothing was written (--out {out} {was})"
        ) from None
    except BaseException:
        _release(out, stage, created)
        raise
    if resume is not None:
        shutil.rmtree(out / WORK, ignore_errors=True)
    _release(out, stage, created=False)


@contextmanager
def _kept(out: Path, command: str, resume: bool | None) -> Iterator[None]:
    """For a command with checkpoints: attack batches are kept in its :func:`work_dir`."""
    if resume is None:
        yield
        return
    from spectral.attacks import resumable

    with resumable(work_dir(out, command)):
        yield


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
    old = sorted(
        (e for e in os.listdir(out) if e not in (LOCK, WORK, stage.name)), key=_marker_last
    )
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
