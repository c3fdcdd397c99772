"""One step call, made in a runner worker thread, and what it saw: its own time, the worker that made it, whom it
waited for and whether another worker finished the step meanwhile (``call_report``), recorded on its outcome.

Step time excludes the wait for another worker's lease. This module only calls ``spec.executable_fn`` and reads
the report the lock and the cache filled: it does not schedule, retry or wrap anything.

A process a step forks (``multiprocessing`` with fork) starts in a copy of the step's worker thread, which CPython's
exit bookkeeping for thread pools (``concurrent.futures.thread``) would join at the child's exit: ``RuntimeError:
cannot join current thread``, exit code 1 however the child's work went. From the first step call on, an at-fork
hook forgets that thread in the child; nothing else of the bookkeeping changes (``_forget_own_pool_thread``).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from marin_exec.call_report import reporting_call
from marin_exec.errors import PreviousStepFailed, StepsFailed
from marin_exec.status.status import worker_id

if TYPE_CHECKING:
    from concurrent.futures import Future

    from marin_exec.compile.step_spec import StepSpec
    from marin_exec.run.run_report import RunReport, StepOutcome

logger = logging.getLogger(__name__)


def call_step(spec: StepSpec) -> tuple[Any, float, Any]:
    """Call the step's function; the result, the seconds it took and its ``CallReport`` (on the error if it raised)."""
    _register_fork_hook()
    start = time.monotonic()
    with reporting_call(worker_id()) as call:
        try:
            result = spec.executable_fn(spec.output_path)
        except BaseException as e:
            e._marin_call = (time.monotonic() - start, call)  # type: ignore[attr-defined]
            raise
    return result, time.monotonic() - start, call


def record_call(name: str, outcome: StepOutcome, future: Future[Any]) -> BaseException | None:
    """Put what the call saw on ``outcome`` and log its end (a failure with its readable traceback, once); returns
    the call's error, or None if it succeeded."""
    error = future.exception()
    seconds, call = future.result()[1:] if error is None else getattr(error, "_marin_call", (None, None))
    if call is not None:
        outcome.finished_elsewhere, outcome.worker = call.finished_elsewhere, call.worker
        outcome.waited_for, outcome.waited_seconds = call.waited_for, call.waited_seconds
    outcome.seconds = None if seconds is None else max(0.0, seconds - outcome.waited_seconds)
    if error is not None:
        outcome.error = error
        from marin_exec.status.failure import readable_failure

        if isinstance(error, PreviousStepFailed):  # a deliberate refusal (--force_run_failed false), not a crash
            outcome.reason = refusal(outcome.spec.output_path)
            logger.error(f"{name}: refused: {outcome.reason}")
        else:
            logger.error(f"{name}: failed:\n{readable_failure(error)}")  # the one place a traceback is printed
    elif outcome.finished_elsewhere:
        logger.info(f"{name}: finished by {outcome.waited_for or 'another worker'}")
    else:
        logger.info(f"{name}: finished in {outcome.seconds:.2f} s")
    return error


def refusal(output_path: str) -> str:
    """Why a FAILED step was not run again: the last line of its recorded error, and how to run it."""
    from marin_exec.status.failure import read_error_record

    try:
        record = read_error_record(output_path) or {}
    except Exception:  # the refusal stands; only its detail is missing
        record = {}
    lines = str(record.get("traceback") or "").strip().splitlines()
    was = f" ({lines[-1]})" if lines else ""
    return f"failed previously{was}; --force_run_failed true runs it again"


def raise_failures(report: RunReport, first_error: BaseException | None) -> None:
    """``StepsFailed`` naming every failed step (``name-hash``; a refused one, ``PreviousStepFailed``, apart),
    chained from the first failure, if any failed."""
    from marin_exec.run.run_report import StepState

    outcomes = report.by_state(StepState.FAILED)
    failed = [o.spec.name_with_hash for o in outcomes]
    if failed:
        refused = [o.spec.name_with_hash for o in outcomes if isinstance(o.error, PreviousStepFailed)]
        crashed = [name for name in failed if name not in refused]
        said = [f"{len(crashed)} step(s) failed: {', '.join(crashed)}"] if crashed else []
        if refused:
            said.append(f"{len(refused)} step(s) refused (failed previously): {', '.join(refused)}")
        dep_failed = [o.spec.name_with_hash for o in report.by_state(StepState.DEP_FAILED)]
        error = StepsFailed("; ".join(said), failed=failed, dep_failed=dep_failed)
        error.report = report  # the summary of a failed run is printed from it
        raise error from first_error


@functools.cache
def _register_fork_hook() -> None:  # once per process: an at-fork hook cannot be undone
    os.register_at_fork(after_in_child=_forget_own_pool_thread)


def _forget_own_pool_thread() -> None:
    """In a forked child: the thread that forked is the child's only thread, and joining it at exit can only fail.
    The pool's other (inherited, stopped) threads stay, as their joins return at once."""
    pools = sys.modules.get("concurrent.futures.thread")
    queues = getattr(pools, "_threads_queues", None)  # CPython 3.12 and 3.13; elsewhere nothing to forget
    if queues is not None:
        with contextlib.suppress(Exception):  # a fork never fails for this; the child then exits as CPython makes it
            queues.pop(threading.current_thread(), None)
