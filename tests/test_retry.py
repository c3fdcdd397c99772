"""Unreadable stores are errors (DESIGN §5a): a status or lease read that still fails after the retry budget raises
an error naming the path and the last underlying error, in a dry run too; retry warnings name the error.

The store is a real ``gs://`` endpoint that nobody answers: a closed loopback port, with a short retry budget.
"""

from __future__ import annotations

import logging
import os
import pathlib
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from marin_exec import ExecutorMainConfig, Lease, StatusFile, StepRunner, StepsFailed, StepSpec, executor_main
from marin_exec.errors import StorageUnavailable, StoreUnreachable
from marin_exec.runtime.heartbeat import Heartbeat
from marin_exec.settings import run_settings
from marin_exec.storage.gcs_store import GcsStore
from marin_exec.storage.store import register_store
from tests.conftest_stores import free_port, start_gcs_server, use_gcs
from tests.fault_workers import wait_for
from tests.golden_messages import assert_golden

ROOT = pathlib.Path(__file__).parent.parent

BUDGET = 0.3


@pytest.fixture
def unreachable_bucket(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    use_gcs(monkeypatch, f"http://127.0.0.1:{free_port()}")  # nothing listens there
    register_store("gs", lambda: GcsStore(retry_timeout=BUDGET, request_timeout=1))
    try:
        yield "gs://unreachable-bucket"
    finally:
        register_store("gs", GcsStore)


def _noop(output_path: str) -> int:
    return 1


def test_a_status_read_that_fails_for_the_whole_budget_names_the_path_and_the_error(unreachable_bucket: str) -> None:
    with pytest.raises(
        StorageUnavailable,
        match=r"read gs://unreachable-bucket/step/\.executor_status: cannot reach the object store \(Cannot connect",
    ):
        StatusFile(f"{unreachable_bucket}/step").read()


def test_a_lease_read_that_fails_for_the_whole_budget_names_the_path(unreachable_bucket: str) -> None:
    with pytest.raises(StorageUnavailable, match=r"gs://unreachable-bucket/step/\.executor_status\.lock"):
        Lease(f"{unreachable_bucket}/step", timeout=60).try_acquire()


def test_every_retry_warning_names_the_error(unreachable_bucket: str, caplog: pytest.LogCaptureFixture) -> None:
    # Regression (issue 10, item 6): 72 warnings said "transient error; retrying" and never which error.
    # (Warned once the store has answered: a first contact that finds nothing there fails in one line instead.)
    store = GcsStore(retry_timeout=BUDGET, request_timeout=1)
    store.contact.answered = True
    register_store("gs", lambda: store)
    specs = [StepSpec(name=f"unreachable/{i}", fn=_noop, output_path_prefix=unreachable_bucket) for i in range(3)]
    with caplog.at_level(logging.WARNING, logger="marin_exec"), pytest.raises(StorageUnavailable):
        StepRunner().run(specs, dry_run=True)
    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert retries
    assert all("Error(" in message or "Timeout" in message for message in retries), retries


def test_a_dry_run_against_an_unreachable_store_raises_instead_of_planning_to_run(unreachable_bucket: str) -> None:
    # Regression (issue 10, item 6): every step was shown "[will run]" and the dry run exited 0.
    spec = StepSpec(name="unreachable/step", fn=_noop, output_path_prefix=unreachable_bucket)
    with pytest.raises(StorageUnavailable, match=r"gs://unreachable-bucket/unreachable/step-\w+/\.executor_status"):
        StepRunner().run([spec], dry_run=True)


def test_the_cli_dry_run_against_an_unreachable_store_exits_1_naming_the_error(
    unreachable_bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = StepSpec(name="unreachable/step", fn=_noop, output_path_prefix=unreachable_bucket)
    with pytest.raises(SystemExit) as exited:
        executor_main([spec], config=ExecutorMainConfig(prefix=unreachable_bucket, dry_run=True))
    out, err = capsys.readouterr()
    assert exited.value.code == 1
    assert "will run" not in out + err
    assert "error: read gs://unreachable-bucket/unreachable/step-" in err and "cannot reach the object store" in err


def test_a_run_against_an_unreachable_store_fails_the_step_with_the_read_error(unreachable_bucket: str) -> None:
    spec = StepSpec(name="unreachable/step", fn=_noop, output_path_prefix=unreachable_bucket)
    with pytest.raises(StepsFailed) as raised:
        StepRunner().run([spec])
    assert isinstance(raised.value.__cause__, StorageUnavailable)
    assert spec.output_path in str(raised.value.__cause__)


# Issue 20, item 14: a wrong endpoint fails within seconds on first contact, in one line; a store that has answered
# keeps its whole retry budget (a run setting, --store_retry_timeout).


@pytest.fixture
def closed_port_bucket(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A gs:// bucket on a closed loopback port, served by the default store (the default retry budget)."""
    use_gcs(monkeypatch, f"http://127.0.0.1:{free_port()}")
    register_store("gs", GcsStore)
    yield "gs://unreachable-bucket"


@pytest.mark.timeout(50)  # the default budget is 60 s: without the first-contact rule this test times out
def test_a_refused_first_contact_fails_within_the_first_contact_budget_not_the_retry_budget(
    closed_port_bucket: str,
) -> None:
    with pytest.raises(StoreUnreachable, match=r"read gs://unreachable-bucket/step/\.executor_status: cannot reach"):
        StatusFile(f"{closed_port_bucket}/step").read()


@pytest.mark.timeout(50)
def test_a_name_that_does_not_resolve_fails_on_first_contact_too(monkeypatch: pytest.MonkeyPatch) -> None:
    use_gcs(monkeypatch, "http://no-such-host.invalid:4443")
    register_store("gs", GcsStore)
    with pytest.raises(StoreUnreachable, match="cannot reach the object store"):
        StatusFile("gs://bucket/step").read()


@pytest.mark.timeout(50)
def test_a_batch_read_on_first_contact_fails_fast_naming_each_path(closed_port_bucket: str) -> None:
    specs = [StepSpec(name=f"unreachable/{i}", fn=_noop, output_path_prefix=closed_port_bucket) for i in range(3)]
    with pytest.raises(StoreUnreachable, match="cannot reach the object store"):
        StepRunner().run(specs, dry_run=True)


def test_once_the_store_answered_a_refused_connection_is_retried_for_the_runs_store_retry_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = start_gcs_server()
    try:
        use_gcs(monkeypatch, server.url)
        bucket = f"gs://{server.make_bucket()}"
        store = GcsStore()
        store.read(f"{bucket}/warm")  # the endpoint answered
        server.stop()
        with run_settings(store_retry_timeout=0.5), pytest.raises(StorageUnavailable) as raised:
            store.read(f"{bucket}/step")
    finally:
        server.stop()
    assert not isinstance(raised.value, StoreUnreachable)
    assert "did not answer within 0.5 s" in str(raised.value) and "--store_retry_timeout" in str(raised.value)


def test_the_default_retry_budget_stays_within_the_lease_timeout() -> None:
    # a holder that retried longer than its lease timeout could find its step taken over while it retried
    with run_settings(lease_timeout=20, heartbeat_interval=5):
        assert GcsStore().retry_timeout == 20
    assert GcsStore().retry_timeout == 60


@pytest.mark.timeout(50)
def test_status_unlock_and_a_dry_run_print_one_line_against_a_closed_port(tmp_path: pathlib.Path) -> None:
    env = {**os.environ, "STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{free_port()}"}
    commands = {
        "status": [sys.executable, "-m", "marin_exec", "status", "gs://bucket/runs"],
        "unlock": [sys.executable, "-m", "marin_exec", "unlock", "gs://bucket/runs"],
        "dry_run": [sys.executable, "-m", "tests.interrupt_pipeline", "--prefix", "gs://bucket/runs", "--dry_run"],
        "run": [sys.executable, "-m", "tests.interrupt_pipeline", "--prefix", "gs://bucket/runs"],
    }
    env["INTERRUPT_SIGNALS"] = str(tmp_path)
    shown = []
    for name, command in commands.items():
        proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
        assert proc.returncode == 1, (name, proc.stderr)
        assert len(proc.stderr.splitlines()) == 1, (name, proc.stderr)
        assert "Traceback" not in proc.stderr and "traceback is above" not in proc.stderr
        port = env["STORAGE_EMULATOR_HOST"].rsplit(":", 1)[1]
        shown.append(re.sub(rf"\b{port}\b", "PORT", f"{name}: {proc.stderr}"))
    assert_golden("store_unreachable", "".join(shown))


@pytest.mark.timeout(50)
def test_a_heartbeat_refresh_retries_for_the_budget_of_the_run_that_took_the_lease(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The lease keeper's threads run outside the run's context: without the budget taken at start, a refresh of a
    # run with --store_retry_timeout 0.3 (or a short --lease_timeout) retried for the default 60 s.
    server = start_gcs_server()
    try:
        use_gcs(monkeypatch, server.url)
        register_store("gs", GcsStore)
        lease = Lease(f"gs://{server.make_bucket()}/step", timeout=60)
        assert lease.try_acquire()
        with run_settings(store_retry_timeout=0.3):
            heartbeat = Heartbeat(lease, interval=0.05)
        server.stop()
        with caplog.at_level(logging.WARNING, logger="marin_exec"):
            heartbeat.start()
            try:
                wait_for(lambda: any("could not refresh" in r.getMessage() for r in caplog.records), "a failed beat")
            finally:
                heartbeat.stop()
    finally:
        server.stop()
    [failed, *_] = [r.getMessage() for r in caplog.records if "could not refresh" in r.getMessage()]
    assert "did not answer within 0.3 s" in failed


def test_a_store_that_stopped_answering_is_one_error_line_with_no_traceback_promised(
    unreachable_bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Regression (issue 20, item 14): "caused by: ... (its traceback is above)" followed, with no traceback above.
    store = GcsStore(retry_timeout=BUDGET, request_timeout=1)
    store.contact.answered = True  # as if it had answered before: the whole budget applies
    register_store("gs", lambda: store)
    spec = StepSpec(name="unreachable/step", fn=_noop, output_path_prefix=unreachable_bucket)
    with pytest.raises(SystemExit):
        executor_main([spec], config=ExecutorMainConfig(prefix=unreachable_bucket, dry_run=True))
    err = capsys.readouterr().err
    [line] = [line for line in err.splitlines() if "WARNING" not in line]
    assert line.startswith("error: read gs://unreachable-bucket/") and "did not answer within 0.3 s" in line
    assert "last error: ClientConnectorError: Cannot connect" in line
