"""What a run did to each step, or what a dry run says it would do: ``StepOutcome`` and ``RunReport``."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from marin_exec.compile.step_spec import StepSpec

# Outcomes of a real run.
RAN, CACHED, FAILED, DEP_FAILED, NOT_SELECTED = "ran", "cached", "failed", "dep_failed", "not_selected"
# Plans of a dry run.
DONE, WILL_RUN, RUNNING_ELSEWHERE, FAILED_BEFORE, BLOCKED = (
    "done",
    "will run",
    "running elsewhere",
    "failed before",
    ("blocked"),
)


@dataclasses.dataclass
class StepOutcome:
    spec: StepSpec
    state: str = "pending"
    status: str | None = None  # the status read before the step was called (None: never ran)
    seconds: float | None = None
    error: BaseException | None = None
    reason: str = ""
    lease_held: bool = False


@dataclasses.dataclass
class RunReport:
    """What happened to every step of a run (or what would happen, for a dry run), in plan order."""

    outcomes: dict[str, StepOutcome]
    dry_run: bool
    seconds: float
    unmatched_patterns: list[str] = dataclasses.field(default_factory=list)

    def count(self, state: str) -> int:
        return sum(1 for o in self.outcomes.values() if o.state == state)

    def by_state(self, state: str) -> list[StepOutcome]:
        return [o for o in self.outcomes.values() if o.state == state]
