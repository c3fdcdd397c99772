"""``RunStop``: how a caller asks a run to stop, from any thread or a signal handler (DESIGN §5a "Interrupts").

Two levels, each asked for once: ``drain()`` — start no new step and return once the running ones have ended — and
``now()`` — return at once, leaving running steps to the caller (they are reported as interrupted). A request only
records the level and wakes the run through a callback the runner attaches; the runner acts on it in its own thread,
so a signal handler that calls ``drain()`` or ``now()`` never runs scheduling code itself. ``on_drain`` is called by
the runner, in the runner's thread, with the names of the steps still running when a drain starts (the CLI prints
them). This module does not install signal handlers (``run.cli`` does) and releases no lease (the caller does).
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

from marin_exec.run.run_report import StepState
from marin_exec.run.step_graph import RunNode


class StopLevel(enum.IntEnum):
    NONE = 0
    DRAIN = 1  # start nothing new, wait for running steps
    NOW = 2  # return at once


class RunStop:
    """A stop request shared by whoever asks (a signal handler) and the run that obeys (``StepRunner.run``)."""

    def __init__(self, on_drain: Callable[[Sequence[str]], None] | None = None) -> None:
        self.level = StopLevel.NONE
        self.on_drain = on_drain
        self._wake: Callable[[], None] | None = None

    @property
    def attached(self) -> bool:
        """Whether a run is obeying this request now (before and after a run, nobody acts on it)."""
        return self._wake is not None

    def drain(self) -> None:
        """Start no new step; the run returns once the steps already running have ended."""
        self._raise_to(StopLevel.DRAIN)

    def now(self) -> None:
        """Return at once: steps still running are reported as interrupted and left to the caller."""
        self._raise_to(StopLevel.NOW)

    def attach(self, wake: Callable[[], None]) -> None:
        """Called by the runner: ``wake`` must be safe to call from a signal handler (e.g. ``SimpleQueue.put``)."""
        self._wake = wake
        if self.level:
            wake()

    def detach(self) -> None:
        self._wake = None

    def _raise_to(self, level: StopLevel) -> None:
        if level <= self.level:
            return
        self.level = level
        wake = self._wake
        if wake is not None:
            wake()


def mark_stopped(nodes: Iterable[RunNode], started: Mapping[RunNode, float]) -> None:
    """After a stop, a step whose function was called (``started``: when, on the monotonic clock) and had not ended
    is interrupted, after the time it ran; one that was pending or still queued for a worker thread never started."""
    now = time.monotonic()
    for node in nodes:
        outcome = node.outcome
        if outcome.state == StepState.RUNNING and node in started:
            outcome.state, outcome.reason = StepState.INTERRUPTED, "the run was stopped while it ran"
            outcome.seconds = now - started[node]
        elif outcome.state in (StepState.PENDING, StepState.RUNNING):
            outcome.state, outcome.reason = StepState.NOT_STARTED, "the run was stopped before it started"
