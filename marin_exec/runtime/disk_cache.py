"""``disk_cached(fn, output_path, save=, load=)``: run a step once and remember that it succeeded (DESIGN §3).

SUCCESS is written last, after ``save``; FAILED is written when ``fn`` or ``save`` raises an ``Exception`` (an
interrupt, ``KeyboardInterrupt`` or ``SystemExit``, writes nothing and releases the lease). A commit scope keeps
the lease of an inner ``distributed_lock`` until the final status write; each commit write is fenced by that lease
on its own (nothing is held while ``fn`` or ``save`` runs, so the heartbeat refreshes throughout). It takes no
lock by itself and never decides where ``fn`` runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from marin_exec.call_report import note_finished_elsewhere
from marin_exec.errors import LeaseLostError, StepAlreadyDone
from marin_exec.runtime.commit import CommitScope, commit_scope
from marin_exec.status.status import STATUS_FAILED, STATUS_SUCCESS, StatusFile

logger = logging.getLogger(__name__)

T = TypeVar("T")


def disk_cached(
    fn: Callable[[str], T],
    output_path: str,
    *,
    save: Callable[[T, str], Any] | None = None,
    load: Callable[[str], T] | None = None,
    on_failure: Callable[[Exception, str], Callable[[], Any] | None] | None = None,
    save_fenced: bool = False,
) -> T | None:
    """Return the step's result, computing it with ``fn(output_path)`` only if it has not succeeded yet.

    On a hit: ``load(output_path)``, or with no ``load``, ``fn(output_path)`` again (the function reads what it
    wrote; a locked function raises ``StepAlreadyDone`` instead and None is returned). ``on_failure(error, path)``
    runs before FAILED is written, with no lock held (it may run user code, e.g. the exception's ``__str__``), and
    returns the one write to make under the fence just before FAILED (the step job's ``.executor_error``), or None.
    ``save_fenced``: ``save`` fences every write it makes (``commit.fenced``), so the first one checks the lease and
    no separate check precedes it; otherwise the lease is checked before ``save`` starts.
    """
    status = StatusFile(output_path)
    current = status.read()
    if current == STATUS_SUCCESS:
        note_finished_elsewhere()  # seen by a runner that read another status just before calling us
        return _on_hit(fn, output_path, load)

    with commit_scope(output_path, current) as scope:  # an inner lock takes its first look from here
        try:
            result = fn(output_path)
        except StepAlreadyDone:
            note_finished_elsewhere()  # another worker committed it while our lock waited
            return _load(output_path, load)
        except LeaseLostError:
            raise  # another worker owns the step now: write nothing
        except Exception as error:
            _record_failure(scope, status, output_path, error, on_failure)
            raise
        # KeyboardInterrupt, SystemExit: no FAILED; the scope releases the lease, and RUNNING without a live
        # lease reads as interrupted, which reruns at once (DESIGN §5a).
        try:
            if save is not None:
                if not save_fenced:  # a save that writes unfenced must not start once the lease is lost
                    with scope.fenced():
                        pass
                # Not inside the fence: a save may outlast the lease timeout, and the heartbeat must refresh
                # meanwhile. Its commit writes (artifact, info) are each fenced on their own (commit.fenced).
                save(result, output_path)
        except LeaseLostError:
            raise
        except Exception as error:
            _record_failure(scope, status, output_path, error, on_failure)
            raise
        with scope.fenced():
            status.write(STATUS_SUCCESS)
        return result


def _record_failure(
    scope: CommitScope,
    status: StatusFile,
    output_path: str,
    error: Exception,
    on_failure: Callable[[Exception, str], Callable[[], Any] | None] | None,
) -> None:
    """Write FAILED under the lease (after ``on_failure``'s write); never when the lock refused the step or the lease
    was lost. ``on_failure`` builds its record before the fence (one write per fence, DESIGN §5a). A failing
    ``on_failure`` is logged: the step's own error stays the one raised."""
    if not scope.may_write_status:
        return
    try:
        if on_failure is not None:
            try:
                write = on_failure(error, output_path)  # no lock held: it may run user code
                if write is not None:
                    with scope.fenced():
                        write()
            except LeaseLostError:
                raise
            except Exception as record_error:
                logger.warning(f"{output_path}: could not record the failure: {record_error!r}")
        with scope.fenced():
            status.write(STATUS_FAILED)
    except LeaseLostError as lost:
        logger.error(f"{output_path}: step failed after losing its lease; not recording FAILED: {lost}")


def _on_hit(fn: Callable[[str], T], output_path: str, load: Callable[[str], T] | None) -> T | None:
    if load is not None:
        return load(output_path)
    try:
        return fn(output_path)
    except StepAlreadyDone:
        return None


def _load(output_path: str, load: Callable[[str], T] | None) -> T | None:
    return load(output_path) if load is not None else None
