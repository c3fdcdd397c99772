"""Truthful run summaries: a pure function from each step's result to the ``Summary:`` paragraph and the per-step
rows of the run record.

Counts are ran here / finished by another worker while we waited / cached / failed / blocked / interrupted. Step
time is time spent running steps here; time spent waiting for another worker's lease is reported apart, with whom
each step waited for. The rerun hint is offered only where rerunning can help (something failed, was blocked or
was interrupted). This module reads nothing, prints nothing and builds no command line: ``step_results`` turns
the runner's report into ``StepResult`` rows, the CLI prints the text and writes the record.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from marin_exec.run.run_report import RunReport, StepState
from marin_exec.status.failure import error_line

RAN_HERE = "ran here"
FINISHED_ELSEWHERE = "finished by another worker while we waited"
CACHED = "cached"
FAILED = "failed"
BLOCKED = "blocked"
INTERRUPTED = "interrupted"
NOT_STARTED = "not started"  # a stopped run (Ctrl-C) never started them
PRUNED = "pruned"  # never needed: what needs them is already built (DESIGN §5b); neither run nor read
OUTCOMES = (RAN_HERE, FINISHED_ELSEWHERE, CACHED, PRUNED, FAILED, BLOCKED, INTERRUPTED, NOT_STARTED)
_OUTCOME_OF_STATE = {
    StepState.RAN: RAN_HERE,
    StepState.CACHED: CACHED,
    StepState.FAILED: FAILED,
    StepState.DEP_FAILED: BLOCKED,
    StepState.INTERRUPTED: INTERRUPTED,
    StepState.NOT_STARTED: NOT_STARTED,
    StepState.PRUNED: PRUNED,
}
# Outcomes that a rerun can change (after a fix, for a failure).
RERUNNABLE = (FAILED, BLOCKED, INTERRUPTED, NOT_STARTED)


@dataclasses.dataclass(frozen=True)
class StepResult:
    """What happened to one step. ``seconds`` is time it ran here (0 if it did not); ``waited_seconds`` the time
    spent waiting for ``waited_for`` (a worker id) to release its lease; ``blocked_by`` the failed dependency."""

    name: str  # name-hash
    outcome: str
    seconds: float = 0.0
    waited_seconds: float = 0.0
    waited_for: str | None = None
    worker: str | None = None
    error: str | None = None  # one line: "KeyError: 'train'"
    blocked_by: str | None = None

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"step {self.name}: unknown outcome {self.outcome!r}; use one of {OUTCOMES}")


@dataclasses.dataclass(frozen=True)
class Summary:
    counts: dict[str, int]
    wall_seconds: float
    step_seconds: float
    wait_seconds: float
    lines: list[str]
    rerun_helps: bool

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def summarize(results: Sequence[StepResult], wall_seconds: float, *, dry_run: bool = False) -> Summary:
    """The ``Summary:`` line, then one line per step that did not simply run or hit the cache, then the waits."""
    counts = {outcome: 0 for outcome in OUTCOMES}
    for result in results:
        counts[result.outcome] += 1
    step_seconds = sum(r.seconds for r in results if r.outcome in (RAN_HERE, FAILED, INTERRUPTED))
    wait_seconds = sum(r.waited_seconds for r in results)
    shown = ", ".join(f"{n} {outcome}" for outcome, n in counts.items() if n or outcome in (RAN_HERE, CACHED))
    timing = f"steps {_seconds(step_seconds)}" + (f", waiting {_seconds(wait_seconds)}" if wait_seconds else "")
    lines = [f"Summary: {shown} in {_seconds(wall_seconds)} ({timing})."]
    for result in results:
        if result.outcome == FAILED:
            lines.append(f"  failed: {result.name}: {result.error or 'unknown error'}")
        elif result.outcome == BLOCKED:
            cause = f"needs {result.blocked_by}, which failed" if result.blocked_by else "a dependency failed"
            lines.append(f"  blocked: {result.name}: {cause}")
        elif result.outcome == INTERRUPTED:
            lines.append(f"  interrupted: {result.name} after {_seconds(result.seconds)}")
    for result in results:
        if result.waited_seconds and result.waited_for:
            then = "it finished there" if result.outcome == FINISHED_ELSEWHERE else f"then {result.outcome}"
            lines.append(f"  waited: {result.name}: {_seconds(result.waited_seconds)} for {result.waited_for} ({then})")
    rerun = not dry_run and any(counts[outcome] for outcome in RERUNNABLE)
    return Summary(counts, wall_seconds, step_seconds, wait_seconds, lines, rerun)


def step_results(report: RunReport) -> list[StepResult]:
    """The result of each step a real run settled (in plan order); steps ``--run_only`` left out are not listed."""
    results = []
    for outcome in report.outcomes.values():
        kind = _OUTCOME_OF_STATE.get(outcome.state)
        error = outcome.error
        if kind is None:
            continue
        if kind == RAN_HERE and outcome.finished_elsewhere:
            kind = FINISHED_ELSEWHERE
        elif kind == FAILED and isinstance(error, KeyboardInterrupt | SystemExit):
            kind = INTERRUPTED
        results.append(
            StepResult(
                name=outcome.spec.name_with_hash,
                outcome=kind,
                seconds=outcome.seconds or 0.0,
                waited_seconds=outcome.waited_seconds,
                waited_for=outcome.waited_for,
                worker=outcome.waited_for if kind == FINISHED_ELSEWHERE else outcome.worker,
                error=error_line(error) if error is not None and kind == FAILED else None,
                blocked_by=outcome.blocked_by,
            )
        )
    return results


def run_record(results: Sequence[StepResult]) -> list[dict[str, Any]]:
    """One JSON-ready row per step (name, outcome, seconds, waited, worker, error): the run file's ``steps``."""
    return [
        {
            "name": r.name,
            "outcome": r.outcome,
            "seconds": round(r.seconds, 3),
            "waited_seconds": round(r.waited_seconds, 3),
            "waited_for": r.waited_for,
            "worker": r.worker,
            "error": r.error,
            "blocked_by": r.blocked_by,
        }
        for r in results
    ]


def _seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} min {rest:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"
