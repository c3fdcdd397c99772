"""Exactly once, crash-safe: real worker processes race, crash, stall and lose their server, on local disk, gs, s3.

Workers are separate Python processes (tests/fault_workers.py) running ``StepRunner`` over the same DAG of chains and
diamonds; every execution of a step function is appended to a side file, so executions are counted on any backend.
Faults come from the test (SIGKILL, SIGSTOP/SIGCONT while a worker blocks at a chosen point holding its lease,
stopping the GCS server) or from a worker killing itself right after one commit stage. The test process itself
never patches marin_exec; workers only wrap a commit point to die or block there.

Sizes and timings: the full race (8 processes x 100 steps) runs in CI on local disk; on gs and s3 CI runs a smaller
race and the full one is marked slow (fake-gcs and especially moto, ~10 ms a request under load, make the full race
take tens of seconds on two cores). Races use a 2 s lease (10 s for the full s3 race, see RACES): no worker is meant
to lose its lease there. Crash and stall tests use a 0.5 s lease and a 0.1 s heartbeat. Extra-wait figures are
printed (run with -s), never asserted.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from marin_exec import (
    STATUS_RUNNING,
    STATUS_SUCCESS,
    Artifact,
    LeaseLostError,
    StatusFile,
    StepRunner,
    StepsFailed,
    StepSpec,
)
from marin_exec.status.status import LOCK_FILENAME, join
from marin_exec.storage.store import store_for
from tests.conftest_stores import start_gcs_server, use_gcs
from tests.fault_workers import (
    EXIT_LEASE_LOST,
    STAGES,
    VICTIM,
    Worker,
    WorkerSpec,
    build_dag,
    expected_values,
    read_executions,
    run_crash,
    run_race,
    run_stall,
    wait_for,
)

SHORT_LEASE = {"heartbeat_interval": 0.1, "lease_timeout": 0.5}
BUCKET_FIXTURES = {"gs": "gcs_bucket", "s3": "s3_bucket"}


@pytest.fixture(params=["local", "gs", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The root of a fresh output prefix on each backend."""
    if request.param == "local":
        root = tmp_path / "prefix"
        root.mkdir()
        return str(root)
    return request.getfixturevalue(BUCKET_FIXTURES[request.param])


@pytest.fixture
def spec_for(tmp_path: Path) -> Any:
    """Make a WorkerSpec on ``root`` (None: a local prefix) whose side records and signals live under tmp_path."""
    records, signals = tmp_path / "records", tmp_path / "signals"
    records.mkdir()
    signals.mkdir()

    def make(root: str | None, **changes: Any) -> WorkerSpec:
        if root is None:
            root = str(tmp_path / "prefix")
        spec = WorkerSpec(root=root, record_dir=str(records), signal_dir=str(signals), seed=uuid.uuid4().hex)
        return dataclasses.replace(spec, **changes)

    return make


def _committed(spec: WorkerSpec) -> dict[str, tuple[str | None, Any]]:
    """Step key -> (status, value in the artifact) as stored."""
    dag = build_dag(spec)
    return {key: (StatusFile(s.output_path).read(), _artifact(s.output_path).get("value")) for key, s in dag.items()}


def _artifact(output_path: str) -> dict[str, Any]:
    return Artifact.load(output_path) or {}


def _assert_dag_committed_correctly(spec: WorkerSpec) -> None:
    values = expected_values(spec.steps)
    committed = _committed(spec)
    wrong = {key: found for key, found in committed.items() if found != (STATUS_SUCCESS, values[key])}
    assert not wrong, f"steps not committed with the right value: {wrong}"
    for key, step in build_dag(spec).items():
        info = _read(join(step.output_path, ".executor_info"))
        assert info is not None and json.loads(info)["output_path"] == step.output_path, key


def _read(path: str) -> bytes | None:
    found = store_for(path).read(path)
    return None if found is None else found[0]


def _once_each_except(executions: dict[str, list[int]], steps: int, **expected: list[int]) -> None:
    """Every step of the DAG executed exactly once, except the keys given with their expected executing pids."""
    keys = set(expected_values(steps))
    wrong = {key: pids for key, pids in executions.items() if key not in expected and len(pids) != 1}
    assert set(executions) == keys, f"never executed: {sorted(keys - set(executions))}"
    assert not wrong, f"steps executed more than once (pids): {wrong}"
    for key, pids in expected.items():
        assert executions[key] == pids, f"{key}: executed by {executions[key]}, expected {pids}"


# -- 1. the race ----------------------------------------------------------------------------------------------------

# (backend, processes, steps, lease timeout). No worker should lose its lease in a race, so the lease outlasts the
# worst request latency: moto, flooded by 8 processes of polling waiters, answers in seconds (with a 2 s lease the
# full s3 race saw holders' refreshes arrive late, takeovers, and steps run twice; fencing kept the commits right).
RACES = [
    pytest.param("local", 8, 100, 2.0, id="local-8x100"),
    pytest.param("gs", 4, 30, 2.0, id="gs-4x30"),
    pytest.param("s3", 3, 8, 2.0, id="s3-3x8"),
    pytest.param("gs", 8, 100, 2.0, id="gs-8x100", marks=pytest.mark.slow(reason="~20 s on two cores")),
    pytest.param("s3", 8, 100, 10.0, id="s3-8x100", marks=pytest.mark.slow(reason="moto: about a minute")),
]


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("kind", "processes", "steps", "lease_timeout"), RACES)
def test_processes_racing_on_one_dag_execute_every_step_exactly_once(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    spec_for: Any,
    kind: str,
    processes: int,
    steps: int,
    lease_timeout: float,
) -> None:
    root = str(tmp_path / "prefix") if kind == "local" else request.getfixturevalue(BUCKET_FIXTURES[kind])
    spec = spec_for(root, steps=steps, heartbeat_interval=0.2, lease_timeout=lease_timeout)
    outcome = run_race(spec, processes, tmp_path)

    failed = [(r.returncode, r.report, r.log) for r in outcome.results if r.returncode != 0]
    assert not failed, failed
    _once_each_except(outcome.executions, steps)
    _assert_dag_committed_correctly(spec)
    leftover = [k for k, s in build_dag(spec).items() if _read(join(s.output_path, LOCK_FILENAME)) is not None]
    assert not leftover, f"lease files left behind: {leftover}"
    print(
        f"\nrace {kind} {processes}x{steps}: {outcome.seconds:.2f} s, takeovers {outcome.takeovers}, "
        f"extra wait after the holder's commit: {outcome.wait_summary()}"
    )


# -- 2. a crash while holding the lease ---------------------------------------------------------------------------

ON_EACH_BACKEND = [
    "local",
    "gs",
    pytest.param("s3", marks=pytest.mark.slow(reason="moto: ~10 s per scenario on two cores")),
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend", ON_EACH_BACKEND, indirect=True)
def test_a_worker_killed_while_holding_a_lease_is_taken_over_and_the_dag_completes(
    backend: str, spec_for: Any, tmp_path: Path
) -> None:
    spec = spec_for(backend, steps=20, **SHORT_LEASE)
    victim = build_dag(spec)[VICTIM].output_path
    outcome = run_crash(spec, tmp_path, between=lambda: StatusFile(victim).read())

    assert outcome.first.returncode == -signal.SIGKILL
    assert outcome.between == STATUS_RUNNING  # left behind by the killed worker
    assert outcome.second.returncode == 0, (outcome.second.report, outcome.second.log)
    assert outcome.second.takeovers == [VICTIM]
    _once_each_except(outcome.executions, 20, **{VICTIM: [outcome.first.pid, outcome.second.pid]})
    _assert_dag_committed_correctly(spec)


# -- 3. a stalled holder that wakes up after a takeover -------------------------------------------------------------


def _victim_files(spec: WorkerSpec) -> dict[str, bytes | None]:
    output = build_dag(spec)[VICTIM].output_path
    names = (".executor_status", ".artifact.json", ".executor_info", "data.json", LOCK_FILENAME)
    return {name: _read(join(output, name)) for name in names}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend", ON_EACH_BACKEND, indirect=True)
def test_a_stalled_holder_resumed_after_a_takeover_overwrites_nothing_and_ends_with_lease_lost(
    backend: str, spec_for: Any, tmp_path: Path
) -> None:
    spec = spec_for(backend, steps=20, **SHORT_LEASE)
    outcome = run_stall(spec, tmp_path, between=lambda: _victim_files(spec))

    assert outcome.second.returncode == 0, (outcome.second.report, outcome.second.log)
    assert outcome.second.takeovers == [VICTIM]
    assert outcome.first.returncode == EXIT_LEASE_LOST, (outcome.first.report, outcome.first.log)
    assert (outcome.first.report or {}).get("error_type") == LeaseLostError.__name__
    # Byte for byte: status, artifact, .executor_info (with its host and start/end times), outputs, and no lease.
    assert _victim_files(spec) == outcome.between
    _once_each_except(outcome.executions, 20, **{VICTIM: [outcome.first.pid, outcome.second.pid]})
    _assert_dag_committed_correctly(spec)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend", ON_EACH_BACKEND, indirect=True)
def test_a_holder_stalled_before_writing_running_does_not_overwrite_the_takeovers_success(
    backend: str, spec_for: Any, tmp_path: Path
) -> None:
    # Regression: distributed_lock wrote RUNNING unfenced after acquiring, so a holder stalled between acquiring
    # and that write came back, replaced the new holder's SUCCESS with RUNNING and executed the step a second time.
    spec = spec_for(backend, steps=20, **SHORT_LEASE)
    outcome = run_stall(spec, tmp_path, between=lambda: _victim_files(spec), where="running")

    assert outcome.second.returncode == 0, (outcome.second.report, outcome.second.log)
    assert _victim_files(spec) == outcome.between
    assert outcome.first.returncode == EXIT_LEASE_LOST, (outcome.first.report, outcome.first.log)
    _once_each_except(outcome.executions, 20, **{VICTIM: [outcome.second.pid]})


@pytest.mark.timeout(120)
def test_a_holder_stalled_before_saving_leaves_the_artifact_of_the_worker_whose_success_stands(
    spec_for: Any, tmp_path: Path
) -> None:
    # DESIGN §5: a worker that lost its lease must not write an artifact or info over the new holder's (the artifact
    # names the process that wrote it; .executor_info names no worker, so only the artifact is checked). Either the
    # stalled worker keeps its lease through its commit (the successor then finds SUCCESS), or it loses it and the
    # successor runs the step again: in both cases what is committed must come from the worker whose SUCCESS stands.
    # Local disk only: object stores check the lease on entry to a commit write, so a stall between that check and
    # the write is a window they cannot close.
    spec = spec_for(None, steps=20, **SHORT_LEASE)
    outcome = run_stall(spec, tmp_path, where="save")

    assert outcome.second.returncode == 0, (outcome.second.report, outcome.second.log)
    assert outcome.first.returncode in (0, EXIT_LEASE_LOST), (outcome.first.report, outcome.first.log)
    committer = outcome.first.pid if outcome.first.returncode == 0 else outcome.second.pid
    artifact = _artifact(build_dag(spec)[VICTIM].output_path)
    assert artifact.get("pid") == committer, f"SUCCESS is {committer}'s but the artifact is {artifact}"
    _assert_dag_committed_correctly(spec)


# -- 4. fencing, deterministically ----------------------------------------------------------------------------------


def _overwrite_own_lease(output_path: str) -> dict[str, int]:
    """A step during which another worker replaces the lease (as after a takeover the heartbeat has not seen)."""
    lock = join(output_path, LOCK_FILENAME)
    store_for(lock).write(lock, json.dumps({"worker_id": "intruder", "timestamp": time.time()}).encode())
    return {"value": 1}


def test_a_step_whose_lease_was_taken_unnoticed_commits_nothing_and_raises_lease_lost(store_root: str) -> None:
    spec = StepSpec(name="fenced/step", fn=_overwrite_own_lease, output_path_prefix=store_root)
    with pytest.raises(StepsFailed) as raised:
        StepRunner().run([spec], heartbeat_interval=20, lease_timeout=60)  # no beat before the commit

    assert isinstance(raised.value.__cause__, LeaseLostError)
    assert StatusFile(spec.output_path).read() == STATUS_RUNNING
    assert not Artifact.exists(spec.output_path)
    assert _read(join(spec.output_path, ".executor_info")) is None
    assert json.loads(_read(join(spec.output_path, LOCK_FILENAME)) or b"{}")["worker_id"] == "intruder"


# -- 5. a crash at each commit stage -------------------------------------------------------------------------------


@pytest.mark.timeout(120)
@pytest.mark.parametrize("stage", STAGES)
def test_a_worker_killed_after_a_commit_stage_never_leaves_success_without_artifact_and_a_rerun_completes(
    stage: str, spec_for: Any, tmp_path: Path
) -> None:
    spec = spec_for(None, steps=8, max_concurrent=1, die_at="b0-s1", die_after=stage, **SHORT_LEASE)
    dying = Worker(spec, tmp_path, "dying")
    assert dying.finish().returncode == -signal.SIGKILL
    victim = build_dag(spec)["b0-s1"].output_path
    status = StatusFile(victim).read()
    assert status == (STATUS_SUCCESS if stage == "status" else STATUS_RUNNING)
    assert status != STATUS_SUCCESS or Artifact.exists(victim)

    rerun = Worker(dataclasses.replace(spec, die_at=None, die_after=None, max_concurrent=8), tmp_path, "rerun")
    result = rerun.finish()

    assert result.returncode == 0, (result.report, result.log)
    assert result.takeovers == ([] if stage == "status" else ["b0-s1"])
    runs = [dying.pid] if stage == "status" else [dying.pid, rerun.pid]
    _once_each_except(read_executions(spec.record_dir), 8, **{"b0-s1": runs})
    _assert_dag_committed_correctly(spec)


def _count_calls(calls_file: str, output_path: str) -> dict[str, int]:
    with open(calls_file, "a") as f:
        f.write(output_path + "\n")
    return {"calls": len(Path(calls_file).read_text().splitlines())}


def test_a_runner_reruns_a_step_whose_success_has_lost_its_artifact(tmp_path: Path) -> None:
    # DESIGN §5: a SUCCESS carrying this executor's marker but no artifact is not a cache hit. The runner reads the
    # status alone before calling a step, so it counted such a step as cached and never reran it.
    calls = str(tmp_path / "calls")
    spec = StepSpec(name="lost/artifact", fn=functools.partial(_count_calls, calls), output_path_prefix=str(tmp_path))
    StepRunner().run([spec])
    os.remove(Artifact.path(spec.output_path))

    StepRunner().run([spec])

    assert Artifact.load(spec.output_path) == {"calls": 2}
    assert StatusFile(spec.output_path).read() == STATUS_SUCCESS


# -- 6. the object store goes away mid-run ----------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_a_run_across_a_gcs_server_restart_completes_and_commits_only_real_successes(
    spec_for: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = start_gcs_server(root=tmp_path / "gcs")  # on disk: objects survive the restart
    try:
        use_gcs(monkeypatch, server.url)
        spec = spec_for(f"gs://{server.make_bucket()}", steps=30, delay=0.02, max_concurrent=2, store_retry_timeout=20)
        spec = dataclasses.replace(spec, **SHORT_LEASE)
        worker = Worker(spec, tmp_path, "worker")
        records = Path(spec.record_dir)
        wait_for(lambda: len(list(records.glob("*.log"))) >= 6 or worker.proc.poll() is not None, "six steps to run")
        assert worker.proc.poll() is None, worker.log()
        server.stop()
        time.sleep(1.0)  # the outage
        server.start()
        result = worker.finish()

        assert result.returncode == 0, (result.report, result.log)
        _once_each_except(read_executions(spec.record_dir), 30)
        _assert_dag_committed_correctly(spec)
    finally:
        server.stop()
