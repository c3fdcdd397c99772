"""Interrupts at the primitive level (DESIGN §5a): a KeyboardInterrupt or SystemExit inside a step writes no FAILED,
releases the lease and propagates; ``release_all`` gives up every lease of the process; RUNNING without a live
lease reads as interrupted and reruns at once, even with force_run_failed off.

Steps run in real threads on local disk; the lease is read back from the file a real worker would see.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from marin_exec import (
    STATUS_RUNNING,
    Artifact,
    LeaseLostError,
    StatusFile,
    disk_cached,
    distributed_lock,
)
from marin_exec.runtime.heartbeat import release_all
from marin_exec.status.lease_record import FREE, LIVE
from marin_exec.status.step_status import is_interrupted, read_lease_view
from tests.test_distributed_lock import WAIT, Calls, lease_holder, start

INTERRUPTS = [KeyboardInterrupt(), SystemExit(143)]


def _raise(error: BaseException) -> Any:
    def fn(path: str) -> Any:
        raise error

    return fn


@pytest.mark.parametrize("interrupt", INTERRUPTS, ids=["ctrl-c", "exit"])
def test_an_interrupt_inside_a_step_writes_no_failed_releases_the_lease_and_propagates(
    prefix: str, interrupt: BaseException
) -> None:
    # Regression (issue 10, item 2): a KeyboardInterrupt was recorded as FAILED, so a rerun refused the step.
    out = f"{prefix}/step"
    with pytest.raises(type(interrupt)):
        disk_cached(distributed_lock(_raise(interrupt)), out)
    assert StatusFile(out).read() == STATUS_RUNNING
    assert lease_holder(out) is None
    assert is_interrupted(StatusFile(out).read(), read_lease_view(out))


@pytest.mark.parametrize("interrupt", INTERRUPTS, ids=["ctrl-c", "exit"])
def test_an_interrupt_inside_save_writes_no_failed_and_releases_the_lease(
    prefix: str, interrupt: BaseException
) -> None:
    out = f"{prefix}/step"

    def save(result: Any, path: str) -> None:
        raise interrupt

    with pytest.raises(type(interrupt)):
        disk_cached(distributed_lock(lambda path: 1), out, save=save)
    assert StatusFile(out).read() == STATUS_RUNNING
    assert lease_holder(out) is None


def test_a_standalone_lock_releases_its_lease_on_an_interrupt(prefix: str) -> None:
    out = f"{prefix}/step"
    with pytest.raises(KeyboardInterrupt):
        distributed_lock(_raise(KeyboardInterrupt()))(out)
    assert lease_holder(out) is None


def test_an_interrupted_step_reruns_at_once_even_with_force_run_failed_off(prefix: str) -> None:
    out = f"{prefix}/step"
    with pytest.raises(KeyboardInterrupt):
        disk_cached(distributed_lock(_raise(KeyboardInterrupt())), out)
    fn = Calls(result={"value": 2})
    assert disk_cached(distributed_lock(fn, force_run_failed=False), out, save=Artifact.save) == {"value": 2}
    assert fn.paths == [out]


def test_release_all_gives_up_every_lease_of_the_process_and_the_steps_commit_nothing(prefix: str) -> None:
    paths = [f"{prefix}/step-{i}" for i in range(3)]
    entered = [threading.Event() for _ in paths]
    resume = threading.Event()

    def blocking(index: int) -> Any:
        def fn(path: str) -> Any:
            entered[index].set()
            assert resume.wait(WAIT)
            return {"value": index}

        return fn

    running = [start(disk_cached, distributed_lock(blocking(i)), path) for i, path in enumerate(paths)]
    assert all(event.wait(WAIT) for event in entered)
    assert all(read_lease_view(path).state == LIVE for path in paths)

    released = release_all()

    assert set(paths) <= set(released)  # with any lease an earlier test of this process left held
    assert all(lease_holder(path) is None for path in paths)
    assert all(is_interrupted(StatusFile(path).read(), read_lease_view(path)) for path in paths)
    resume.set()
    for thread, outcome in running:
        thread.join(WAIT)
        assert isinstance(outcome.get("error"), LeaseLostError), outcome
        assert "released while the step ran" in str(outcome["error"])  # said, not blamed on a stall alone
    assert all(StatusFile(path).read() == STATUS_RUNNING and not Artifact.exists(path) for path in paths)
    assert release_all() == []


def test_a_step_running_elsewhere_is_not_interrupted(prefix: str) -> None:
    out = f"{prefix}/step"
    entered, resume = threading.Event(), threading.Event()

    def fn(path: str) -> int:
        entered.set()
        assert resume.wait(WAIT)
        return 1

    thread, _ = start(disk_cached, distributed_lock(fn), out)
    try:
        assert entered.wait(WAIT)
        view = read_lease_view(out)
        assert not is_interrupted(StatusFile(out).read(), view)
        assert (view.state, view.host is not None, view.pid is not None) == (LIVE, True, True)
    finally:
        resume.set()
        thread.join(WAIT)
    assert read_lease_view(out).state == FREE
