"""Run a function as a Fray job: ``remote(fn, resources=...)(*args)`` submits it, waits, and returns None.

The job re-establishes the caller's run settings (force flag, heartbeat interval, lease timeout) before it
calls the function, so the whole ``disk_cached(distributed_lock(...))`` chain behaves the same inside a job
as in the runner's thread, on every backend. A failed job becomes ``RemoteStepFailed`` carrying the job id
and the worker's traceback, whichever backend ran it (``remote_failure`` does that translation); the signals
``StepAlreadyDone``, ``PreviousStepFailed`` and ``LeaseLostError`` pass through as themselves.

Deliberately does not: return the function's value (Fray discards it; results travel through the output
path), retry a failed job, take locks or write status (the shipped function does that), or terminate a job
when the waiting caller is interrupted (another thread may, through ``running_job``). Fray is imported
lazily, when a RemoteCallable gets its default resources or a job is built, so ``import marin_exec`` stays fast.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import re
import sys
import threading
import types
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from marin_exec.errors import StepDefinitionError
from marin_exec.runtime.remote_failure import (
    PASS_THROUGH_SIGNALS,
    abandon_job_process,
    exit_with_error_record,
    in_iris_task_process,
    job_failure,
    unfinished_job_failure,
)
from marin_exec.settings import RunSettings, current_run_settings, run_settings

if TYPE_CHECKING:
    from fray import Client, JobHandle, JobRequest, ResourceConfig

logger = logging.getLogger(__name__)

_JOB_NAME_MAX = 48  # before the unique suffix
_DEFAULT_CLIENT_THREADS = 32


@dataclasses.dataclass(frozen=True)
class RemoteCallable:
    """A function that runs as a Fray job when called; see ``remote``.

    ``done_elsewhere``, if given, is called with the call's arguments in the caller before anything is submitted;
    when it returns True the work is already done and the call returns None without a job (StepSpec uses it to wait
    for a lease another worker holds rather than submit a job that would hold its hardware while waiting).
    """

    fn: Callable[..., Any]
    name: str | None = None
    resources: ResourceConfig | None = None
    env_vars: dict[str, str] = dataclasses.field(default_factory=dict)
    pip_dependency_groups: list[str] | None = None
    done_elsewhere: Callable[..., bool] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.fn, RemoteCallable):
            raise StepDefinitionError(
                f"remote(): {self.fn.step_name!r} is already remote; wrap the plain function once, "
                "with all its resources, env_vars and pip_dependency_groups in that one call"
            )
        if not callable(self.fn):
            raise StepDefinitionError(f"remote() needs a function, got {self.fn!r} of type {type(self.fn).__name__}")
        if self.resources is None:
            from fray import ResourceConfig

            object.__setattr__(self, "resources", ResourceConfig())
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
        return self.name or _callable_name(self.fn)

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        """Submit ``fn(*args, **kwargs)`` as a Fray job and wait for it; raise ``RemoteStepFailed`` on failure."""
        if self.done_elsewhere is not None and self.done_elsewhere(*args, **kwargs):
            return
        job = self.submit(*args, **kwargs)
        ident = threading.get_ident()
        _RUNNING[ident] = job
        try:
            job.wait()
        finally:
            _RUNNING.pop(ident, None)

    def submit(self, *args: Any, **kwargs: Any) -> RemoteJob:
        """Submit ``fn(*args, **kwargs)`` as a Fray job and return at once."""
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
        from fray import JobStatus

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

    ``resources`` defaults to one CPU (``fray.ResourceConfig()``). ``pip_dependency_groups`` are the uv extras
    the worker installs; left None they follow the device: ``["tpu"]``, ``["gpu"]`` or none for CPU.
    """
    wrap = functools.partial(
        RemoteCallable,
        name=name,
        resources=resources,
        env_vars=dict(env_vars or {}),
        pip_dependency_groups=pip_dependency_groups,
    )
    return wrap if fn is None else wrap(fn)


def build_job_request(
    remote_callable: RemoteCallable,
    args: tuple[Any, ...] = (),
    kwargs: dict[str, Any] | None = None,
    *,
    settings: RunSettings | None = None,
) -> JobRequest:
    """The Fray ``JobRequest`` that runs ``remote_callable.fn(*args, **kwargs)`` under ``settings``."""
    from fray import Entrypoint, JobRequest, ResourceConfig, create_environment

    settings = settings or current_run_settings()
    settings_fields = {
        field.name: getattr(settings, field.name)
        for field in dataclasses.fields(settings)
        if field.name not in ("fray_client", "on_lost_lease")  # objects of this process: the job has its own
    }
    resources = remote_callable.resources or ResourceConfig()
    extras = remote_callable.pip_dependency_groups
    if extras is None:
        extras = {"tpu": ["tpu"], "gpu": ["gpu"]}.get(resources.device.kind, [])
    env_vars = dict(remote_callable.env_vars)
    pythonpath = _workspace_pythonpath()
    if pythonpath:
        env_vars.setdefault("PYTHONPATH", pythonpath)
    _ship_unimportable_modules_by_value()
    return JobRequest(
        name=job_name(remote_callable.step_name),
        entrypoint=Entrypoint.from_callable(
            _job_main, args=[remote_callable.fn, settings_fields, tuple(args), dict(kwargs or {})]
        ),
        resources=resources,
        environment=create_environment(env_vars=env_vars, extras=list(extras)),
    )


def job_name(step_name: str) -> str:
    """A job name Fray and Iris accept, unique per call: ``"Tokenized/My Data"`` -> ``tokenized-my-data-1a2b3c4d``.

    Iris re-runs a finished job whose name is submitted again, so every submission gets a fresh suffix.
    """
    base = re.sub(r"[^a-z0-9_.-]+", "-", step_name.lower())
    base = re.sub(r"-{2,}", "-", base).strip("-._")[:_JOB_NAME_MAX].rstrip("-._") or "step"
    return f"{base}-{uuid.uuid4().hex[:8]}"


def resolve_client() -> Client:
    """The Fray client for a submission: the run's client, else fray's current one, else one per process.

    ``fray.current_client()`` builds a new ``LocalClient`` (and thread pool) on every call when nothing is set,
    so that case is resolved once per process here instead.
    """
    settings_client = current_run_settings().fray_client
    if settings_client is not None:
        return settings_client
    explicit = _fray_explicit_client()
    if explicit is not None:
        return explicit
    from iris.client.client import get_iris_ctx

    if get_iris_ctx() is not None:  # inside an Iris task: submit child jobs to the same cluster
        import fray

        return fray.current_client()
    return _process_default_client()


def describe_resources(resources: ResourceConfig | None) -> str:
    """A short description for the dry run: ``tpu v5litepod-16 x1 (cpu=32, ram=128g)``, ``gpu H100 x8``, ..."""
    if resources is None:
        return "in the runner's thread"
    from fray import GpuConfig, TpuConfig

    device = resources.device
    if isinstance(device, TpuConfig):
        variants = "|".join([device.variant, *(resources.device_alternatives or [])])
        slices = max(1, resources.replicas // device.vm_count())
        text = f"tpu {variants} x{slices} (cpu={resources.cpu:g}, ram={resources.ram})"
    elif isinstance(device, GpuConfig):
        variants = "|".join([device.variant, *(resources.device_alternatives or [])])
        text = f"gpu {variants} x{device.count}"
        if resources.replicas > 1:
            text += f" on {resources.replicas} nodes"
    else:
        text = f"cpu {resources.cpu:g}, ram {resources.ram}"
    if resources.regions:
        text += f" in {','.join(resources.regions)}"
    if resources.zone:
        text += f" zone {resources.zone}"
    if not resources.preemptible:
        text += ", non-preemptible"
    return text


def _job_main(fn: Callable[..., Any], settings_fields: dict[str, Any], args: tuple, kwargs: dict) -> None:
    """Entry point of every job: re-establish the caller's run settings, then call ``fn``."""
    # In Iris's per-job process, a lost lease ends the job at once (the step belongs to another worker now). A
    # LocalClient job is a thread of the caller's process: there the heartbeat's flag ends the step instead.
    on_lost = abandon_job_process if in_iris_task_process() else None
    with run_settings(**settings_fields, on_lost_lease=on_lost):
        try:
            fn(*args, **kwargs)
        except Exception as exc:
            if in_iris_task_process():
                exit_with_error_record(exc)
            raise


def _callable_name(fn: Callable[..., Any]) -> str:
    inner = fn.func if isinstance(fn, functools.partial) else fn
    return getattr(inner, "__name__", None) or type(inner).__name__


def _fray_explicit_client() -> Client | None:
    """The client set with ``fray.set_current_client``, without fray's fallback of a fresh LocalClient."""
    import importlib

    variable = getattr(importlib.import_module("fray.current_client"), "_current_client_var", None)
    if variable is None:  # fray changed its internals: accept its own resolution
        import fray

        return fray.current_client()
    return variable.get()


_default_client: Client | None = None
_default_client_lock = threading.Lock()


def _process_default_client() -> Client:
    global _default_client
    with _default_client_lock:
        if _default_client is None:
            from fray import LocalClient

            logger.info(
                f"no Fray client set: using one LocalClient for this process ({_DEFAULT_CLIENT_THREADS} threads)"
            )
            _default_client = LocalClient(max_threads=_DEFAULT_CLIENT_THREADS)
        return _default_client


def _workspace_pythonpath() -> str:
    """The caller's import roots inside its working directory (relative to it), then its own PYTHONPATH.

    An Iris task starts in the workspace (the submitting directory, or its bundle on a cluster) but with
    only the task's workdir on ``sys.path``, so modules the caller imports from the workspace, such as
    ``experiments.steps``, would not import there. Installed packages (site-packages) are left to the
    worker's environment.
    """
    cwd = os.getcwd()
    roots: list[str] = []
    for entry in sys.path:
        path = os.path.abspath(entry or cwd)
        relative = os.path.relpath(path, cwd)
        inside = relative != os.pardir and not relative.startswith(os.pardir + os.sep)
        installed = {"site-packages", "dist-packages"} & set(Path(path).parts)
        if inside and not installed and os.path.isdir(path) and relative not in roots:
            roots.append(relative)
    inherited = os.environ.get("PYTHONPATH")
    return os.pathsep.join([*roots, inherited] if inherited else roots)


_checked_modules: set[str] = set()


def _ship_unimportable_modules_by_value() -> None:
    """Pickle code from test files and path-less modules by value, wherever it sits in a job's arguments.

    Iris applies this rule to the job's top-level callable only, which here is ``_job_main``; the user's
    function (and anything it closes over) would otherwise be pickled by reference and fail to import on
    the worker. Modules are checked once each.
    """
    import cloudpickle

    for module_name, module in list(sys.modules.items()):
        if module_name in _checked_modules:
            continue
        _checked_modules.add(module_name)
        path = getattr(module, "__file__", None)
        if not isinstance(module, types.ModuleType) or module_name == "__main__" or not path:
            continue
        if getattr(module, "__spec__", None) is None or "tests" in Path(path).parts:
            cloudpickle.register_pickle_by_value(module)
