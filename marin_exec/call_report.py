"""What one step call saw that its return value does not say: whom it waited for, for how long, and whether another
worker finished the step while it waited.

The runner opens a ``CallReport`` around each step call (``reporting_call``); the lock and the cache note what they
see into ``current_call()`` from the same context, and a summary can then tell "ran here" from "finished by another
worker while we waited" and keep waits out of step time. At the bottom layer because the runner (which reads it)
may not import the runtime (which writes it). It decides nothing and prints nothing; a call made without a report
open (a runtime primitive used alone) notes into nothing. A Fray job in this process notes into the same report;
for a job elsewhere (Iris), the caller reads afterwards whether the committed ``.executor_info`` is its job's
(``step_job.note_job_outcome``), and counts the job's whole time as the wait when it is not.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from contextvars import ContextVar


@dataclasses.dataclass
class CallReport:
    worker: str | None = None  # the worker id that made the call
    waited_for: str | None = None  # the worker id of the lease holder waited for (the first one, if several)
    waited_seconds: float = 0.0
    finished_elsewhere: bool = False

    def note_wait(self, holder: str, seconds: float) -> None:
        if self.waited_for is None:
            self.waited_for = holder
        self.waited_seconds += seconds


_CURRENT: ContextVar[CallReport | None] = ContextVar("marin_exec_call_report", default=None)


@contextlib.contextmanager
def reporting_call(worker: str | None = None) -> Iterator[CallReport]:
    """Open a report for the step call that ``worker`` makes inside the block."""
    report = CallReport(worker=worker)
    token = _CURRENT.set(report)
    try:
        yield report
    finally:
        _CURRENT.reset(token)


def current_call() -> CallReport | None:
    return _CURRENT.get()


def note_wait(holder: str, seconds: float) -> None:
    """Record that this call waited ``seconds`` for ``holder`` to give up the step's lease."""
    report = _CURRENT.get()
    if report is not None:
        report.note_wait(holder, seconds)


def note_finished_elsewhere() -> None:
    """Record that another worker finished the step, so this call ran nothing."""
    report = _CURRENT.get()
    if report is not None:
        report.finished_elsewhere = True
