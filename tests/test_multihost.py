"""Multi-host steps (DESIGN §7): a step whose resources have several replicas runs the user function on every
replica, under one lease (task 0's), and task 0 alone commits. Real multi-task jobs on the in-process Iris cluster;
the replicas meet at a file barrier, as JAX's hosts meet in one collective."""

from __future__ import annotations

import functools
import json
import os
import time
from pathlib import Path
from typing import Any

from fray.types import ResourceConfig

from marin_exec import STATUS_SUCCESS, Artifact, StatusFile, StepRunner, StepSpec
from marin_exec.run.run_report import StepState
from marin_exec.runtime.replicas import MARKERS_DIRNAME
from marin_exec.status.status import LOCK_FILENAME

REPLICAS = 3
_BARRIER_TIMEOUT = 120.0  # a replica left alone fails (a bound, not a measurement)


def meet_all_replicas(barrier_dir: str, replicas: int, output_path: str) -> dict:
    """Arrive at the barrier, wait until every replica has, then return who ran: a collective of ``replicas``."""
    os.makedirs(barrier_dir, exist_ok=True)
    Path(barrier_dir, f"{os.getpid()}.json").write_text(json.dumps({"task": os.environ.get("IRIS_TASK_ID")}))
    deadline = time.monotonic() + _BARRIER_TIMEOUT
    while len(os.listdir(barrier_dir)) < replicas:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(os.listdir(barrier_dir))} of {replicas} replicas arrived")
        time.sleep(0.05)
    return {"pid": os.getpid(), "task": os.environ.get("IRIS_TASK_ID")}


def _multihost_step(tmp_path: Path, prefix: str) -> StepSpec:
    return StepSpec(
        name="models/multihost",
        fn=functools.partial(meet_all_replicas, str(tmp_path / "barrier"), REPLICAS),
        resources=ResourceConfig.with_cpu(cpu=1, ram="1g", disk="1g", replicas=REPLICAS),
        output_path_prefix=prefix,
    )


def test_every_replica_runs_the_function_and_task_0_alone_commits(iris_cluster: Any, tmp_path: Path) -> None:
    from fray.iris_backend import FrayIrisClient

    spec = _multihost_step(tmp_path, str(tmp_path / "runs"))
    report = StepRunner(client=FrayIrisClient.from_iris_client(iris_cluster)).run([spec])

    arrived = [json.loads(p.read_text())["task"] for p in (tmp_path / "barrier").iterdir()]
    assert len(arrived) == REPLICAS and len(set(arrived)) == REPLICAS  # one process per replica
    assert sorted(task.rsplit("/", 1)[-1].split(":")[0] for task in arrived) == ["0", "1", "2"]
    artifact = Artifact.load(spec.output_path)
    assert artifact["task"].rsplit("/", 1)[-1].split(":")[0] == "0"  # the committed result is task 0's
    assert StatusFile(spec.output_path).read() == STATUS_SUCCESS
    assert not os.path.exists(os.path.join(spec.output_path, LOCK_FILENAME))  # the one lease was released
    assert not os.path.exists(os.path.join(spec.output_path, MARKERS_DIRNAME))  # followers' markers removed
    [outcome] = report.outcomes.values()
    assert outcome.state == StepState.RAN and not outcome.finished_elsewhere  # this run's job committed it


def test_replicas_of_a_step_that_already_succeeded_run_nothing(iris_cluster: Any, tmp_path: Path) -> None:
    from fray.iris_backend import FrayIrisClient

    from marin_exec.runtime.fray_job import build_job_request

    spec = _multihost_step(tmp_path, str(tmp_path / "runs"))
    StepRunner(client=FrayIrisClient.from_iris_client(iris_cluster)).run([spec])
    for marker in (tmp_path / "barrier").iterdir():
        marker.unlink()
    # A job submitted anyway (the runner's status check would skip it): no replica runs the function again.
    request = build_job_request(spec.executable_fn, (spec.output_path,))
    FrayIrisClient.from_iris_client(iris_cluster).submit(request, adopt_existing=False).wait()
    assert list((tmp_path / "barrier").iterdir()) == []
