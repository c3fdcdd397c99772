"""How a failed Fray job reaches its caller: one ``RemoteStepFailed`` (or the signal it carried), on every backend.

Both sides of the wire live here. In the job, ``exit_with_error_record`` ends an Iris task process with a
one-line JSON record of the exception (Iris reports only the last stderr line); in the caller, ``job_failure``
turns whatever the backend raised into ``RemoteStepFailed`` with the job id and the worker's traceback, and
re-raises the signals ``StepAlreadyDone``, ``PreviousStepFailed`` and ``LeaseLostError`` as themselves.

Deliberately does not: submit, wait for or terminate jobs (``remote`` does), fetch logs from the backend, or
retry anything. Fray and Iris are imported only when a failure is normalised.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import traceback

from marin_exec.errors import LeaseLostError, PreviousStepFailed, RemoteStepFailed, StepAlreadyDone

# Exceptions a job may end with that the caller must see as themselves, not as a job failure.
PASS_THROUGH_SIGNALS: tuple[type[Exception], ...] = (StepAlreadyDone, PreviousStepFailed, LeaseLostError)

# A job that fails inside an Iris task prints this, then one JSON record, as its last stderr line: Iris
# reports only that line, so the record carries the exception's type and the whole traceback.
_ERROR_RECORD_MARKER = "marin_exec-job-error "
_ERROR_RECORD_MAX_CHARS = 12_000
_SIGNAL_LINE = re.compile(r"marin_exec\.errors\.(StepAlreadyDone|PreviousStepFailed|LeaseLostError): (.*)")


def job_failure(exc: BaseException, *, job_id: str, step_name: str) -> Exception:
    """Turn whatever a backend raised for a failed job into ``RemoteStepFailed`` (or the signal it carries).

    Fray's local backend raises the worker's exception itself, Iris raises ``JobFailedError`` whose text ends
    with the worker's last stderr line, and ``fray.wait_all`` raises ``fray.JobFailed`` with the status only.
    """
    from fray.client import JobFailed
    from iris.client import JobFailedError

    if isinstance(exc, PASS_THROUGH_SIGNALS):
        return exc
    if isinstance(exc, JobFailedError):
        text = getattr(exc.status, "error_message", None) or str(exc)
        record = _parse_error_record(text)
        if record is None:  # not raised through the job's entry point (or cut short): only the last stderr line
            match = _SIGNAL_LINE.search(text)
            record = {"type": f"marin_exec.errors.{match.group(1)}", "message": match.group(2)} if match else {}
            record["traceback"] = text
        signal = _signal_named(record.get("type", ""))
        if signal is not None:
            return signal(f"{record['message']} (raised in Fray job {job_id})")
        worker_error = record["traceback"]
    elif isinstance(exc, JobFailed):
        worker_error = f"{exc} (no worker error is available from this backend; see the job's logs)"
    else:
        worker_error = "".join(traceback.format_exception(exc)).rstrip()
    indented = "\n".join(f"    {line}" for line in worker_error.splitlines())
    advice = "Fix the cause above and rerun; steps that already succeeded are not run again."
    if "ModuleNotFoundError" in worker_error:
        advice = (
            "The worker could not import code the job refers to: install it in the job's environment, or run "
            "from the workspace root so its import roots reach the worker's PYTHONPATH; then rerun."
        )
    return RemoteStepFailed(
        f"Step {step_name} failed in Fray job {job_id}. Worker error:\n{indented}\n"
        f"{advice} The job's full logs are kept by the Fray backend under {job_id}.",
        job_id=job_id,
        worker_error=worker_error,
    )


def unfinished_job_failure(status: str, *, job_id: str, step_name: str) -> RemoteStepFailed:
    """The failure of a job that ended without succeeding or raising: terminated or preempted."""
    return RemoteStepFailed(
        f"Step {step_name}: Fray job {job_id} ended with status {status} (it was terminated or preempted). "
        "Rerun the pipeline to run the step again.",
        job_id=job_id,
        worker_error=None,
    )


def in_iris_task_process() -> bool:
    """True in the main thread of Iris's callable runner, the process that exists only for this job."""
    return (
        threading.current_thread() is threading.main_thread()
        and bool(sys.argv)
        and os.path.basename(sys.argv[0]) == "_callable_runner.py"
    )


def exit_with_error_record(exc: Exception) -> None:
    """In an Iris task: print the traceback, then the error record as the last stderr line, and exit 1."""
    traceback.print_exception(exc)
    record = {
        "type": f"{type(exc).__module__}.{type(exc).__qualname__}",
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(exc))[-_ERROR_RECORD_MAX_CHARS:].rstrip(),
    }
    print(_ERROR_RECORD_MARKER + json.dumps(record), file=sys.stderr, flush=True)
    sys.stdout.flush()
    raise SystemExit(1)


def abandon_job_process(lost: Exception) -> None:
    """From a lease-refresh thread of an Iris task: report the lost lease as the job's error and end the process now.

    Nothing of the step has been committed (commits are fenced by the lease), so ending here is safe; the caller
    receives the LeaseLostError through the error record, as for any job failure.
    """
    record = {
        "type": f"{type(lost).__module__}.{type(lost).__qualname__}",
        "message": str(lost),
        "traceback": f"{type(lost).__name__}: {lost} (the job was ended by its heartbeat)",
    }
    print(f"{type(lost).__name__}: {lost}", file=sys.stderr)
    print(_ERROR_RECORD_MARKER + json.dumps(record), file=sys.stderr, flush=True)
    sys.stdout.flush()
    os._exit(1)  # SystemExit would end only the heartbeat thread


def _parse_error_record(text: str) -> dict[str, str] | None:
    start = text.find(_ERROR_RECORD_MARKER)
    if start < 0:
        return None
    try:
        record, _ = json.JSONDecoder().raw_decode(text, start + len(_ERROR_RECORD_MARKER))
    except ValueError:
        return None
    return record if isinstance(record, dict) and {"type", "message", "traceback"} <= record.keys() else None


def _signal_named(qualified_type: str) -> type[Exception] | None:
    module, _, name = qualified_type.rpartition(".")
    for signal in PASS_THROUGH_SIGNALS:
        if name == signal.__name__ and module == "marin_exec.errors":
            return signal
    return None
