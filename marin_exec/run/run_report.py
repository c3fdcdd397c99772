"""What a run did to each step, or what a dry run says it would do: ``StepState``, ``StepOutcome``, ``RunReport``.

Plain records; this module decides no state (the runner and ``run.plan`` do) and formats nothing (``run.render``).
"""

from __future__ import annotations

import dataclasses
import enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from marin_exec.compile.step_spec import StepSpec


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
    NOT_SELECTED = "not_selected"
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
