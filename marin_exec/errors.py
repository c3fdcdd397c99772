"""One exception hierarchy for marin_exec: every error a user can see is a ``MarinExecError``.

Messages name the step, what was found, and what to do. ``StepAlreadyDone`` is a signal between the
runtime primitives (``distributed_lock`` raises it, ``disk_cached`` catches it), defined here once.
"""

from __future__ import annotations

from typing import Any


class MarinExecError(Exception):
    """Base class of every error marin_exec raises on purpose."""


class TracingError(MarinExecError):
    """A step graph could not be traced (misused StepRef, output() outside a step, bad placeholder...)."""


class StepDefinitionError(MarinExecError):
    """A step is malformed: bad name, missing function, hash attributes that cannot be encoded."""


class VersioningError(StepDefinitionError):
    """A value that enters a step's version cannot be encoded as JSON."""


class UnsaveableResult(MarinExecError, TypeError):
    """A step's function returned a value that cannot be saved as its JSON artifact (the step is not done)."""


class FingerprintMismatchError(StepDefinitionError):
    """A step's ``expected_fingerprint`` differs from its config's fingerprint (Marin's hard identity gate)."""


class UsageError(MarinExecError):
    """A command-line value that fits no step (such as an ``--override`` that applies to nothing): exit status 2."""

    exit_code = 2


class CycleError(MarinExecError):
    """The dependency graph has a cycle."""


class PathCollisionError(MarinExecError):
    """Two different steps claim the same output path."""


class MissingPrefixError(MarinExecError):
    """No output prefix was given and MARIN_PREFIX is not set."""


class StepAlreadyDone(MarinExecError):
    """Signal: the step at this output path has already succeeded (possibly by another worker)."""


class PreviousStepFailed(MarinExecError):
    """The step failed in an earlier run and force_run_failed is off."""


class LeaseLostError(MarinExecError):
    """Another worker took over this step's lease; this worker must not commit anything."""


class UnsafeSettingsError(MarinExecError, ValueError):
    """A run setting that would break exactly-once or cannot run anything (a lease timeout of 0, a heartbeat not
    shorter than the lease timeout, ``max_concurrent`` 0...): refused before any step starts."""


class StorageConflict(MarinExecError):
    """A compare-and-swap on a small object lost: the object changed since it was read."""


class StorageUnavailable(MarinExecError):
    """The object store kept failing transiently (unreachable, timing out, 5xx) for the whole retry budget."""


class PrefixNotWritable(MarinExecError):
    """The run cannot write under its prefix (a local directory it may not create or write)."""


class StoreUnreachable(StorageUnavailable):
    """The object store's endpoint refused the connection or did not resolve, and has never answered this process."""


class StepsFailed(MarinExecError, RuntimeError):
    """Raised by StepRunner.run when one or more steps failed (a RuntimeError too: Marin's callers catch that)."""

    def __init__(self, message: str, failed: list[str] | None = None, dep_failed: list[str] | None = None):
        super().__init__(message)
        self.failed = failed or []
        self.dep_failed = dep_failed or []
        self.report: Any = None  # the runner's RunReport of the failed run


class RemoteStepFailed(MarinExecError):
    """A step submitted as a Fray job failed; carries the job id and the worker's error text."""

    def __init__(self, message: str, job_id: str | None = None, worker_error: str | None = None):
        super().__init__(message)
        self.job_id = job_id
        self.worker_error = worker_error
