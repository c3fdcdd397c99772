"""What a run did to each step, or what a dry run says it would do: ``StepState``, ``StepOutcome``, ``RunReport``.

Plain records; this module decides no state (the runner and ``run.plan`` do) and formats nothing (``run.render``).
"""

from __future__ import annotations

import dataclasses
import enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from marin_exec.compile.step_spec import StepSpec
    from marin_exec.status.lease_record import LeaseView


class StepState(enum.StrEnum):
    """Where a step stands in a run or a dry-run plan. A ``str`` enum: compares equal to its text."""

    # While a run is in progress.
    PENDING = "pending"
    RUNNING = "running"
    # Outcomes of a real run.
    RAN = "ran"
    CACHED = "cached"
    FAILED = "failed"
    DEP_FAILED = "dep_failed"
    # Never needed: every step that needs it is already built (DESIGN §5b). A run and a dry run.
    PRUNED = "pruned"
    # Outcomes of a stopped run (run.stop): running when it stopped, or never started.
    INTERRUPTED = "interrupted"
    NOT_STARTED = "not started"
    # Plans of a dry run.
    DONE = "done"
    WILL_RUN = "will run"
    RUNNING_ELSEWHERE = "running elsewhere"
    FAILED_BEFORE = "failed before"
    BLOCKED = "blocked"


@dataclasses.dataclass
class StepOutcome:
    spec: StepSpec
    state: StepState = StepState.PENDING
    status: str | None = None  # the status read before the step was called (None: never ran)
    seconds: float | None = None
    error: BaseException | None = None
    reason: str = ""
    lease_held: bool = False
    lease: LeaseView | None = None  # dry run: the lease of a RUNNING step, as one read showed it
    # What the call saw (a real run): another worker finished the step while we waited (state stays RAN), whom we
    # waited for and how long (not part of ``seconds``), and for DEP_FAILED the failed step it needed.
    finished_elsewhere: bool = False
    worker: str | None = None  # the worker id that made the call
    waited_for: str | None = None
    waited_seconds: float = 0.0
    blocked_by: str | None = None
    holder: str = ""  # dry run, a RUNNING step: who holds its lease, and how fresh (``h-1, heartbeat 4s ago``)
    drift: str | None = None  # a done step whose recorded unversioned config differs from today's


@dataclasses.dataclass
class RunReport:
    """What happened to every step of a run (or what would happen, for a dry run), in plan order."""

    outcomes: dict[str, StepOutcome]
    dry_run: bool
    seconds: float
    unmatched_patterns: list[str] = dataclasses.field(default_factory=list)

    def count(self, state: StepState) -> int:
        return sum(1 for o in self.outcomes.values() if o.state == state)

    def by_state(self, state: StepState) -> list[StepOutcome]:
        return [o for o in self.outcomes.values() if o.state == state]
