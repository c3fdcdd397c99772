"""Dry-run classification: read each step's status (and, for a RUNNING one, its lease) and say what a run would do.

``read_statuses`` is also how a real run reads its batches. ``classify`` turns the statuses a dry run read into a
``StepState`` and a reason per step: done, will run, running elsewhere, failed before, blocked. It reads statuses
only through the step's public methods and never calls a step, takes no lease and writes nothing; scheduling is
the runner's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from marin_exec.run.run_report import StepState
from marin_exec.run.step_graph import RunNode
from marin_exec.status.status import STATUS_FAILED, STATUS_RUNNING, STATUS_SUCCESS

if TYPE_CHECKING:
    from marin_exec.compile.step_spec import StepSpec


def read_statuses(nodes: Sequence[RunNode]) -> list[str | None | Exception]:
    """The statuses of a batch of steps (an exception in place of one that could not be read)."""
    reader = getattr(type(nodes[0].spec), "read_statuses", None)
    if reader is not None and all(type(n.spec) is type(nodes[0].spec) for n in nodes):
        statuses: list[str | None | Exception] = reader([n.spec for n in nodes])
        return statuses
    return [_read_one(n.spec) for n in nodes]


def _read_one(spec: StepSpec) -> str | None | Exception:
    try:
        return spec.read_status()
    except Exception as error:
        return error


def read_plan_statuses(nodes: Sequence[RunNode]) -> list[str | None | Exception]:
    """For a dry run: the statuses, and whether a live lease is held (stored on the outcome).

    Only a RUNNING step is looked up: a holder writes RUNNING right after it takes the lease, so other statuses
    with a live lease last only an instant, and the extra read would double a dry run's cost on object stores.
    """
    statuses = read_statuses(nodes)
    for i, node in enumerate(nodes):
        if statuses[i] == STATUS_RUNNING:
            try:
                node.outcome.lease_held = _lease_held(node.spec)
            except Exception as error:  # this step's plan says why; the rest of the batch is unaffected
                statuses[i] = error
    return statuses


def classify(nodes: Iterable[RunNode], force_run_failed: bool) -> None:
    """Classify each step of a dry run from the statuses read (nodes come deps first)."""
    for node in nodes:
        outcome, status = node.outcome, node.outcome.status
        blocked_by = [
            d
            for d in node.deps
            if d.outcome.state == StepState.BLOCKED
            or d.outcome.state == StepState.FAILED_BEFORE
            and not force_run_failed
        ]
        if status == STATUS_SUCCESS:
            outcome.state, outcome.reason = StepState.DONE, "already succeeded"
        elif blocked_by:
            outcome.state = StepState.BLOCKED
            outcome.reason = f"needs {blocked_by[0].spec.name}, which will not run"
        elif status == STATUS_FAILED:
            if force_run_failed:
                outcome.state, outcome.reason = StepState.WILL_RUN, "failed before; will be retried (force_run_failed)"
            else:
                outcome.state = StepState.FAILED_BEFORE
                outcome.reason = "failed before; rerun with --force_run_failed true"
        elif outcome.lease_held:
            outcome.state, outcome.reason = (
                StepState.RUNNING_ELSEWHERE,
                "another worker holds its lease; will wait for it",
            )
        else:
            outcome.state = StepState.WILL_RUN
            outcome.reason = "never ran" if status is None else f"status {status}"


def _lease_held(spec: StepSpec) -> bool:
    return spec.lease_holder() is not None
