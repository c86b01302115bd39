"""The progress-callback type long-running functions accept."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Progress", "StepProgress"]

# Called as progress(done, total) after each unit of work; None means no reporting.
Progress = Callable[[int, int], None] | None

# Called with a short label before each step of a multi-step evaluation; None: no reporting.
StepProgress = Callable[[str], None] | None
