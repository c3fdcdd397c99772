"""Run a function as a Fray job: ``remote(fn, resources=...)(*args)`` submits it, waits, and returns None.

The job re-establishes the caller's run settings (force flag, heartbeat interval, lease timeout) before it
calls the function, so the whole ``disk_cached(distributed_lock(...))`` chain behaves the same inside a job
as in the runner's thread, on every backend. A failed job becomes ``RemoteStepFailed`` carrying the job id
and the worker's traceback, whichever backend ran it (``remote_failure`` does that translation); the signals
``StepAlreadyDone``, ``PreviousStepFailed`` and ``LeaseLostError`` pass through as themselves.

Deliberately does not: return the function's value (Fray discards it; results travel through the output
path), retry a failed job, take locks or write status (the shipped function does that), build the Fray job
request or choose the client (``runtime.fray_job`` does), or terminate a job when the waiting caller is
interrupted (another thread may, through ``running_job`` / ``running_jobs``). Fray, and the modules that build jobs
and translate their failures, are imported lazily, when a RemoteCallable gets its default resources or a job is
built, so ``import marin_exec`` stays fast.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, overload

from marin_exec.errors import StepDefinitionError
from marin_exec.naming import qualified_name
from marin_exec.settings import current_run_settings, run_settings

if TYPE_CHECKING:
    from fray.client import JobHandle
    from fray.types import ResourceConfig

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class RemoteCallable:
    """A function that runs as a Fray job when called; see ``remote``.

    ``done_elsewhere``, if given, is called with the call's arguments in the caller before anything is submitted;
    when it returns True the work is already done and the call returns None without a job (StepSpec uses it to wait
    for a lease another worker holds rather than submit a job that would hold its hardware while waiting).
    ``after_job``, if given, is called after a job succeeded with the call id the job ran under (the run setting
    ``call_id``), the seconds since submission and the call's arguments (StepSpec uses it to tell a job that ran
    the step from one that found another worker had finished it).
    ``replica_fn``, if given, is what the replicas after the first of a multi-host job (several tasks: a TPU slice
    of several hosts) call with the same arguments, instead of ``fn`` (StepSpec: the user function alone, while
    task 0 runs the locked, committing chain around it).
    """

    fn: Callable[..., Any]
    name: str | None = None
    resources: ResourceConfig | None = None
    env_vars: dict[str, str] = dataclasses.field(default_factory=dict)
    pip_dependency_groups: list[str] | None = None
    done_elsewhere: Callable[..., bool] | None = None
    after_job: Callable[..., None] | None = None
    replica_fn: Callable[..., Any] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.fn, RemoteCallable):
            raise StepDefinitionError(
                f"remote(): {self.fn.step_name!r} is already remote; wrap the plain function once, "
                "with all its resources, env_vars and pip_dependency_groups in that one call"
            )
        if not callable(self.fn):
            raise StepDefinitionError(f"remote() needs a function, got {self.fn!r} of type {type(self.fn).__name__}")
        if self.resources is None:
            from marin_exec.runtime.fray_job import default_resources

            object.__setattr__(self, "resources", default_resources(self.step_name))
        object.__setattr__(self, "env_vars", dict(self.env_vars or {}))
        if self.pip_dependency_groups is not None:
            object.__setattr__(self, "pip_dependency_groups", list(self.pip_dependency_groups))
        object.__setattr__(self, "__name__", getattr(self.fn, "__name__", self.step_name))
        object.__setattr__(self, "__qualname__", getattr(self.fn, "__qualname__", self.step_name))
        object.__setattr__(self, "__doc__", getattr(self.fn, "__doc__", None))
        object.__setattr__(self, "__wrapped__", self.fn)

    @property
    def step_name(self) -> str:
        """The name used in job names and messages: ``name`` if given, else the function's name."""
        return self.name or qualified_name(self.fn).rpartition(".")[2]

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        """Submit ``fn(*args, **kwargs)`` as a Fray job and wait for it; raise ``RemoteStepFailed`` on failure."""
        if self.done_elsewhere is not None and self.done_elsewhere(*args, **kwargs):
            return
        call_id = os.urandom(8).hex()
        submitted = time.monotonic()
        with run_settings(call_id=call_id):
            job = self.submit(*args, **kwargs)
        ident = threading.get_ident()
        _RUNNING[ident] = job
        try:
            job.wait()
        finally:
            _RUNNING.pop(ident, None)
        if self.after_job is not None:
            self.after_job(call_id, time.monotonic() - submitted, *args, **kwargs)

    def submit(self, *args: Any, **kwargs: Any) -> RemoteJob:
        """Submit ``fn(*args, **kwargs)`` as a Fray job and return at once."""
        from marin_exec.runtime.fray_job import build_job_request, describe_resources, resolve_client

        settings = current_run_settings()
        request = build_job_request(self, args, kwargs, settings=settings)
        client = resolve_client()
        handle = client.submit(request, adopt_existing=False)
        logger.info(f"{self.step_name}: submitted Fray job {handle.job_id} ({describe_resources(self.resources)})")
        return RemoteJob(handle=handle, step_name=self.step_name)


@dataclasses.dataclass(frozen=True)
class RemoteJob:
    """A submitted job: its Fray handle and the step it runs. ``terminate()`` may be called from any thread."""

    handle: JobHandle
    step_name: str

    @property
    def job_id(self) -> str:
        return self.handle.job_id

    def terminate(self) -> None:
        logger.warning(f"{self.step_name}: terminating Fray job {self.job_id}")
        self.handle.terminate()

    def wait(self) -> None:
        """Block until the job ends; raise the normalised failure if it did not succeed."""
        from fray.types import JobStatus

        from marin_exec.runtime.remote_failure import PASS_THROUGH_SIGNALS, job_failure, unfinished_job_failure

        try:
            status = self.handle.wait(raise_on_failure=True)
        except Exception as exc:
            if isinstance(exc, PASS_THROUGH_SIGNALS):
                raise  # Local backend: the worker's own exception object.
            raise job_failure(exc, job_id=self.job_id, step_name=self.step_name) from exc
        if status != JobStatus.SUCCEEDED:
            raise unfinished_job_failure(status, job_id=self.job_id, step_name=self.step_name)
        logger.info(f"{self.step_name}: Fray job {self.job_id} succeeded")


# Jobs being waited for by RemoteCallable.__call__, keyed by the waiting thread's ident.
_RUNNING: dict[int, RemoteJob] = {}


def running_job(thread_ident: int | None = None) -> RemoteJob | None:
    """The job the given thread (default: this one) is waiting for inside a ``RemoteCallable`` call, if any."""
    return _RUNNING.get(threading.get_ident() if thread_ident is None else thread_ident)


def running_jobs() -> list[RemoteJob]:
    """Every job a ``RemoteCallable`` call of this process is waiting for now (to terminate on SIGTERM)."""
    return list(_RUNNING.values())


@overload
def remote(
    fn: Callable[..., Any],
    *,
    name: str | None = None,
    resources: ResourceConfig | None = None,
    env_vars: dict[str, str] | None = None,
    pip_dependency_groups: list[str] | None = None,
) -> RemoteCallable: ...


@overload
def remote(
    fn: None = None,
    *,
    name: str | None = None,
    resources: ResourceConfig | None = None,
    env_vars: dict[str, str] | None = None,
    pip_dependency_groups: list[str] | None = None,
) -> Callable[[Callable[..., Any]], RemoteCallable]: ...


def remote(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    resources: ResourceConfig | None = None,
    env_vars: dict[str, str] | None = None,
    pip_dependency_groups: list[str] | None = None,
) -> RemoteCallable | Callable[[Callable[..., Any]], RemoteCallable]:
    """Make ``fn`` run as a Fray job when called. Usable as ``@remote``, ``@remote(...)`` or ``remote(fn, ...)``.

    ``resources`` defaults to 1 CPU, 4g of RAM and 16g of disk (``runtime.fray_job.default_resources``).
    ``pip_dependency_groups`` are the uv extras the worker installs; left None they follow the device: ``["tpu"]``,
    ``["gpu"]`` or none for CPU.
    """
    wrap = functools.partial(
        RemoteCallable,
        name=name,
        resources=resources,
        env_vars=dict(env_vars or {}),
        pip_dependency_groups=pip_dependency_groups,
    )
    return wrap if fn is None else wrap(fn)
