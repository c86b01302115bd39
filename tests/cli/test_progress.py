"""Plain progress lines when stderr is not a terminal (CI, a log file, a pipe)."""

from __future__ import annotations

import pytest

from cli import _progress
from cli._progress import PlainProgress


def test_plain_progress_prints_throttled_lines_with_remaining_time(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = iter([0.0, 0.0, 5.0, 12.0, 13.0, 30.0])
    monkeypatch.setattr(_progress.time, "monotonic", lambda: next(clock))
    bar = PlainProgress(interval=10.0)  # t=0
    with bar:
        task = bar.add_task("attack", total=4)  # t=0
        bar.advance(task)  # t=5: too soon, nothing printed
        bar.update(task, completed=2, description="attack (pgd)")  # t=12: a line
        bar.advance(task)  # t=13: too soon
        bar.advance(task)  # t=30: done -> a last line
    lines = capsys.readouterr().err.splitlines()
    # at t=12, 2 of 4 done in 12 s: 12 s more expected
    assert lines == ["[0m12s] attack (pgd): 2/4, ~0m12s left", "[0m30s] attack (pgd): 4/4"]


def test_short_runs_print_nothing_and_unknown_totals_have_no_estimate(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = iter([0.0, 0.0, 1.0, 2.0, 2.0, 100.0, 4000.0])
    monkeypatch.setattr(_progress.time, "monotonic", lambda: next(clock))
    bar = PlainProgress(interval=10.0)
    a = bar.add_task("quick", total=2)
    bar.advance(a)
    bar.advance(a)  # finished without ever printing: no line
    b = bar.add_task("open-ended")  # t=2, total unknown
    bar.update(b, completed=7)  # t=100
    bar.update(b, completed=9)  # t=4000: hours format
    assert capsys.readouterr().err.splitlines() == [
        "[1m40s] open-ended: 7",
        "[1h06m] open-ended: 9",
    ]


def test_progress_is_plain_off_a_terminal() -> None:
    # under pytest stderr is captured, not a terminal
    assert isinstance(_progress.progress(), PlainProgress)
