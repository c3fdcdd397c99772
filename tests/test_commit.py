"""Exactly once under real faults (DESIGN §5a, issue 10): a save longer than the lease timeout, racing workers.

Other workers are real threads and real processes (forked from a forkserver); ``gs://`` is the fake-gcs-server of
tests/conftest_stores.py. Every execution of a step's function appends one line to a local file (``O_APPEND``), which
is how executions are counted on any backend.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from marin_exec import Artifact, disk_cached, distributed_lock
from marin_exec.runtime.commit import fenced
from marin_exec.storage.store import store_for

from .forkserver import race_in_threads, record_execution, worker_context

WAIT = 30.0  # bound for events that come within a second; only reached when a test fails
RESULT = {"value": 1}
RACERS = 3
# Issue 10, item 1: with the lease mutex held through save(), a 1.2 s save starved the heartbeat of a 0.6 s lease.
SLOW_SAVE = {"save_seconds": 1.2, "heartbeat_interval": 0.1, "lease_timeout": 0.6}


def _slow_save_step(output_path: str, executions: str, save_seconds: float, **timings: float) -> Any:
    """One worker's disk_cached(distributed_lock(fn)) whose save takes ``save_seconds`` after the artifact write."""

    def compute(path: str) -> dict[str, Any]:
        record_execution(executions)
        return RESULT

    def slow_save(result: Any, path: str) -> None:
        with fenced(path):
            Artifact.save(result, path)
        time.sleep(save_seconds)  # the slow part of a real save (a checkpoint upload), not a synchronisation

    return disk_cached(distributed_lock(compute, **timings), output_path, save=slow_save, load=Artifact.load)


def _root(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return str(tmp_path / "prefix") if kind == "local" else request.getfixturevalue("gcs_bucket")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", ["local", "gs"])
def test_racing_threads_run_a_step_whose_save_outlasts_the_lease_timeout_once(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str
) -> None:
    out, executions = f"{_root(kind, request, tmp_path)}/slow-save", str(tmp_path / "executions.log")
    results = race_in_threads(RACERS, lambda: _slow_save_step(out, executions, **SLOW_SAVE), timeout=60)
    assert len(Path(executions).read_text().splitlines()) == 1
    assert results == [RESULT] * RACERS


def _race_in_process(output_path: str, executions: str, emulator: str, barrier: Any, results: Any) -> None:
    os.environ["STORAGE_EMULATOR_HOST"] = emulator  # the forkserver may predate the test's environment
    store_for(output_path).read(f"{output_path}/.warm-up")  # import the store's client (seconds) before racing
    barrier.wait(timeout=60)
    try:
        results.put(_slow_save_step(output_path, executions, **SLOW_SAVE))
    except BaseException as error:
        results.put(repr(error))


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", ["local", "gs"])
def test_racing_processes_run_a_step_whose_save_outlasts_the_lease_timeout_once(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str
) -> None:
    out, executions = f"{_root(kind, request, tmp_path)}/slow-save", str(tmp_path / "executions.log")
    context = worker_context(__name__)
    barrier, results = context.Barrier(RACERS), context.Queue()
    emulator = os.environ.get("STORAGE_EMULATOR_HOST", "")
    workers = [
        context.Process(target=_race_in_process, args=(out, executions, emulator, barrier, results))
        for _ in range(RACERS)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=90) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    assert len(Path(executions).read_text().splitlines()) == 1
    assert outcomes == [RESULT] * RACERS
