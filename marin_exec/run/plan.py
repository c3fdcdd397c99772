"""Dry-run classification: read each step's status (and, for a RUNNING one, its lease) and say what a run would do.

``read_statuses`` is also how a real run reads its batches. ``classify`` turns the statuses a dry run read into a
``StepState`` and a reason per step: done, will run (an interrupted step too: RUNNING without a live lease, its
worker stopped or gone), running elsewhere, failed before, blocked. ``explain`` then says why each step that never
ran at its path will run (never ran, or what changed since an earlier output of the same name: ``run.why``) and
which done steps drifted, with batched reads for those steps only. It reads statuses and leases only through the
step's public methods; it never calls a step, takes no lease and writes nothing; scheduling is the runner's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from marin_exec.run.run_report import StepState
from marin_exec.run.step_graph import RunNode
from marin_exec.run.why import drift_lines, why_lines
from marin_exec.status.lease_record import DEAD, FREE, LIVE, STALE, LeaseView
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
    """For a dry run: the statuses, and whether a live lease is held and by whom (stored on the outcome).

    Only a RUNNING step is looked up: a holder writes RUNNING right after it takes the lease, so other statuses
    with a live lease last only an instant, and the extra read would double a dry run's cost on object stores.
    """
    statuses = read_statuses(nodes)
    for i, node in enumerate(nodes):
        if statuses[i] == STATUS_RUNNING:
            try:
                view = node.spec.lease_view()
                node.outcome.lease = view
                node.outcome.lease_held = view.state == LIVE
                node.outcome.holder = describe_holder(view)
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
            outcome.state = StepState.RUNNING_ELSEWHERE
            outcome.reason = f"{outcome.holder} holds its lease; will wait for it"
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


def explain(nodes: Iterable[RunNode]) -> None:
    """After ``classify``: the why of each step that will run and has no status (never ran at its path: what
    changed since an earlier output of its name), and the drift line of each done step. Two batched reads, each
    only for the steps it concerns."""
    nodes = list(nodes)
    fresh = [n for n in nodes if n.outcome.state == StepState.WILL_RUN and n.outcome.status is None]
    if fresh:
        try:
            whys = why_lines([n.spec for n in fresh], [n.spec for n in nodes])
        except Exception as error:  # the plan itself was read; only the comparison with earlier outputs is lost
            whys = [f"never ran at this version (earlier outputs could not be read: {error!r})"] * len(fresh)
        for node, why in zip(fresh, whys, strict=True):
            node.outcome.reason = why
    done = [n for n in nodes if n.outcome.state == StepState.DONE and (n.spec.info or {}).get("config") is not None]
    if done:
        for node, drift in zip(done, drift_lines([n.spec for n in done]), strict=True):
            node.outcome.drift = drift


def describe_holder(view: LeaseView) -> str:
    """``h-1 (heartbeat 4s ago)``; for a lease nobody live holds, what became of it."""
    age = "heartbeat age unknown" if view.heartbeat_age is None else f"heartbeat {view.heartbeat_age:.0f}s ago"
    if view.state == LIVE:
        return f"{view.holder} ({age})"
    if view.state == DEAD:
        return f"its holder {view.holder} is gone (pid {view.pid} no longer runs on this host)"
    if view.state == STALE:
        return f"its holder {view.holder}'s lease is stale ({age})"
    return "nobody holds its lease"
