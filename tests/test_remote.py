"""remote(): the decorator, client resolution, and real Fray jobs on the LocalClient and on an in-process Iris.

How the job request itself is built (names, extras, resources text) is tested in tests/test_fray_job.py.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import fray.client
import fray.current_client
import fray.local_backend
import pytest
from fray.types import JobStatus, ResourceConfig

from marin_exec.errors import PreviousStepFailed, RemoteStepFailed, StepAlreadyDone, StepDefinitionError
from marin_exec.runtime.fray_job import build_job_request, resolve_client
from marin_exec.runtime.remote import RemoteCallable, remote, running_job
from marin_exec.runtime.remote_failure import job_failure
from marin_exec.settings import current_run_settings, run_settings

# -- functions shipped to jobs (module level: Iris workers unpickle them) ------------------------------------


def write_text(path: str, text: str = "done") -> None:
    Path(path).write_text(text)


def write_pid(path: str) -> None:
    Path(path).write_text(str(os.getpid()))


def fail_with(message: str) -> None:
    raise ValueError(message)


def write_env_var(path: str, key: str) -> None:
    Path(path).write_text(os.environ.get(key, "<unset>"))


def write_run_settings(path: str) -> None:
    settings = current_run_settings()
    Path(path).write_text(
        json.dumps(
            {
                "force_run_failed": settings.force_run_failed,
                "heartbeat_interval": settings.heartbeat_interval,
                "lease_timeout": settings.lease_timeout,
            }
        )
    )


def raise_step_already_done(message: str) -> None:
    raise StepAlreadyDone(message)


# -- the decorator --------------------------------------------------------------------------------------------


def test_remote_works_bare_and_with_arguments_and_keeps_the_function_name_and_doc():
    @remote
    def bare(path: str) -> None:
        """Bare docstring."""

    @remote(name="tokenized/data", env_vars={"A": "1"})
    def configured(path: str) -> None:
        """Configured docstring."""

    assert isinstance(bare, RemoteCallable) and isinstance(configured, RemoteCallable)
    assert (bare.__name__, bare.__doc__, bare.step_name) == ("bare", "Bare docstring.", "bare")
    assert (configured.__name__, configured.step_name) == ("configured", "tokenized/data")
    assert configured.env_vars == {"A": "1"}


def test_remote_refuses_to_wrap_a_remote_callable_again():
    once = remote(write_text)
    with pytest.raises(StepDefinitionError, match="already remote"):
        remote(once, resources=ResourceConfig(cpu=2))


# -- choosing the client --------------------------------------------------------------------------------------


def test_without_any_client_set_every_thread_gets_the_same_process_default_client():
    seen: list[object] = []
    threads = [threading.Thread(target=lambda: seen.append(resolve_client())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seen.append(resolve_client())
    assert isinstance(seen[0], fray.local_backend.LocalClient)
    assert all(client is seen[0] for client in seen)


def test_the_run_settings_client_wins_over_fray_current_client(fray_local_client):
    run_client = fray.local_backend.LocalClient(max_threads=1)
    assert resolve_client() is fray_local_client
    with run_settings(fray_client=run_client):
        assert resolve_client() is run_client


# -- real jobs on Fray's LocalClient --------------------------------------------------------------------------


def test_remote_call_runs_the_function_on_the_local_client(fray_local_client, tmp_path):
    result = remote(write_text)(str(tmp_path / "out.txt"), text="hello")
    assert result is None
    assert (tmp_path / "out.txt").read_text() == "hello"


def test_failure_on_the_local_client_becomes_remote_step_failed_with_job_id_and_traceback(fray_local_client):
    with pytest.raises(RemoteStepFailed) as caught:
        remote(fail_with, name="tokenized/broken")("boom from a local job")
    error = caught.value
    assert error.job_id is not None and error.job_id.startswith("local-tokenized-broken-")
    assert error.worker_error is not None
    assert "Traceback" in error.worker_error and "ValueError: boom from a local job" in error.worker_error
    assert "tokenized/broken" in str(error) and error.job_id in str(error)
    assert isinstance(error.__cause__, ValueError)


def test_step_already_done_raised_in_a_local_job_reaches_the_caller_unchanged(fray_local_client):
    raised: list[StepAlreadyDone] = []

    def already_done() -> None:
        raised.append(StepAlreadyDone("tokenized/data-1a2b3c already succeeded"))
        raise raised[0]

    with pytest.raises(StepAlreadyDone) as caught:
        remote(already_done)()
    assert caught.value is raised[0]


def test_another_thread_can_terminate_the_job_a_caller_waits_for(fray_local_client):
    caller = threading.get_ident()

    def terminate_own_job() -> None:
        deadline = time.monotonic() + 10
        while running_job(caller) is None and time.monotonic() < deadline:
            time.sleep(0.001)
        job = running_job(caller)
        assert job is not None
        job.terminate()

    with pytest.raises(RemoteStepFailed, match="ended with status stopped"):
        remote(terminate_own_job)()
    assert running_job(caller) is None


# -- real jobs on an in-process Iris cluster (about 1.3 s each) -----------------------------------------------


def test_remote_call_runs_the_function_in_an_iris_worker_process(fray_iris_client, tmp_path):
    out = tmp_path / "pid.txt"
    remote(write_pid, name="Tokenized/My Data")(str(out))
    assert int(out.read_text()) != os.getpid()


def test_failure_on_iris_becomes_remote_step_failed_with_job_id_and_worker_traceback(fray_iris_client):
    from iris.client import JobFailedError

    with pytest.raises(RemoteStepFailed) as caught:
        remote(fail_with, name="tokenized/broken")("boom from an iris job")
    error = caught.value
    assert error.job_id is not None and "/tokenized-broken-" in error.job_id
    assert error.worker_error is not None
    assert "Traceback" in error.worker_error and "ValueError: boom from an iris job" in error.worker_error
    assert "tokenized/broken" in str(error) and error.job_id in str(error)
    assert isinstance(error.__cause__, JobFailedError)


def test_env_vars_reach_the_iris_worker(fray_iris_client, tmp_path):
    out = tmp_path / "env.txt"
    remote(write_env_var, env_vars={"MARIN_EXEC_TEST_STAGE": "tokenize"})(str(out), "MARIN_EXEC_TEST_STAGE")
    assert out.read_text() == "tokenize"


def test_run_settings_of_the_caller_are_in_force_inside_the_iris_job(iris_cluster, tmp_path):
    from fray.iris_backend import FrayIrisClient

    out = tmp_path / "settings.json"
    client = FrayIrisClient.from_iris_client(iris_cluster)
    with run_settings(fray_client=client, force_run_failed=False, heartbeat_interval=0.2, lease_timeout=0.7):
        remote(write_run_settings)(str(out))
    assert json.loads(out.read_text()) == {"force_run_failed": False, "heartbeat_interval": 0.2, "lease_timeout": 0.7}


def test_step_already_done_raised_in_an_iris_job_reaches_the_caller_as_step_already_done(fray_iris_client):
    with pytest.raises(StepAlreadyDone, match="tokenized/data-1a2b3c already succeeded"):
        remote(raise_step_already_done)("tokenized/data-1a2b3c already succeeded")


def test_job_request_puts_the_callers_workspace_import_roots_on_the_worker_pythonpath(workspace_user_module):
    request = build_job_request(remote(workspace_user_module.record_where_imported), ("unused",))
    assert request.environment is not None
    assert request.environment.env_vars["PYTHONPATH"].split(os.pathsep)[0] == "src"


def test_an_explicit_pythonpath_env_var_is_kept_as_given():
    request = build_job_request(remote(write_text, env_vars={"PYTHONPATH": "/opt/code"}), ("unused",))
    assert request.environment is not None
    assert request.environment.env_vars["PYTHONPATH"] == "/opt/code"


def test_function_from_a_workspace_module_is_imported_by_reference_in_the_iris_worker(
    fray_iris_client, workspace_user_module, tmp_path
):
    out = tmp_path / "where.json"
    remote(workspace_user_module.record_where_imported)(str(out))
    where = json.loads(out.read_text())
    assert where["running_in_pid"] != os.getpid()
    assert where["imported_in_pid"] == where["running_in_pid"]  # imported by the worker, not shipped by value
    assert where["module_file"] == workspace_user_module.__file__


# -- failures reported by text only ---------------------------------------------------------------------------


def _iris_failure(error_text: str) -> Exception:
    """Iris's JobFailedError as its client raises it; the status carries only what it reads (a full status has
    some 25 fields of the controller's)."""
    from types import SimpleNamespace

    from iris.client import JobFailedError, JobState
    from iris.cluster.types import JobName

    status = SimpleNamespace(state=JobState.FAILED, error_message=error_text)
    return JobFailedError(JobName.from_string("/alice/tokenize-1a2b3c4d"), status)  # type: ignore[arg-type]


def test_a_signal_named_in_a_bare_iris_stderr_line_is_raised_as_that_signal():
    text = "Exit code: 1. stderr: marin_exec.errors.PreviousStepFailed: tokenized/data-1a2b3c failed before"
    failure = job_failure(_iris_failure(text), job_id="/alice/tokenize-1a2b3c4d", step_name="tokenized/data")
    assert isinstance(failure, PreviousStepFailed)
    assert "tokenized/data-1a2b3c failed before" in str(failure)


def test_a_bare_iris_stderr_line_becomes_the_worker_error_of_remote_step_failed():
    text = "Exit code: 137. stderr: Killed"
    failure = job_failure(_iris_failure(text), job_id="/alice/tokenize-1a2b3c4d", step_name="tokenized/data")
    assert isinstance(failure, RemoteStepFailed)
    assert failure.worker_error == text
    assert failure.job_id == "/alice/tokenize-1a2b3c4d"


def test_wait_all_failure_becomes_remote_step_failed_naming_the_job():
    failed = fray.client.JobFailed("/alice/tokenize-1a2b3c4d", JobStatus.FAILED)
    failure = job_failure(failed, job_id="/alice/tokenize-1a2b3c4d", step_name="tokenized/data")
    assert isinstance(failure, RemoteStepFailed)
    assert "/alice/tokenize-1a2b3c4d" in str(failure) and "tokenized/data" in str(failure)


# -- the README's remote examples -----------------------------------------------------------------------------


def test_the_fray_and_iris_imports_of_the_readme_work_on_the_installed_fray():
    import re

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    pattern = r"(from|import) (fray|iris|marin_exec)\b"
    imports = [line.split("#")[0].strip() for block in blocks for line in block.splitlines() if re.match(pattern, line)]
    assert any(line.startswith("from fray") for line in imports)
    for line in imports:
        exec(line, {})  # fray/__init__ re-exports nothing since 0.2.227: `from fray import X` fails here
