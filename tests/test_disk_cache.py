"""disk_cached (DESIGN §3, §5): SUCCESS is written last, after save; FAILED when fn raises; a hit loads (or calls fn
again without load); and, through the commit scope, disk_cached(distributed_lock(fn)) runs fn exactly once however
many workers race, and commits nothing once its lease was taken over.

Racing workers are real threads and real processes (multiprocessing "forkserver"); a worker that takes a lease over is
simulated by writing the lease file as a local take-over does.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from marin_exec import (
    STATUS_FAILED,
    STATUS_SUCCESS,
    Artifact,
    LeaseLostError,
    PreviousStepFailed,
    StatusFile,
    StepAlreadyDone,
    disk_cached,
    distributed_lock,
    worker_id,
)
from tests.test_distributed_lock import Calls, heartbeat_gives_up, lease_holder, write_lease

from .forkserver import race_in_threads, record_execution, worker_context

RACERS = 8
RESULT = {"loss": 0.25, "steps": 100}


def _unexpected(path: str) -> Any:
    raise AssertionError(f"fn ran for {path}, which should have been left alone")


def test_save_runs_before_success_is_written(prefix: str) -> None:
    out = f"{prefix}/step"
    status_during_save: list[str | None] = []

    def save(result: Any, path: str) -> None:
        status_during_save.append(StatusFile(path).read())
        Artifact.save(result, path)

    assert disk_cached(lambda path: RESULT, out, save=save) == RESULT
    assert status_during_save == [None]
    assert StatusFile(out).read() == STATUS_SUCCESS


def test_no_success_is_written_when_save_raises(prefix: str) -> None:
    out = f"{prefix}/step"

    def save(result: Any, path: str) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        disk_cached(lambda path: RESULT, out, save=save)
    assert StatusFile(out).read() != STATUS_SUCCESS


def test_fn_raising_writes_failed_and_reraises(prefix: str) -> None:
    out = f"{prefix}/step"
    with pytest.raises(ValueError, match="boom"):
        disk_cached(Calls(error=ValueError("boom")), out)
    assert StatusFile(out).read() == STATUS_FAILED


def test_a_hit_returns_what_load_returns_without_calling_fn(prefix: str) -> None:
    out = f"{prefix}/step"
    Artifact.save(RESULT, out)
    StatusFile(out).write(STATUS_SUCCESS)
    assert disk_cached(_unexpected, out, save=Artifact.save, load=Artifact.load) == RESULT


def test_a_hit_without_load_calls_fn_again_to_read_its_own_output(prefix: str) -> None:
    out = f"{prefix}/step"
    Path(out).mkdir()
    Path(out, "data.txt").write_text("written by an earlier run")
    StatusFile(out).write(STATUS_SUCCESS)
    assert disk_cached(lambda path: Path(path, "data.txt").read_text(), out) == "written by an earlier run"


def test_a_hit_of_a_locked_fn_without_load_returns_none(prefix: str) -> None:
    out = f"{prefix}/step"
    StatusFile(out).write(STATUS_SUCCESS)
    assert disk_cached(distributed_lock(_unexpected), out) is None


def test_step_already_done_from_fn_returns_the_loaded_result_and_writes_no_status(prefix: str) -> None:
    out = f"{prefix}/step"
    Artifact.save(RESULT, out)  # another worker's commit, which fn's lock found after disk_cached looked

    def fn(path: str) -> Any:
        raise StepAlreadyDone(f"{path}: already succeeded")

    assert disk_cached(fn, out, load=Artifact.load) == RESULT
    assert StatusFile(out).read() is None


def test_the_inner_lock_keeps_its_lease_until_success_is_written(prefix: str) -> None:
    out = f"{prefix}/step"
    holders_during_save: list[str | None] = []

    def save(result: Any, path: str) -> None:
        holders_during_save.append(lease_holder(path))

    disk_cached(distributed_lock(lambda path: RESULT), out, save=save)
    assert len(holders_during_save) == 1 and holders_during_save[0].startswith(worker_id())
    assert lease_holder(out) is None
    assert StatusFile(out).read() == STATUS_SUCCESS


def test_a_locked_fn_that_raises_records_failed_and_releases_the_lease(prefix: str) -> None:
    out = f"{prefix}/step"
    with pytest.raises(ValueError, match="boom"):
        disk_cached(distributed_lock(Calls(error=ValueError("boom"))), out)
    assert StatusFile(out).read() == STATUS_FAILED
    assert lease_holder(out) is None


# Racing workers. Each runs the full chain; fn appends one line per execution to a shared file (O_APPEND, so lines
# from threads and processes never interleave) and save sleeps, widening the gap between fn returning and SUCCESS.


def _racing_worker(output_path: str, executions: str) -> Any:
    def compute(path: str) -> dict[str, Any]:
        record_execution(executions)
        return RESULT

    def slow_save(result: Any, path: str) -> None:
        time.sleep(0.05)
        Artifact.save(result, path)

    return disk_cached(distributed_lock(compute), output_path, save=slow_save, load=Artifact.load)


@pytest.mark.parametrize("filesystem", ["local", "memory"])
def test_racing_threads_run_fn_exactly_once_and_all_get_the_result(
    prefix: str, tmp_path: Path, filesystem: str
) -> None:
    out = f"{prefix}/step" if filesystem == "local" else f"memory://marin-exec-tests/{uuid.uuid4().hex}/step"
    executions = str(tmp_path / "executions.log")
    results = race_in_threads(RACERS, lambda: _racing_worker(out, executions), timeout=30)
    assert len(Path(executions).read_text().splitlines()) == 1
    assert results == [RESULT] * RACERS


def _race_in_process(output_path: str, executions: str, barrier: Any, results: Any) -> None:
    barrier.wait(timeout=60)
    try:
        results.put(_racing_worker(output_path, executions))
    except BaseException as error:
        results.put(repr(error))


@pytest.mark.timeout(120)
def test_racing_processes_run_fn_exactly_once_and_all_get_the_result(prefix: str, tmp_path: Path) -> None:
    out, executions = f"{prefix}/step", str(tmp_path / "executions.log")
    context = worker_context(__name__)
    barrier = context.Barrier(RACERS)
    results = context.Queue()
    processes = [
        context.Process(target=_race_in_process, args=(out, executions, barrier, results)) for _ in range(RACERS)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=90) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    assert len(Path(executions).read_text().splitlines()) == 1
    assert outcomes == [RESULT] * RACERS


def test_a_lease_taken_over_while_fn_runs_commits_nothing_over_the_new_holder(prefix: str, fast_leases: Any) -> None:
    out = f"{prefix}/step"
    noticed: list[bool] = []
    saved: list[Any] = []

    def fn(path: str) -> Any:
        write_lease(path, "new-holder")
        noticed.append(heartbeat_gives_up(path))  # the heartbeat beats every 0.05 s here
        return RESULT

    with pytest.raises(LeaseLostError):
        disk_cached(distributed_lock(fn), out, save=lambda result, path: saved.append(result), load=Artifact.load)
    assert noticed == [True]
    assert saved == []
    assert StatusFile(out).read() not in (STATUS_SUCCESS, STATUS_FAILED)
    assert lease_holder(out) == "new-holder"


def test_a_lease_taken_over_before_the_heartbeat_noticed_is_caught_by_the_fenced_commit(prefix: str) -> None:
    out = f"{prefix}/step"  # default run settings: the heartbeat does not beat during this test
    saved: list[Any] = []

    def fn(path: str) -> Any:
        write_lease(path, "new-holder")
        return RESULT

    with pytest.raises(LeaseLostError):
        disk_cached(distributed_lock(fn), out, save=lambda result, path: saved.append(result), load=Artifact.load)
    assert saved == []
    assert StatusFile(out).read() not in (STATUS_SUCCESS, STATUS_FAILED)
    assert lease_holder(out) == "new-holder"


def test_a_locked_fn_failing_after_its_lease_was_taken_over_does_not_record_failed(
    prefix: str, fast_leases: Any
) -> None:
    out = f"{prefix}/step"

    def fn(path: str) -> Any:
        write_lease(path, "new-holder")
        assert heartbeat_gives_up(path)
        raise ValueError("the step's own error")

    with pytest.raises(LeaseLostError):
        disk_cached(distributed_lock(fn), out)
    assert StatusFile(out).read() != STATUS_FAILED
    assert lease_holder(out) == "new-holder"


def test_a_worker_whose_lock_refused_the_step_writes_no_status(prefix: str) -> None:
    out = f"{prefix}/step"
    StatusFile(out).write(STATUS_FAILED)
    status_file = Path(out, ".executor_status")
    before = status_file.stat().st_ino  # every status write replaces the file
    with pytest.raises(PreviousStepFailed):
        disk_cached(distributed_lock(_unexpected, force_run_failed=False), out)
    assert status_file.stat().st_ino == before
