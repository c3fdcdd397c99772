"""StatusFile and Lease (DESIGN §5): the status token and its older JSON-lines form, and a lease that exactly one
worker holds at a time, taken over only when stale, released only by its holder.

Other workers are real threads, real processes (multiprocessing "forkserver"), or are simulated by writing the lease
file the way another worker would. Not covered here: the object-store backends' atomicity (tests/test_storage.py).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import fsspec
import pytest

from marin_exec import (
    STATUS_DEP_FAILED,
    STATUS_FAILED,
    STATUS_RUNNING,
    STATUS_SUCCESS,
    Lease,
    LeaseLostError,
    StatusFile,
)
from marin_exec.status.lease_record import parse_record

from .forkserver import worker_context

RACERS = 8
LONG = 60.0  # a lease timeout that no test outlives
SHORT = 0.05  # a lease timeout that a test outlives by sleeping twice as long


@pytest.fixture(params=["local", "memory"])
def out(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """A step output path on local disk or on fsspec's in-process memory:// filesystem."""
    if request.param == "local":
        return str(tmp_path / "step")
    return f"memory://marin-exec-tests/{uuid.uuid4().hex}/step"


def _read(path: str) -> bytes | None:
    fs, _, (target,) = fsspec.get_fs_token_paths(path)
    return fs.cat_file(target) if fs.exists(target) else None


def _write(path: str, data: bytes) -> None:
    with fsspec.open(path, "wb", auto_mkdir=True) as f:
        f.write(data)


def _lease_holder(output_path: str) -> str | None:
    data = _read(f"{output_path}/.executor_status.lock")
    record = None if data is None else parse_record(data)
    return None if record is None else record["worker_id"]


def _write_lease(output_path: str, worker: str, age: float) -> None:
    """Another worker's lease whose last heartbeat was ``age`` seconds ago."""
    record = {"worker_id": worker, "timestamp": time.time() - age}
    _write(f"{output_path}/.executor_status.lock", json.dumps(record).encode())


def _race_in_threads(make_lease: Callable[[], Lease]) -> list[Lease]:
    """Start RACERS threads that each try to acquire a lease at the same moment; return the winners."""
    barrier = threading.Barrier(RACERS)
    winners: list[Lease] = []

    def racer() -> None:
        lease = make_lease()  # built in the racing thread: the worker id is per thread
        barrier.wait(timeout=10)
        if lease.try_acquire():
            winners.append(lease)

    threads = [threading.Thread(target=racer) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return winners


@pytest.mark.parametrize("status", [STATUS_SUCCESS, STATUS_FAILED, STATUS_RUNNING, STATUS_DEP_FAILED])
def test_a_written_status_reads_back_and_is_stored_as_a_bare_token(out: str, status: str) -> None:
    StatusFile(out).write(status)
    assert StatusFile(out).read() == status
    assert _read(f"{out}/.executor_status") == status.encode()


@pytest.mark.parametrize(
    "events, expected",
    [
        (["RUNNING", "FAILED", "RUNNING", "SUCCESS"], STATUS_SUCCESS),
        (["RUNNING", "SUCCESS", "RUNNING", "FAILED"], STATUS_FAILED),
    ],
)
def test_the_last_status_of_the_older_json_lines_format_wins(out: str, events: list[str], expected: str) -> None:
    lines = [
        json.dumps({"date": f"2024-05-01T10:00:0{i}", "status": status, "message": None})
        for i, status in enumerate(events)
    ]
    _write(f"{out}/.executor_status", ("\n".join(lines) + "\n").encode())
    assert StatusFile(out).read() == expected


def test_a_step_that_never_ran_has_no_status(out: str) -> None:
    assert StatusFile(out).read() is None


def test_exactly_one_of_eight_threads_acquires_a_free_lease(out: str) -> None:
    winners = _race_in_threads(lambda: Lease(out, timeout=LONG))
    assert len(winners) == 1
    assert _lease_holder(out) == winners[0].owner


def _acquire_in_process(output_path: str, barrier: Any, results: Any) -> None:
    lease = Lease(output_path, timeout=LONG)
    barrier.wait(timeout=60)
    results.put((lease.owner, lease.try_acquire()))
    barrier.wait(timeout=60)  # stay alive until all tried: a lease whose process is gone on this machine is free


@pytest.mark.timeout(120)
def test_exactly_one_of_eight_processes_acquires_a_free_lease_on_local_disk(tmp_path: Any) -> None:
    output_path = str(tmp_path / "step")
    context = worker_context(__name__)
    barrier = context.Barrier(RACERS)
    results = context.Queue()
    processes = [
        context.Process(target=_acquire_in_process, args=(output_path, barrier, results)) for _ in range(RACERS)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=90) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    winners = [owner for owner, won in outcomes if won]
    assert len(winners) == 1, outcomes
    assert _lease_holder(output_path) == winners[0]


def test_a_live_lease_of_another_worker_is_not_taken(out: str) -> None:
    _write_lease(out, "other-worker", age=0.0)
    assert not Lease(out, timeout=LONG).try_acquire()
    assert _lease_holder(out) == "other-worker"


def test_a_stale_lease_is_taken_over_by_exactly_one_of_eight_racers(out: str) -> None:
    _write_lease(out, "crashed-worker", age=3600.0)  # beyond timeout + clock-skew allowance
    winners = _race_in_threads(lambda: Lease(out, timeout=1.0))
    assert len(winners) == 1
    assert _lease_holder(out) == winners[0].owner


def test_refresh_after_a_take_over_raises_lease_lost_naming_the_new_holder(out: str) -> None:
    first = Lease(out, timeout=SHORT, owner="first-worker")
    assert first.try_acquire()
    time.sleep(2 * SHORT)  # first stalls past the timeout...
    assert Lease(out, timeout=SHORT, owner="second-worker").try_acquire()  # ...and second takes the step over
    with pytest.raises(LeaseLostError, match="second-worker"):
        first.refresh()


def test_refresh_keeps_a_held_lease_from_going_stale(out: str) -> None:
    holder = Lease(out, timeout=LONG, owner="holder")
    assert holder.try_acquire()
    time.sleep(0.3)  # older than the other worker's timeout below...
    holder.refresh()  # ...until refreshed
    assert not Lease(out, timeout=0.25, owner="other").try_acquire()


def test_a_released_lease_can_be_acquired_by_the_next_worker(out: str) -> None:
    first = Lease(out, timeout=LONG, owner="first-worker")
    assert first.try_acquire()
    first.release()
    assert Lease(out, timeout=LONG, owner="next-worker").try_acquire()
    assert _lease_holder(out) == "next-worker"


def test_release_after_a_take_over_leaves_the_new_holders_lease_in_place(out: str) -> None:
    first = Lease(out, timeout=SHORT, owner="first-worker")
    assert first.try_acquire()
    time.sleep(2 * SHORT)
    second = Lease(out, timeout=SHORT, owner="second-worker")
    assert second.try_acquire()
    first.release()
    assert _lease_holder(out) == "second-worker"
    second.refresh()  # still second's: its compare-and-swap succeeds
