"""``distributed_lock(fn)``: run ``fn(output_path)`` only while holding the step's lease (DESIGN §3, §5).

It raises ``StepAlreadyDone`` when the step has succeeded (also when another holder finishes while we wait) and
``PreviousStepFailed`` when it failed before and force is off. Inside a commit scope for the same path it hands
its lease to the scope instead of releasing it. It does not write SUCCESS or FAILED: that is ``disk_cached``'s job.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from marin_exec.call_report import note_wait
from marin_exec.errors import PreviousStepFailed, StepAlreadyDone, UnsafeSettingsError
from marin_exec.progress import current_progress
from marin_exec.runtime.commit import scope_for
from marin_exec.runtime.replicas import lease_owner
from marin_exec.settings import RunSettings, current_run_settings, unsafe_setting
from marin_exec.status.status import STATUS_FAILED, STATUS_RUNNING, STATUS_SUCCESS, Lease, StatusFile, wait_for_holder

if TYPE_CHECKING:
    from marin_exec.progress_display import Progress

logger = logging.getLogger(__name__)

T = TypeVar("T")

# While waiting with a progress display on, the holder's record is re-read this often to show its heartbeat age.
_REPORT_HOLDER_EVERY = 1.0


def distributed_lock(
    fn: Callable[..., T],
    *,
    force_run_failed: bool | None = None,
    heartbeat_interval: float | None = None,
    lease_timeout: float | None = None,
) -> Callable[..., T]:
    """Wrap ``fn(output_path, ...)`` so that one worker at a time runs it for a given output path.

    Arguments left None are read from the run settings when the wrapped function is called. Timings that would
    break exactly-once (DESIGN §5a) raise ``UnsafeSettingsError``: given here, at once; combined with the run
    settings, when called, before the lease is touched.
    """
    _refuse_unsafe_timing(heartbeat_interval, lease_timeout)

    @functools.wraps(fn)
    def locked(output_path: str, *args: Any, **kwargs: Any) -> T:
        from marin_exec.runtime.heartbeat import Heartbeat  # here, not at import: ``import marin_exec`` stays fast

        settings = current_run_settings()
        force = settings.force_run_failed if force_run_failed is None else force_run_failed
        interval = settings.heartbeat_interval if heartbeat_interval is None else heartbeat_interval
        timeout = settings.lease_timeout if lease_timeout is None else lease_timeout
        enclosing = scope_for(output_path)
        if enclosing is not None:
            enclosing.locked = True  # disk_cached writes no status unless we hand it the lease
        _refuse_unsafe_timing(heartbeat_interval, lease_timeout, settings)

        status = StatusFile(output_path)
        lease = Lease(
            output_path,
            timeout=timeout,
            clock_skew_allowance=settings.clock_skew_allowance,
            heartbeat_interval=interval,
            owner=lease_owner(),  # in a multi-host step's job: names the job, for its followers (DESIGN §7)
        )
        # Inside disk_cached, the status it read a moment ago is the look before acquiring (no second read).
        _acquire(lease, status, force, status.read() if enclosing is None else enclosing.status_before(status.read))
        try:  # nothing between acquiring and the first heartbeat may leak the lease
            held = _check_after_acquiring(lease, status, force)
            if enclosing is not None:
                enclosing.had_status = held is not None
            heartbeat = Heartbeat(lease, interval, on_lost=settings.on_lost_lease).start()
        except BaseException:
            lease.release()
            raise
        handed_over = False
        try:
            # Fenced: a holder that stalled right after acquiring must neither write RUNNING over the SUCCESS of
            # a worker that took the step over meanwhile, nor run the step again.
            with lease.fenced():
                status.write(STATUS_RUNNING)
            result = fn(output_path, *args, **kwargs)
            heartbeat.check()
            scope = scope_for(output_path)
            if scope is not None:
                scope.adopt(lease, heartbeat)
                handed_over = True
            return result
        except BaseException as error:
            if heartbeat.lost and isinstance(error, Exception):  # an interrupt stays an interrupt
                # The step ran on, but another worker owns it now: report that, not the step's own error.
                heartbeat.stop()
                heartbeat.check()
            scope = scope_for(output_path)
            if scope is not None and not heartbeat.lost:
                # disk_cached records FAILED under the lease, then releases it.
                scope.adopt(lease, heartbeat)
                handed_over = True
            raise
        finally:
            if not handed_over:
                heartbeat.stop()
                lease.release()

    return locked


def _refuse_unsafe_timing(
    heartbeat_interval: float | None, lease_timeout: float | None, settings: RunSettings | None = None
) -> None:
    """``UnsafeSettingsError`` for a heartbeat interval and lease timeout that would break exactly-once: the values
    given to ``distributed_lock``, completed from ``settings`` (without settings, a value left None is not judged)."""
    given = {"heartbeat_interval": heartbeat_interval, "lease_timeout": lease_timeout}

    def spell(name: str, value: Any) -> str:
        where = "distributed_lock" if given[name] is not None or settings is None else "the run settings"
        return f"{name}={value!r} (from {where})"

    if settings is not None:
        heartbeat_interval = settings.heartbeat_interval if heartbeat_interval is None else heartbeat_interval
        lease_timeout = settings.lease_timeout if lease_timeout is None else lease_timeout
    problem = unsafe_setting(
        heartbeat_interval=math.ulp(0.0) if heartbeat_interval is None else heartbeat_interval,
        lease_timeout=math.inf if lease_timeout is None else lease_timeout,
        spell=spell,
    )
    if problem is not None:
        raise UnsafeSettingsError(problem)


def _acquire(lease: Lease, status: StatusFile, force: bool, current: str | None) -> None:
    """Take the lease, waiting for a live holder; raise if there is nothing left to do.

    ``current`` is the status just read; each later attempt reads it again. Once the lease is held the caller
    checks it once more (``_check_after_acquiring``), so a status read a moment too early decides nothing wrong.

    Polls back off from a few milliseconds, and a poll never sleeps longer than a tenth of the time already
    waited (at most 0.5 s), so a waiter notices a finished holder within about 10% of its wait. A release in
    this process wakes local waiters at once.
    """
    started = time.monotonic()
    waited_for: str | None = None
    progress = current_progress()
    reported = 0.0  # when the holder was last reported to the progress display (monotonic)
    try:
        while True:
            _refuse_if_settled(lease.output_path, current, force)
            if lease.try_acquire():
                return
            now = time.monotonic()
            if waited_for is None or progress is not None and now - reported >= _REPORT_HOLDER_EVERY:
                holder = lease.holder()
                named = holder is not None and waited_for is None
                if holder is not None and waited_for is None:  # one gone since our try is not named: the next
                    waited_for = str(holder.get("worker_id"))  # round finds the step done (its info names who)
                if progress is not None and waited_for is not None:
                    reported = now
                    _report_wait(progress, lease.output_path, holder, waited_for)
                if named:  # logged once the display knows the wait: whoever reads the log finds it there
                    logger.info(f"{lease.output_path}: waiting for {waited_for}, which holds the lease")
            wait_for_holder(started)
            current = status.read()
    finally:
        if waited_for is not None:  # the summary keeps this wait out of the step's time and names the holder
            note_wait(waited_for, time.monotonic() - started)
        if progress is not None and waited_for is not None:
            progress.wait_ended(lease.output_path)


def _report_wait(progress: Progress, output_path: str, holder: dict[str, Any] | None, fallback: str) -> None:
    """Tell the run's progress display whom this step waits for and how fresh that holder's heartbeat is."""
    try:
        age: float | None = time.time() - float(holder["timestamp"]) if holder else None
    except (KeyError, TypeError, ValueError):
        age = None
    progress.waiting(output_path, str(holder.get("worker_id")) if holder else fallback, age)


def _check_after_acquiring(lease: Lease, status: StatusFile, force: bool) -> str | None:
    """The rules of ``_acquire`` again, now holding the lease: another holder may have written SUCCESS or FAILED
    and released between our status read and our acquisition (DESIGN §5a). The caller releases if this raises.
    Returns the status read."""
    current = status.read()
    _refuse_if_settled(lease.output_path, current, force)
    return current


def _refuse_if_settled(output_path: str, current: str | None, force: bool) -> None:
    if current == STATUS_SUCCESS:
        raise StepAlreadyDone(f"{output_path}: already succeeded")
    if current == STATUS_FAILED and not force:
        raise PreviousStepFailed(
            f"{output_path}: this step failed previously (status FAILED). Fix the cause and rerun "
            "with --force_run_failed true (StepRunner.run(force_run_failed=True)) to run it again."
        )


__all__ = ["distributed_lock"]
