"""Dry-run classification: read each step's status (and, for a RUNNING one, its lease) and say what a run would do.

``read_statuses`` is also how a real run reads its batches. ``classify`` turns the statuses a dry run read into a
``StepState`` and a reason per step: done, will run (an interrupted step too: RUNNING without a live lease, its
worker stopped or gone), running elsewhere, failed before, blocked. It reads statuses
only through the step's public methods and never calls a step, takes no lease and writes nothing; scheduling is
the runner's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from marin_exec.run.run_report import StepState
from marin_exec.run.step_graph import RunNode
from marin_exec.status.lease_record import DEAD, FREE, LIVE, LeaseView
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
                node.outcome.lease = node.spec.lease_view()
                node.outcome.lease_held = node.outcome.lease.state == LIVE
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
        elif status == STATUS_RUNNING and outcome.lease is not None and outcome.lease.state != LIVE:
            outcome.state, outcome.reason = StepState.WILL_RUN, interrupted_reason(outcome.lease)
        elif outcome.lease_held:
            outcome.state, outcome.reason = (
                StepState.RUNNING_ELSEWHERE,
                "another worker holds its lease; will wait for it",
            )
        else:
            outcome.state = StepState.WILL_RUN
            outcome.reason = "never ran" if status is None else f"status {status}"


def interrupted_reason(lease: LeaseView) -> str:
    """Why a RUNNING step without a live lease will run: what became of its worker (DESIGN §5a)."""
    if lease.state == FREE:
        gone = "its worker released the lease without committing (Ctrl-C, SIGTERM or an error)"
    elif lease.state == DEAD:
        gone = f"its worker's process {lease.pid} on this machine is gone"
    else:
        age = "an unknown time" if lease.heartbeat_age is None else f"{lease.heartbeat_age:.0f} s"
        gone = f"its lease, held by {lease.holder} on {lease.host or 'an unknown host'}, was last refreshed {age} ago"
    return f"interrupted: status RUNNING, but {gone}; it reruns at once"
