"""Which ``Progress`` display a run reports to: ``reporting_to(progress)`` makes it ``current_progress()`` for the
enclosed block (and the contexts copied in it), and ``Silent`` stands in when nothing shows progress.

Code far from the runner (the lock, waiting for another holder) reports through ``current_progress()`` without being
handed the display. The display itself is ``progress_display.Progress``, which this module does not import (types
only): ``import marin_exec`` and a run without a display never load it. It draws nothing and keeps no step state.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from marin_exec.progress_display import Progress

# The Progress of the run in this context, so code far from the runner (the lock waiting for a holder) can report
# to it without being handed it. The runner's worker threads run in copies of the run's context.
_CURRENT: ContextVar[Progress | None] = ContextVar("marin_exec_progress", default=None)


class Silent:
    """The display of a run that shows none: every event is dropped, so a caller needs no ``if``."""

    def add_total(self, count: int) -> None:
        pass

    def step_started(self, name: str) -> None:
        pass

    def step_finished(self, name: str, outcome: str) -> None:
        pass


@contextlib.contextmanager
def reporting_to(progress: Progress | None) -> Iterator[Progress | None]:
    """Make ``progress`` the one ``current_progress()`` returns in the enclosed block (and contexts copied in it)."""
    token = _CURRENT.set(progress)
    try:
        yield progress
    finally:
        _CURRENT.reset(token)


def current_progress() -> Progress | None:
    """The Progress of the run in this context; None when nothing shows progress (then report nothing)."""
    return _CURRENT.get()
