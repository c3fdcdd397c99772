"""Steps with resources, run by StepRunner as Fray jobs: on Fray's LocalClient and on an in-process Iris cluster.

Iris jobs cost about 1.3 s each, so the Iris side is kept to a handful of jobs: one pipeline run is shared by
the tests that only read what it left behind.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import fray
import pytest
from fray import ResourceConfig

from marin_exec import (
    STATUS_FAILED,
    STATUS_RUNNING,
    STATUS_SUCCESS,
    Artifact,
    Lease,
    LeaseLostError,
    RemoteStepFailed,
    RunReport,
    StatusFile,
    StepRunner,
    StepsFailed,
    StepSpec,
    current_run_settings,
    worker_id,
)
from marin_exec.run.render import render_summary
from marin_exec.runtime.commit import scope_for
from marin_exec.runtime.fray_job import build_job_request
from marin_exec.runtime.step_job import write_info
from marin_exec.status.status import LOCK_FILENAME
from tests.hooked_store import PROTOCOL, HookedLocalStore, hooked_store

# -- step functions (module level: Iris workers unpickle them) -----------------------------------------------


def report_where_it_ran(output_path: str) -> dict:
    """Says which process ran the step, and what that process holds for the output path while it runs."""
    holder = Lease(output_path, timeout=float("inf")).holder() or {}
    return {
        "pid": os.getpid(),
        "worker_id": worker_id(),
        "lease_holder": holder.get("worker_id"),
        "status_while_running": StatusFile(output_path).read(),
        "inside_commit_scope": scope_for(output_path) is not None,
    }


def fail_in_worker(output_path: str) -> None:
    raise ValueError("tokenizer vocabulary is empty")


def read_stage_env_var(output_path: str) -> dict:
    return {"stage": os.environ.get("MARIN_EXEC_TEST_STAGE")}


def record_run_settings(output_path: str) -> dict:
    settings = current_run_settings()
    return {
        "force_run_failed": settings.force_run_failed,
        "heartbeat_interval": settings.heartbeat_interval,
        "lease_timeout": settings.lease_timeout,
    }


def append_call(log_path: str, output_path: str) -> None:
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, f"{os.getpid()} computed {output_path}\n".encode())
    finally:
        os.close(fd)


def write_marker(output_path: str) -> None:
    os.makedirs(output_path, exist_ok=True)
    with open(os.path.join(output_path, "data.txt"), "w") as f:
        f.write("tokens")


# -- a real Fray client behind a thin recorder ----------------------------------------------------------------


class RecordingClient:
    """Delegates to a real Fray client; each ``submit`` first records what exists at the watched paths.

    With a barrier, every submission waits for the others before it is delegated, so runners that all decided
    to run a step really do all submit it before any job starts.
    """

    def __init__(self, inner: Any, *, watch: tuple[str, ...] = (), barrier: threading.Barrier | None = None):
        self.inner = inner
        self.watch = watch
        self.barrier = barrier
        self.submissions: list[dict[str, list[str] | None]] = []
        self._lock = threading.Lock()

    def submit(self, request: Any, adopt_existing: bool = True) -> Any:
        seen = {path: sorted(os.listdir(path)) if os.path.exists(path) else None for path in self.watch}
        with self._lock:
            self.submissions.append(seen)
        if self.barrier is not None:
            self.barrier.wait()
        return self.inner.submit(request, adopt_existing=adopt_existing)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _make_client(backend: str, request: pytest.FixtureRequest) -> Any:
    if backend == "local":
        return fray.LocalClient(max_threads=4)
    from fray.iris_backend import FrayIrisClient

    return FrayIrisClient.from_iris_client(request.getfixturevalue("iris_cluster"))


@pytest.fixture(params=["local", "iris"])
def fray_client(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A real Fray client per backend, given to StepRunner explicitly (fray's current client is left unset)."""
    client = _make_client(request.param, request)
    yield client
    if request.param == "local":
        client.shutdown(wait=True)


@pytest.fixture
def iris_client(iris_cluster: Any) -> Any:
    from fray.iris_backend import FrayIrisClient

    return FrayIrisClient.from_iris_client(iris_cluster)


@pytest.fixture
def local_client() -> Iterator[fray.LocalClient]:
    client = fray.LocalClient(max_threads=4)
    yield client
    client.shutdown(wait=True)


# -- one pipeline run per backend, shared by the tests that read what it left ---------------------------------


@dataclass
class PipelineRun:
    backend: str
    upstream: StepSpec
    downstream: StepSpec
    client: RecordingClient
    report: RunReport


@pytest.fixture(scope="module", params=["local", "iris"])
def ran_pipeline(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PipelineRun]:
    """A remote step and a local step that reads its artifact, run once through a recording client."""
    prefix = str(tmp_path_factory.mktemp(f"pipeline-{request.param}"))
    upstream = StepSpec(
        name="remote/where", fn=report_where_it_ran, resources=ResourceConfig.with_cpu(), output_path_prefix=prefix
    )

    def consume(output_path: str) -> dict:
        return {"upstream_pid": Artifact.load(upstream.output_path)["pid"]}

    downstream = StepSpec(name="local/consume", fn=consume, deps=[upstream], output_path_prefix=prefix)
    inner = _make_client(request.param, request)
    client = RecordingClient(inner, watch=(upstream.output_path,))
    report = StepRunner(client=client).run([downstream])
    yield PipelineRun(request.param, upstream, downstream, client, report)
    if request.param == "local":
        inner.shutdown(wait=True)


def test_a_local_step_reads_the_artifact_a_remote_step_saved(ran_pipeline):
    upstream_result = Artifact.load(ran_pipeline.upstream.output_path)
    assert Artifact.load(ran_pipeline.downstream.output_path) == {"upstream_pid": upstream_result["pid"]}
    assert [o.state for o in ran_pipeline.report.outcomes.values()] == ["ran", "ran"]


def test_nothing_exists_at_the_output_path_when_the_job_is_submitted(ran_pipeline):
    assert ran_pipeline.client.submissions[0] == {ran_pipeline.upstream.output_path: None}
    assert ran_pipeline.upstream.read_status() == STATUS_SUCCESS


def test_a_cached_remote_step_submits_no_job_when_the_pipeline_runs_again(ran_pipeline):
    submitted_before = len(ran_pipeline.client.submissions)
    both = iter([ran_pipeline.upstream, ran_pipeline.downstream])  # each asked for: neither is pruned unread
    report = StepRunner(client=ran_pipeline.client).run(both)
    assert len(ran_pipeline.client.submissions) == submitted_before
    assert [o.state for o in report.outcomes.values()] == ["cached", "cached"]


@pytest.mark.parametrize("ran_pipeline", ["iris"], indirect=True)
def test_on_iris_the_lock_and_the_commit_run_in_the_worker_process(ran_pipeline):
    where = Artifact.load(ran_pipeline.upstream.output_path)
    assert where["pid"] != os.getpid()
    assert where["lease_holder"].startswith(where["worker_id"])  # distributed_lock took the lease in the worker
    assert f"-{where['pid']}-" in where["worker_id"]
    assert where["status_while_running"] == STATUS_RUNNING
    assert where["inside_commit_scope"]  # disk_cached wrapped the call in the same process


# -- failures -------------------------------------------------------------------------------------------------


def test_a_remote_failure_is_steps_failed_from_remote_step_failed_with_the_workers_error(fray_client, prefix):
    spec = StepSpec(name="tokenized/broken", fn=fail_in_worker, resources=ResourceConfig.with_cpu())
    with pytest.raises(StepsFailed) as caught:
        StepRunner(client=fray_client).run([spec])
    assert spec.name_with_hash in str(caught.value)
    cause = caught.value.__cause__
    assert isinstance(cause, RemoteStepFailed)
    assert cause.job_id is not None and "tokenized-broken-" in cause.job_id
    assert cause.worker_error is not None and "ValueError: tokenizer vocabulary is empty" in cause.worker_error
    assert cause.job_id in str(cause)
    assert spec.read_status() == STATUS_FAILED


# -- exactly once across runners ------------------------------------------------------------------------------


def test_two_runners_starting_the_same_remote_step_compute_it_once(fray_client, prefix, tmp_path):
    log = tmp_path / "calls.log"
    client = RecordingClient(fray_client, barrier=threading.Barrier(2, timeout=60))

    def launch() -> RunReport:
        spec = StepSpec(name="shared/once", fn=functools.partial(append_call, str(log)), resources=ResourceConfig())
        return StepRunner(client=client).run([spec])

    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(launch) for _ in range(2)]
        reports = [future.result() for future in futures]
    assert len(client.submissions) == 2  # both runners found the step not done and submitted a job
    assert len(log.read_text().splitlines()) == 1
    assert all(report.count("ran") == 1 for report in reports)


# -- what reaches an Iris job ---------------------------------------------------------------------------------


def test_env_vars_of_a_step_spec_reach_the_iris_worker(iris_client, prefix, monkeypatch):
    monkeypatch.delenv("MARIN_EXEC_TEST_STAGE", raising=False)
    spec = StepSpec(
        name="probe/env",
        fn=read_stage_env_var,
        resources=ResourceConfig.with_cpu(),
        env_vars={"MARIN_EXEC_TEST_STAGE": "tokenize"},
    )
    StepRunner(client=iris_client).run([spec])
    assert Artifact.load(spec.output_path) == {"stage": "tokenize"}


def test_run_settings_given_to_the_runner_are_in_force_inside_the_iris_job(iris_client, prefix):
    spec = StepSpec(name="probe/settings", fn=record_run_settings, resources=ResourceConfig.with_cpu())
    StepRunner(client=iris_client).run([spec], force_run_failed=False, heartbeat_interval=0.2, lease_timeout=0.7)
    assert Artifact.load(spec.output_path) == {
        "force_run_failed": False,
        "heartbeat_interval": 0.2,
        "lease_timeout": 0.7,
    }


def test_a_step_function_from_a_user_package_is_imported_by_the_iris_worker(iris_client, workspace_user_module, prefix):
    spec = StepSpec(name="user/where", fn=workspace_user_module.where_step_ran, resources=ResourceConfig.with_cpu())
    StepRunner(client=iris_client).run([spec])
    where = Artifact.load(spec.output_path)
    assert where["running_in_pid"] != os.getpid()
    assert where["imported_in_pid"] == where["running_in_pid"]  # imported by the worker, not shipped by value
    assert where["module_file"] == workspace_user_module.__file__


# -- which client gets the jobs -------------------------------------------------------------------------------


def _independent_remote_steps(count: int) -> list[StepSpec]:
    return [
        StepSpec(name=f"shard/{i}", fn=write_marker, resources=ResourceConfig.with_cpu(), hash_attrs={"i": i})
        for i in range(count)
    ]


def test_every_remote_step_of_a_run_goes_to_the_runners_client(local_client, prefix):
    given = RecordingClient(local_client)
    elsewhere = RecordingClient(local_client)
    with fray.set_current_client(elsewhere):
        StepRunner(client=given).run(_independent_remote_steps(3), max_concurrent=3)
    assert (len(given.submissions), len(elsewhere.submissions)) == (3, 0)


def test_without_a_client_the_remote_steps_of_a_run_share_one_default_client(prefix, monkeypatch):
    submitted_to: list[Any] = []
    real_submit = fray.LocalClient.submit

    def spy(self: fray.LocalClient, request: Any, adopt_existing: bool = True) -> Any:
        submitted_to.append(self)
        return real_submit(self, request, adopt_existing=adopt_existing)

    monkeypatch.setattr(fray.LocalClient, "submit", spy)
    StepRunner().run(_independent_remote_steps(3), max_concurrent=3)
    assert len(submitted_to) == 3
    assert all(client is submitted_to[0] for client in submitted_to)


# -- dependency groups (nothing submitted) --------------------------------------------------------------------


@pytest.mark.parametrize(("groups", "extras"), [(None, ["tpu"]), (["eval"], ["eval"]), ([], [])])
def test_a_tpu_step_installs_the_tpu_extra_unless_it_names_its_own_groups(prefix, groups, extras):
    spec = StepSpec(
        name="train/tpu",
        fn=write_marker,
        resources=ResourceConfig.with_tpu("v5litepod-16"),
        pip_dependency_groups=groups,
    )
    request = build_job_request(spec.executable_fn, (spec.output_path,))  # type: ignore[arg-type]
    assert request.environment is not None
    assert list(request.environment.extras) == extras


# -- a lost lease ends the job -----------------------------------------------------------------------------------


def overstay(output_path: str) -> None:
    """A step that runs ~20 s unless its job is ended; it leaves markers so the test can see how far it got."""
    import pathlib
    import time

    pathlib.Path(output_path, "started").write_text(str(os.getpid()))
    for _ in range(400):
        time.sleep(0.05)
    pathlib.Path(output_path, "finished").write_text("yes")


def test_an_iris_job_whose_lease_is_taken_over_ends_at_once_and_commits_nothing(iris_client, prefix):
    import json
    import pathlib
    import time

    spec = StepSpec(name="probe/overstay", fn=overstay, resources=ResourceConfig.with_cpu())

    def take_the_lease_once_the_step_runs() -> None:
        started = pathlib.Path(spec.output_path, "started")
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        lock = pathlib.Path(spec.output_path, ".executor_status.lock")
        intruder = lock.with_name("lease.intruder")
        intruder.write_text(json.dumps({"worker_id": "another-worker", "timestamp": time.time() + 3600}))
        os.replace(intruder, lock)  # another worker took the step over (as after a stall past the timeout)

    intruder = threading.Thread(target=take_the_lease_once_the_step_runs)
    intruder.start()
    with pytest.raises(StepsFailed) as info:
        StepRunner(client=iris_client).run([spec], heartbeat_interval=0.1, lease_timeout=30)
    intruder.join()
    assert isinstance(info.value.__cause__, LeaseLostError)
    assert not pathlib.Path(spec.output_path, "finished").exists()  # the job was ended, not left to run 20 s
    assert spec.read_status() != "SUCCESS" and not Artifact.exists(spec.output_path)


# -- a lease held elsewhere: wait before submitting --------------------------------------------------------------


def _other_worker_holds(spec: StepSpec) -> Any:
    lease = Lease(spec.output_path, timeout=60)  # its own owner id: another worker, as far as the runner knows
    assert lease.try_acquire()
    return lease


def _start_run(runner: StepRunner, spec: StepSpec, store: HookedLocalStore) -> tuple[Any, bool]:
    """Run ``spec`` on a thread; return a way to get its report, and whether it reached the wait before submitting
    (its second read of the lease file: the first finds the holder, the next ones wait for it to leave)."""
    lease_reads: list[None] = []
    waiting = threading.Event()

    def count_lease_read() -> None:
        lease_reads.append(None)
        if len(lease_reads) >= 2:
            waiting.set()

    store.on_read[LOCK_FILENAME] = count_lease_read
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.setdefault("report", runner.run([spec])), daemon=True)
    thread.start()
    reached = waiting.wait(timeout=30)
    del store.on_read[LOCK_FILENAME]

    def report() -> Any:
        thread.join(timeout=60)
        return result["report"]

    return report, reached


def _run_while_held_elsewhere(name: str, local_client: Any, tmp_path: Any) -> tuple[StepSpec, Any, Any, Any]:
    """A resourced step whose lease another worker holds, run on a thread up to its wait before submitting."""
    store = hooked_store()
    spec = StepSpec(
        name=name,
        fn=report_where_it_ran,
        resources=ResourceConfig.with_cpu(),
        output_path_prefix=f"{PROTOCOL}://{tmp_path}",
    )
    client = RecordingClient(local_client)
    lease = _other_worker_holds(spec)
    return spec, client, lease, _start_run(StepRunner(client=client), spec, store)


def test_a_resourced_step_whose_lease_is_held_elsewhere_submits_no_job_if_the_holder_finishes_it(
    local_client, tmp_path
):
    spec, client, lease, (report_of, waiting) = _run_while_held_elsewhere("held/finished", local_client, tmp_path)
    assert waiting and client.submissions == []  # the runner waits here, not in a job holding hardware
    Artifact.save({"where": "the other worker"}, spec.output_path)  # the other worker commits and releases
    StatusFile(spec.output_path).write("SUCCESS")
    lease.release()
    report = report_of()
    assert client.submissions == []
    assert report.outcomes[spec.output_path].state == "ran"
    assert Artifact.load(spec.output_path) == {"where": "the other worker"}


def test_a_resourced_step_whose_holder_gives_up_is_submitted_once_the_lease_is_free(local_client, tmp_path):
    spec, client, lease, (report_of, waiting) = _run_while_held_elsewhere("held/abandoned", local_client, tmp_path)
    assert waiting and client.submissions == []
    lease.release()  # the other worker stopped without finishing
    report = report_of()
    assert len(client.submissions) == 1 and report.count("ran") == 1
    assert spec.read_status() == "SUCCESS"


# -- a lease taken after that check: the wait happens inside the job ----------------------------------------------


class LeaseTakenAtSubmit:
    """Delegates to a real Fray client; as the job is submitted (after the runner's check before submitting, before
    the job's own lock), another worker takes the step's lease, then commits the step and lets the lease go."""

    def __init__(self, inner: Any, spec: StepSpec):
        self.inner, self.spec = inner, spec
        self.other_worker: str | None = None

    def submit(self, request: Any, adopt_existing: bool = True) -> Any:
        lease = _other_worker_holds(self.spec)
        self.other_worker = lease.owner
        handle = self.inner.submit(request, adopt_existing=adopt_existing)
        Artifact.save({"where": "the other worker"}, self.spec.output_path)
        write_info(self.spec.output_path, {"worker_id": lease.owner})
        StatusFile(self.spec.output_path).write("SUCCESS")
        lease.release()
        return handle

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_job_that_finds_its_step_finished_by_another_worker_is_reported_so_and_not_as_ran_here(fray_client, prefix):
    spec = StepSpec(name="held/in-job", fn=report_where_it_ran, resources=ResourceConfig.with_cpu())
    client = LeaseTakenAtSubmit(fray_client, spec)

    report = StepRunner(client=client).run([spec], heartbeat_interval=0.1, lease_timeout=30)

    outcome = report.outcomes[spec.output_path]
    assert Artifact.load(spec.output_path) == {"where": "the other worker"}  # the job computed nothing
    assert outcome.finished_elsewhere and outcome.waited_for == client.other_worker
    assert render_summary(report).startswith("Summary: 0 ran here, 1 finished by another worker while we waited")
