"""distributed_lock (DESIGN §3, §5): fn runs only under the step's lease; a finished step raises StepAlreadyDone, a
failed one PreviousStepFailed unless forced; waiters end when the holder finishes; run settings reach the lock and
explicit arguments win; a lease taken over while fn runs ends the call with LeaseLostError.

Other workers are real threads or are simulated by writing the lease and status files the way another worker would.
What distributed_lock does inside disk_cached (the commit scope) is tested in tests/test_disk_cache.py.
"""

from __future__ import annotations

import contextlib
import contextvars
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from marin_exec import (
    STATUS_FAILED,
    STATUS_RUNNING,
    STATUS_SUCCESS,
    LeaseLostError,
    PreviousStepFailed,
    StatusFile,
    StepAlreadyDone,
    disk_cached,
    distributed_lock,
    run_settings,
    worker_id,
)
from marin_exec.status.lease_record import parse_record

WAIT = 10.0  # generous bound for events that happen within milliseconds; only reached when a test fails


# Helpers shared with tests/test_disk_cache.py.


def lease_holder(output_path: str) -> str | None:
    """The owner in the step's lease file (None when there is no lease file, or it is released)."""
    path = Path(output_path, ".executor_status.lock")
    record = parse_record(path.read_bytes()) if path.exists() else None
    return None if record is None else record["worker_id"]


def write_lease(output_path: str, worker: str, age: float = 0.0) -> None:
    """Another worker's lease on local disk, last refreshed ``age`` seconds ago.

    Written as a local take-over is: a complete temp file renamed into place under the directory's flock, so it
    never interleaves with this process's compare-and-swap.
    """
    os.makedirs(output_path, exist_ok=True)
    lock_path = os.path.join(output_path, ".executor_status.lock")
    tmp = f"{lock_path}.simulated"
    Path(tmp).write_text(json.dumps({"worker_id": worker, "timestamp": time.time() - age}))
    fd = os.open(output_path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.replace(tmp, lock_path)
    finally:
        os.close(fd)


@contextlib.contextmanager
def log_event(logger_name: str, text: str, level: int = logging.INFO) -> Iterator[threading.Event]:
    """An event set when ``logger_name`` logs a message containing ``text`` (from any thread)."""
    event = threading.Event()

    class _Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if text in record.getMessage():
                event.set()

    logger = logging.getLogger(logger_name)
    handler = _Handler(level)
    previous_level = logger.level
    logger.setLevel(level)
    logger.addHandler(handler)
    try:
        yield event
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)


class _LostLeases(logging.Handler):
    """Collects the output paths whose heartbeat reported its lease taken over (it logs after recording the loss)."""

    MARKER = ": heartbeat found the lease taken over"

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.paths: set[str] = set()
        self.changed = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if self.MARKER in message:
            with self.changed:
                self.paths.add(message.split(self.MARKER)[0])
                self.changed.notify_all()


# Installed when the tests import this module, so no report is missed between a take-over and the wait for it.
_LOST_LEASES = _LostLeases()
logging.getLogger("marin_exec.runtime.heartbeat").addHandler(_LOST_LEASES)


def heartbeat_gives_up(output_path: str) -> bool:
    """Wait until the heartbeat of this process's lease on ``output_path`` has found it taken over (and recorded it)."""
    with _LOST_LEASES.changed:
        return _LOST_LEASES.changed.wait_for(lambda: output_path in _LOST_LEASES.paths, WAIT)


def start(fn: Callable[..., Any], *args: Any) -> tuple[threading.Thread, dict[str, Any]]:
    """Run ``fn(*args)`` in a thread that sees this context's run settings; the dict gets "result" or "error"."""
    outcome: dict[str, Any] = {}
    context = contextvars.copy_context()

    def target() -> None:
        try:
            outcome["result"] = context.run(fn, *args)
        except BaseException as error:
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, outcome


@pytest.fixture
def lock_waits() -> Iterator[threading.Event]:
    """Set when a distributed_lock starts waiting for another holder."""
    with log_event("marin_exec.runtime.distributed_lock", "waiting for") as event:
        yield event


class Calls:
    """A step function that records the output paths it ran for."""

    def __init__(self, result: Any = "computed", error: Exception | None = None) -> None:
        self.paths: list[str] = []
        self.result, self.error = result, error

    def __call__(self, output_path: str) -> Any:
        self.paths.append(output_path)
        if self.error is not None:
            raise self.error
        return self.result


def test_a_succeeded_step_raises_step_already_done_without_running_fn(prefix: str) -> None:
    out = f"{prefix}/step"
    StatusFile(out).write(STATUS_SUCCESS)
    fn = Calls()
    with pytest.raises(StepAlreadyDone):
        distributed_lock(fn)(out)
    assert fn.paths == []


def test_a_failed_step_raises_previous_step_failed_naming_the_rerun_flag_when_force_is_off(prefix: str) -> None:
    out = f"{prefix}/step"
    StatusFile(out).write(STATUS_FAILED)
    fn = Calls()
    with pytest.raises(PreviousStepFailed, match="--force_run_failed") as raised:
        distributed_lock(fn, force_run_failed=False)(out)
    assert out in str(raised.value)
    assert fn.paths == []


def test_a_failed_step_runs_again_when_force_is_on(prefix: str) -> None:
    out = f"{prefix}/step"
    StatusFile(out).write(STATUS_FAILED)
    fn = Calls()
    assert distributed_lock(fn, force_run_failed=True)(out) == "computed"
    assert fn.paths == [out]


def test_force_run_failed_off_in_the_run_settings_reaches_the_lock(prefix: str) -> None:
    out = f"{prefix}/step"
    StatusFile(out).write(STATUS_FAILED)
    with run_settings(force_run_failed=False), pytest.raises(PreviousStepFailed):
        distributed_lock(Calls())(out)


def test_an_explicit_force_run_failed_wins_over_the_run_settings(prefix: str) -> None:
    out = f"{prefix}/step"
    StatusFile(out).write(STATUS_FAILED)
    with run_settings(force_run_failed=True), pytest.raises(PreviousStepFailed):
        distributed_lock(Calls(), force_run_failed=False)(out)


def test_fn_runs_holding_the_lease_and_a_standalone_call_releases_it(prefix: str) -> None:
    out = f"{prefix}/step"
    holders: list[str | None] = []
    distributed_lock(lambda path: holders.append(lease_holder(path)))(out)
    assert len(holders) == 1 and holders[0].startswith(worker_id())
    assert lease_holder(out) is None


def test_a_standalone_call_releases_the_lease_when_fn_raises(prefix: str) -> None:
    out = f"{prefix}/step"
    with pytest.raises(ValueError, match="boom"):
        distributed_lock(Calls(error=ValueError("boom")))(out)
    assert lease_holder(out) is None


def test_a_waiter_behind_a_holder_thread_ends_with_step_already_done_when_the_holder_succeeds(
    prefix: str, lock_waits: threading.Event
) -> None:
    out = f"{prefix}/step"
    holder_running, finish_holder = threading.Event(), threading.Event()

    def holder_fn(path: str) -> str:
        holder_running.set()
        finish_holder.wait(WAIT)
        return "holder's result"

    holder, holder_outcome = start(disk_cached, distributed_lock(holder_fn), out)
    assert holder_running.wait(WAIT)
    waiter_fn = Calls()
    waiter, waiter_outcome = start(distributed_lock(waiter_fn), out)
    assert lock_waits.wait(WAIT), "the waiter never found the lease held"
    finish_holder.set()
    holder.join(WAIT)
    waiter.join(WAIT)
    assert holder_outcome == {"result": "holder's result"}
    assert isinstance(waiter_outcome.get("error"), StepAlreadyDone), waiter_outcome
    assert waiter_fn.paths == []


def test_a_waiter_behind_another_process_ends_with_step_already_done_when_it_succeeds(
    prefix: str, lock_waits: threading.Event
) -> None:
    out = f"{prefix}/step"
    write_lease(out, "worker-on-another-host")
    waiter_fn = Calls()
    waiter, outcome = start(distributed_lock(waiter_fn), out)
    assert lock_waits.wait(WAIT)
    StatusFile(out).write(STATUS_SUCCESS)  # the other worker commits, then releases its lease
    os.unlink(os.path.join(out, ".executor_status.lock"))
    waiter.join(WAIT)
    assert isinstance(outcome.get("error"), StepAlreadyDone), outcome
    assert waiter_fn.paths == []


def test_a_waiter_runs_the_step_when_the_holder_releases_without_succeeding(
    prefix: str, lock_waits: threading.Event
) -> None:
    out = f"{prefix}/step"
    write_lease(out, "worker-on-another-host")
    StatusFile(out).write(STATUS_RUNNING)
    waiter_fn = Calls()
    waiter, outcome = start(distributed_lock(waiter_fn), out)
    assert lock_waits.wait(WAIT)
    os.unlink(os.path.join(out, ".executor_status.lock"))  # e.g. the other worker was interrupted
    waiter.join(WAIT)
    assert outcome == {"result": "computed"}
    assert waiter_fn.paths == [out]


def test_the_heartbeat_keeps_the_lease_of_a_step_that_runs_longer_than_the_lease_timeout(
    prefix: str, fast_leases: Any, lock_waits: threading.Event
) -> None:
    out = f"{prefix}/step"
    holder_running = threading.Event()

    def long_step(path: str) -> str:
        holder_running.set()
        assert lock_waits.wait(WAIT)
        time.sleep(2 * fast_leases.lease_timeout)  # the waiter keeps polling all along
        return "holder's result"

    holder, holder_outcome = start(disk_cached, distributed_lock(long_step), out)
    assert holder_running.wait(WAIT)
    waiter_fn = Calls()
    waiter, waiter_outcome = start(distributed_lock(waiter_fn), out)
    holder.join(WAIT)
    waiter.join(WAIT)
    assert holder_outcome == {"result": "holder's result"}
    assert isinstance(waiter_outcome.get("error"), StepAlreadyDone), waiter_outcome
    assert waiter_fn.paths == []


def test_a_stale_lease_is_taken_over_under_the_lease_timeout_of_the_run_settings(prefix: str) -> None:
    out = f"{prefix}/step"
    write_lease(out, "stalled-worker", age=0.3)
    fn = Calls()
    with run_settings(lease_timeout=0.2, heartbeat_interval=0.05):
        assert distributed_lock(fn)(out) == "computed"
    assert fn.paths == [out]


def test_the_same_lease_is_waited_for_under_the_default_lease_timeout(prefix: str, lock_waits: threading.Event) -> None:
    out = f"{prefix}/step"
    write_lease(out, "slow-worker", age=0.3)
    fn = Calls()
    waiter, outcome = start(distributed_lock(fn), out)
    assert lock_waits.wait(WAIT)
    StatusFile(out).write(STATUS_SUCCESS)  # the slow worker was alive after all, and finishes
    waiter.join(WAIT)
    assert isinstance(outcome.get("error"), StepAlreadyDone), outcome
    assert fn.paths == []


def test_an_explicit_lease_timeout_wins_over_the_run_settings(prefix: str, lock_waits: threading.Event) -> None:
    out = f"{prefix}/step"
    write_lease(out, "slow-worker", age=0.3)
    fn = Calls()
    with run_settings(lease_timeout=0.2, heartbeat_interval=0.05):
        waiter, outcome = start(distributed_lock(fn, lease_timeout=90.0), out)
    assert lock_waits.wait(WAIT)
    StatusFile(out).write(STATUS_SUCCESS)
    waiter.join(WAIT)
    assert isinstance(outcome.get("error"), StepAlreadyDone), outcome
    assert fn.paths == []


def test_a_lease_taken_over_while_fn_runs_ends_the_call_with_lease_lost(prefix: str, fast_leases: Any) -> None:
    out = f"{prefix}/step"
    noticed: list[bool] = []

    def fn(path: str) -> str:
        write_lease(path, "new-holder")
        noticed.append(heartbeat_gives_up(path))  # the heartbeat beats every 0.05 s here
        return "late result"

    with pytest.raises(LeaseLostError, match="new-holder"):
        distributed_lock(fn)(out)
    assert noticed == [True]
    assert lease_holder(out) == "new-holder"
    assert StatusFile(out).read() != STATUS_SUCCESS


def test_fn_failing_after_its_lease_was_taken_over_is_reported_as_lease_lost(prefix: str, fast_leases: Any) -> None:
    out = f"{prefix}/step"

    def fn(path: str) -> str:
        write_lease(path, "new-holder")
        assert heartbeat_gives_up(path)
        raise ValueError("the step's own error")

    with pytest.raises(LeaseLostError):
        distributed_lock(fn)(out)
    assert lease_holder(out) == "new-holder"


def test_a_holder_gone_between_our_try_and_our_look_is_never_named_another_worker(tmp_path: Path) -> None:
    """The holder committed and released between our failed try and our read of whom we wait for: the wait was
    reported as waited for "another worker" (a remote step's summary then named no one, and a flaky test showed
    it). Now nobody is named from the lock; whoever finished the step is known from its info."""
    from marin_exec.call_report import reporting_call
    from marin_exec.status.status import Lease
    from tests.hooked_store import PROTOCOL, hooked_store

    store = hooked_store()
    output_path = f"{PROTOCOL}://{tmp_path}/step"
    other = Lease(output_path, timeout=30)
    assert other.try_acquire()
    lock_reads: list[int] = []

    def commit_and_release_before_the_second_read() -> None:  # read 1: our try finds it held; read 2: whom
        lock_reads.append(1)
        if len(lock_reads) == 2:
            StatusFile(output_path).write(STATUS_SUCCESS)
            other.release()

    store.on_read[".executor_status.lock"] = commit_and_release_before_the_second_read
    with reporting_call() as report, pytest.raises(StepAlreadyDone):
        distributed_lock(lambda path: None, heartbeat_interval=1, lease_timeout=30)(output_path)
    assert report.waited_for != "another worker"
