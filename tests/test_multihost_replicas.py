"""Multi-host steps' followers (DESIGN §7): no SUCCESS before every replica ended well, and no follower runs the
user function while another run holds the step's lease. Real 3-task jobs on the in-process Iris cluster."""

from __future__ import annotations

import functools
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from fray.types import ResourceConfig

from marin_exec import STATUS_SUCCESS, Artifact, StatusFile, StepRunner, StepSpec
from marin_exec.errors import StepsFailed
from marin_exec.status.lease_record import parse_record
from marin_exec.status.status import LOCK_FILENAME, STATUS_FAILED, STATUS_RUNNING, Lease

REPLICAS = 3
_BARRIER_TIMEOUT = 30.0  # a replica left alone fails (a bound, not a measurement)
# How long a follower, or the test, gives the other side to show a wrong move before going on: waits that end early
# when the wrong move shows, and end as a pass only when it never comes (a bound, not a measurement).
_CHANCE = 3.0


def _task_index() -> int:
    return int(os.environ.get("IRIS_TASK_ID", "/0").rsplit("/", 1)[-1].split(":")[0])


def _meet(barrier_dir: str, output_path: str) -> None:
    """Arrive at the barrier, noting who holds the step's lease now, and wait until every replica has."""
    os.makedirs(barrier_dir, exist_ok=True)
    lock = Path(output_path, LOCK_FILENAME)
    record = parse_record(lock.read_bytes()) if lock.exists() else None
    holder = record.get("worker_id") if record else None
    Path(barrier_dir, f"{_task_index()}.json").write_text(json.dumps({"holder": holder}))
    deadline = time.monotonic() + _BARRIER_TIMEOUT
    while len(os.listdir(barrier_dir)) < REPLICAS:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(os.listdir(barrier_dir))} of {REPLICAS} replicas arrived")
        time.sleep(0.05)


def follower_fails_late(barrier_dir: str, output_path: str) -> dict:
    """Every replica meets; then the followers fail, after task 0's call returned (and after its SUCCESS, if task 0
    commits without waiting for them)."""
    _meet(barrier_dir, output_path)
    if _task_index() != 0:
        deadline = time.monotonic() + _CHANCE
        while StatusFile(output_path).read() != STATUS_SUCCESS and time.monotonic() < deadline:
            time.sleep(0.05)
        raise RuntimeError("lost shard 1 while writing it")
    return {"task": _task_index()}


def meet(barrier_dir: str, output_path: str) -> dict:
    _meet(barrier_dir, output_path)
    return {"task": _task_index()}


def _spec(tmp_path: Path, fn: Any) -> StepSpec:
    return StepSpec(
        name="models/multihost",
        fn=functools.partial(fn, str(tmp_path / "barrier")),
        resources=ResourceConfig.with_cpu(cpu=1, ram="1g", disk="1g", replicas=REPLICAS),
        output_path_prefix=str(tmp_path / "runs"),
    )


def test_a_follower_that_fails_after_task_0_returned_fails_the_step(iris_cluster: Any, tmp_path: Path) -> None:
    from fray.iris_backend import FrayIrisClient

    spec = _spec(tmp_path, follower_fails_late)
    with pytest.raises(StepsFailed):
        StepRunner(client=FrayIrisClient.from_iris_client(iris_cluster)).run([spec])

    assert StatusFile(spec.output_path).read() == STATUS_FAILED  # never SUCCESS without every host's output
    assert not Artifact.exists(spec.output_path)
    error = Path(spec.output_path, ".executor_error").read_text()
    assert "lost shard 1 while writing it" in error and "not committed" in error


def _foreign_lease(output_path: str) -> Lease:
    """Another run's task 0 holding the step's lease, its step RUNNING."""
    os.makedirs(output_path, exist_ok=True)
    lease = Lease(output_path, timeout=600, owner="another-run-task0")
    assert lease.try_acquire()
    StatusFile(output_path).write(STATUS_RUNNING)
    return lease


def _submit_and_give_followers_a_chance(iris_cluster: Any, spec: StepSpec, barrier: Path) -> Any:
    """Submit the step's job while another run holds its lease; return once every task runs and the followers had
    the chance to start the function (they show it by arriving at the barrier)."""
    from fray.iris_backend import FrayIrisClient
    from iris.cluster.types import JobName

    from marin_exec.runtime.fray_job import build_job_request

    request = build_job_request(spec.executable_fn, (spec.output_path,))
    handle = FrayIrisClient.from_iris_client(iris_cluster).submit(request, adopt_existing=False)
    job = JobName.from_wire(handle.job_id)
    deadline = time.monotonic() + 60
    while sum(str(task.state) == "running" for task in iris_cluster.list_tasks(job)) < REPLICAS:
        assert time.monotonic() < deadline, "the job's tasks never all ran"
        time.sleep(0.1)
    deadline = time.monotonic() + _CHANCE
    while time.monotonic() < deadline and not (barrier.exists() and os.listdir(barrier)):
        time.sleep(0.05)
    return handle


def test_followers_wait_for_their_own_task_0_not_another_runs_lease(iris_cluster: Any, tmp_path: Path) -> None:
    spec = _spec(tmp_path, meet)
    other = _foreign_lease(spec.output_path)
    handle = _submit_and_give_followers_a_chance(iris_cluster, spec, tmp_path / "barrier")
    other.release()  # the other run ends without finishing the step: this job's task 0 takes it over
    handle.wait(raise_on_failure=True)

    holders = [json.loads(p.read_text())["holder"] for p in (tmp_path / "barrier").iterdir()]
    assert len(holders) == REPLICAS
    assert all(holder and "another-run" not in holder and handle.job_id in holder for holder in holders)
    assert StatusFile(spec.output_path).read() == STATUS_SUCCESS


def test_followers_end_without_running_when_another_run_finishes_the_step(iris_cluster: Any, tmp_path: Path) -> None:
    spec = _spec(tmp_path, meet)
    other = _foreign_lease(spec.output_path)
    handle = _submit_and_give_followers_a_chance(iris_cluster, spec, tmp_path / "barrier")
    Artifact.save({"task": "other run"}, spec.output_path)
    StatusFile(spec.output_path).write(STATUS_SUCCESS)
    other.release()
    handle.wait(raise_on_failure=True)  # task 0 finds it done (StepAlreadyDone) and the followers end too

    assert not (tmp_path / "barrier").exists()  # no replica ran the function
    assert Artifact.load(spec.output_path) == {"task": "other run"}


def follower_crashes(barrier_dir: str, output_path: str) -> dict:
    _meet(barrier_dir, output_path)
    if _task_index() != 0:
        os._exit(3)  # no marker, no error record: the host is gone
    return {"task": _task_index()}


def test_a_follower_that_crashes_hard_fails_the_step_without_hanging_task_0(iris_cluster: Any, tmp_path: Path) -> None:
    from fray.iris_backend import FrayIrisClient

    spec = _spec(tmp_path, follower_crashes)
    with pytest.raises(StepsFailed):
        StepRunner(client=FrayIrisClient.from_iris_client(iris_cluster)).run([spec])
    assert StatusFile(spec.output_path).read() != STATUS_SUCCESS
    assert not Artifact.exists(spec.output_path)
