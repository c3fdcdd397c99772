"""The replicas of a multi-host step (DESIGN §7): one Iris job of several tasks, each running the user function.

Task 0 runs the locked, committing chain; its lease's owner names its Iris job (``lease_owner``), so the job's other
replicas know when their own task 0 holds the step. A follower runs the user function only then (never while another
run holds the lease, never once the step is settled), and ends by writing a marker, ok or its error, under the output
path, keyed by the lease it ran under (one set of markers per acquisition: a retried job never reads an older
attempt's). Task 0, after its own call returns and before any commit write, waits for every follower's marker: a
follower's error fails the step (no SUCCESS without every host's output); once all are ok they are removed. A
follower whose task ended without a marker (a hard crash, a kill) fails it too: task 0 asks Iris for its job's task
states while it waits. Neither side waits on the lease itself; the heartbeat keeps refreshing task 0's lease
throughout (the wait runs inside the step's function, holding no fence).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import posixpath
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from marin_exec.settings import current_run_settings
from marin_exec.status.status import STATUS_FAILED, STATUS_SUCCESS, Lease, StatusFile, join, worker_id
from marin_exec.storage.protocol import strip_protocol
from marin_exec.storage.store import store_for

logger = logging.getLogger(__name__)

MARKERS_DIRNAME = ".executor_replicas"
_JOB_TAG = " of iris job "  # between a lease owner and the Iris job whose task 0 took the lease
_POLL = 0.2  # how often a marker or the lease is looked at (seconds)
_ASK_IRIS_EVERY = 2.0  # how often task 0 asks Iris whether a follower's task has ended (seconds)
_RECORD_FAILURE_WITHIN = 30.0  # a failed follower gives task 0 this long to record FAILED (a bound, seconds)
_ENDED = {"succeeded", "failed", "killed", "worker_failed", "unschedulable", "preempted", "cosched_failed", "missing"}


class ReplicaFailed(RuntimeError):
    """A follower of a multi-host step failed, or ended without running under its task 0's lease."""


@dataclasses.dataclass(frozen=True)
class JobTask:
    """This process's task in a multi-task Iris job: the job (Iris's ``JobName``), its index, and how many tasks."""

    job: Any
    index: int
    count: int


_TASK: ContextVar[JobTask | None] = ContextVar("marin_exec_replica_task", default=None)


@contextlib.contextmanager
def as_replica(task: JobTask | None) -> Iterator[None]:
    """Run the block as ``task`` of a multi-host step's job (None: not one)."""
    token = _TASK.set(task)
    try:
        yield
    finally:
        _TASK.reset(token)


def current_task() -> JobTask | None:
    return _TASK.get()


def lease_owner() -> str | None:
    """The owner of a lease taken here: None (the default owner) outside a multi-host step's job; inside one, the
    default owner followed by the job, so that its followers know their own task 0 holds the step."""
    task = _TASK.get()
    if task is None:
        return None
    return f"{worker_id()}-{os.urandom(3).hex()}{_JOB_TAG}{task.job}"


def run_follower(name: str, fn: Callable[[str], Any], output_path: str) -> None:
    """A follower: wait until this job's task 0 holds the step's lease, then run ``fn`` and leave a marker. Ends
    without running when the step is settled (SUCCESS, or FAILED without force), when its task 0 has ended, or
    outside a multi-host step's job."""
    task = _TASK.get()
    if task is None:
        logger.warning(f"{name}: a replica outside a multi-host step's Iris job; not running the step")
        return
    owner = _wait_for_own_task_0(name, task, output_path)
    if owner is None:
        return
    try:
        fn(output_path)
    except BaseException as error:
        _write_marker(output_path, owner, task.index, repr(error))
        # This task's failure ends the whole job: first let task 0 record FAILED with this error (it releases the
        # lease then), or the step would be left RUNNING without its reason.
        _wait_while_held_by(owner, task, output_path)
        raise
    _write_marker(output_path, owner, task.index, None)


def wait_for_followers(name: str, output_path: str) -> None:
    """In task 0, after its own call of the user function: return once every follower has left an ok marker for
    the lease task 0 holds; ``ReplicaFailed`` as soon as one left an error or ended without a marker."""
    task = _TASK.get()
    if task is None or task.index != 0 or task.count < 2:
        return
    holder = Lease(output_path, timeout=current_run_settings().lease_timeout).holder()
    owner = str(holder.get("worker_id")) if holder else ""
    if not owner.endswith(f"{_JOB_TAG}{task.job}"):
        raise ReplicaFailed(f"{name}: task 0 no longer holds the lease of {output_path}; not committing the step")
    pending = set(range(1, task.count))
    asked = time.monotonic()
    while True:
        for index in sorted(pending):
            marker = _read_marker(output_path, owner, index)
            if marker is None:
                continue
            if marker.get("error") is not None:
                raise ReplicaFailed(
                    f"{name}: replica {index} of {task.count} failed ({marker['error']}); the step is not "
                    "committed. Fix the cause and rerun the step"
                )
            pending.discard(index)
        if not pending:
            return _clear_markers(output_path, owner, task.count)
        if time.monotonic() - asked >= _ASK_IRIS_EVERY:
            asked = time.monotonic()
            ended = _ended_tasks(task) & pending
            if ended and all(_read_marker(output_path, owner, index) is None for index in ended):
                raise ReplicaFailed(
                    f"{name}: replica {min(ended)} of {task.count} ended without finishing the step's function "
                    "(its task crashed or was killed); the step is not committed. Rerun the step"
                )
        time.sleep(_POLL)


def _wait_for_own_task_0(name: str, task: JobTask, output_path: str) -> str | None:
    """The owner of the lease once this job's task 0 holds it; None when the follower has nothing to run."""
    settings = current_run_settings()
    lease = Lease(output_path, timeout=settings.lease_timeout)
    status = StatusFile(output_path)
    asked = time.monotonic()
    while True:
        current = status.read()
        if current == STATUS_SUCCESS or current == STATUS_FAILED and not settings.force_run_failed:
            logger.info(f"{name}: replica {task.index} not run, the step's status is {current}")
            return None
        holder = lease.holder()
        owner = str(holder.get("worker_id")) if holder else ""
        if owner.endswith(f"{_JOB_TAG}{task.job}"):
            return owner
        if time.monotonic() - asked >= _ASK_IRIS_EVERY:
            asked = time.monotonic()
            if 0 in _ended_tasks(task):
                logger.info(f"{name}: replica {task.index} not run, task 0 of its job ended without the lease")
                return None
        time.sleep(_POLL)


def _wait_while_held_by(owner: str, task: JobTask, output_path: str) -> None:
    lease = Lease(output_path, timeout=current_run_settings().lease_timeout)
    deadline = time.monotonic() + _RECORD_FAILURE_WITHIN
    while time.monotonic() < deadline:
        holder = lease.holder()
        if holder is None or holder.get("worker_id") != owner or 0 in _ended_tasks(task):
            return
        time.sleep(_POLL)


def _marker_path(output_path: str, owner: str, index: int) -> str:
    import hashlib  # here: ``import marin_exec`` loads this module (through the lock) but never hashlib

    key = hashlib.sha256(owner.encode()).hexdigest()[:16]
    return join(output_path, f"{MARKERS_DIRNAME}/{key}/{index}.json")


def _write_marker(output_path: str, owner: str, index: int, error: str | None) -> None:
    path = _marker_path(output_path, owner, index)
    store_for(path).write(path, json.dumps({"replica": index, "owner": owner, "error": error}).encode())


def _read_marker(output_path: str, owner: str, index: int) -> dict[str, Any] | None:
    path = _marker_path(output_path, owner, index)
    found = store_for(path).read(path)
    if found is None:
        return None
    try:
        marker = json.loads(found[0])
    except ValueError:
        marker = None
    return marker if isinstance(marker, dict) else {"error": f"unreadable marker {path}"}


def _clear_markers(output_path: str, owner: str, count: int) -> None:
    """Once task 0 has read every follower's ok marker, they have served: remove them (and, locally, their
    directories), so that a committed output holds the step's own files only. Never raises: a marker left behind is
    keyed by this lease and never read again."""
    for index in range(1, count):
        path = _marker_path(output_path, owner, index)
        try:
            store = store_for(path)
            found = store.read(path)
            if found is not None:
                store.delete_if(path, found[1])
        except Exception as error:
            logger.debug(f"could not remove the replica marker {path}: {error!r}")
    protocol, key_dir = strip_protocol(posixpath.dirname(_marker_path(output_path, owner, 1)))
    if protocol in ("file", "local"):
        for directory in (key_dir, posixpath.dirname(key_dir)):  # only if empty: another attempt's may remain
            with contextlib.suppress(OSError):
                os.rmdir(directory)


def _ended_tasks(task: JobTask) -> set[int]:
    """The indexes of this job's tasks that Iris reports ended (empty when Iris cannot be asked)."""
    try:
        from iris.client.client import get_iris_ctx

        ctx = get_iris_ctx()
        if ctx is None or ctx.client is None:
            return set()
        return {
            status.task_id.require_task()[1]
            for status in ctx.client.list_tasks(task.job)
            if str(getattr(status.state, "value", status.state)) in _ENDED
        }
    except Exception as error:  # only a shortcut: a crashed task also fails the whole job, which ends this one
        logger.debug(f"could not ask Iris for the tasks of {task.job}: {error!r}")
        return set()
