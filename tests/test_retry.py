"""Unreadable stores are errors (DESIGN §5a): a status or lease read that still fails after the retry budget raises
an error naming the path and the last underlying error, in a dry run too; retry warnings name the error.

The store is a real ``gs://`` endpoint that nobody answers: a closed loopback port, with a short retry budget.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from marin_exec import ExecutorMainConfig, Lease, StatusFile, StepRunner, StepsFailed, StepSpec, executor_main
from marin_exec.errors import StorageUnavailable
from marin_exec.storage.gcs_store import GcsStore
from marin_exec.storage.store import register_store
from tests.conftest_stores import free_port, use_gcs

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
    with pytest.raises(StorageUnavailable, match=r"read gs://unreachable-bucket/step/\.executor_status.*last error"):
        StatusFile(f"{unreachable_bucket}/step").read()


def test_a_lease_read_that_fails_for_the_whole_budget_names_the_path(unreachable_bucket: str) -> None:
    with pytest.raises(StorageUnavailable, match=r"gs://unreachable-bucket/step/\.executor_status\.lock"):
        Lease(f"{unreachable_bucket}/step", timeout=60).try_acquire()


def test_every_retry_warning_names_the_error(unreachable_bucket: str, caplog: pytest.LogCaptureFixture) -> None:
    # Regression (issue 10, item 6): 72 warnings said "transient error; retrying" and never which error.
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
    assert "error: read gs://unreachable-bucket/unreachable/step-" in err and "last error" in err


def test_a_run_against_an_unreachable_store_fails_the_step_with_the_read_error(unreachable_bucket: str) -> None:
    spec = StepSpec(name="unreachable/step", fn=_noop, output_path_prefix=unreachable_bucket)
    with pytest.raises(StepsFailed) as raised:
        StepRunner().run([spec])
    assert isinstance(raised.value.__cause__, StorageUnavailable)
    assert spec.output_path in str(raised.value.__cause__)
