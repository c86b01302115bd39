"""Progress for long commands: rich bars on a terminal, plain lines elsewhere."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cli._common import stderr

__all__ = ["PlainProgress", "count_task", "progress"]


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


def count_task(bar: Progress, description: str) -> Callable[[int, int], None]:
    """A progress task of unknown size and the ``(done, total)`` callback that drives it."""
    task = bar.add_task(description, total=None)

    def tick(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return tick
