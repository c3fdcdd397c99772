"""Fray job building: the ``JobRequest`` that runs a function under the caller's run settings, its job name, the
client it goes to, and the dry run's description of its resources.

The job's entry point (``_job_main``) re-establishes the run settings and, in an Iris task process, turns a
failure into an error record. The request ships the workspace's import roots on ``PYTHONPATH`` and registers code
that cannot be imported on a worker (test files, path-less modules) to be pickled by value. This module does not
submit or wait (``runtime.remote`` does) and imports Fray only inside its functions.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import sys
import threading
import types
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from marin_exec.runtime.remote_failure import abandon_job_process, exit_with_error_record, in_iris_task_process
from marin_exec.runtime.replicas import JobTask, as_replica
from marin_exec.settings import RunSettings, current_run_settings, run_settings

if TYPE_CHECKING:
    from fray.client import Client
    from fray.types import JobRequest, ResourceConfig

logger = logging.getLogger(__name__)

_JOB_NAME_MAX = 48  # before the unique suffix
_DEFAULT_CLIENT_THREADS = 32
_DEFAULT_DISK = "16g"
# Environment variables a step may name in ``env_vars`` that are credentials: sent as secrets instead.
SECRET_NAMES = ("HF_TOKEN", "WANDB_API_KEY")


class RemoteFunction(Protocol):
    """What a job is built from (a ``RemoteCallable``): the function and how it asks to run."""

    @property
    def fn(self) -> Callable[..., Any]: ...
    @property
    def replica_fn(self) -> Callable[..., Any] | None: ...
    @property
    def resources(self) -> ResourceConfig | None: ...
    @property
    def env_vars(self) -> dict[str, str]: ...
    @property
    def pip_dependency_groups(self) -> list[str] | None: ...
    @property
    def step_name(self) -> str: ...


def build_job_request(
    remote_callable: RemoteFunction,
    args: tuple[Any, ...] = (),
    kwargs: dict[str, Any] | None = None,
    *,
    settings: RunSettings | None = None,
) -> JobRequest:
    """The Fray ``JobRequest`` that runs ``remote_callable.fn(*args, **kwargs)`` under ``settings``."""
    fray_types(remote_callable.step_name)
    from fray.types import Entrypoint, JobRequest, create_environment

    settings = settings or current_run_settings()
    settings_fields = {
        field.name: getattr(settings, field.name)
        for field in dataclasses.fields(settings)
        if field.name not in ("fray_client", "on_lost_lease")  # objects of this process: the job has its own
    }
    resources = remote_callable.resources or default_resources(remote_callable.step_name)
    extras = remote_callable.pip_dependency_groups
    if extras is None:
        extras = {"tpu": ["tpu"], "gpu": ["gpu"]}.get(resources.device.kind, [])
    env_vars = dict(remote_callable.env_vars)
    # Credentials travel as Fray/Iris secrets (files on the worker: HF_TOKEN_PATH, rigging's get_secret), never as
    # environment values in the spec. The host's own are forwarded by Iris itself (secret_behavior INHERIT).
    secrets = {name: env_vars.pop(name) for name in SECRET_NAMES if name in env_vars}
    pythonpath = _workspace_pythonpath()
    if pythonpath:
        env_vars.setdefault("PYTHONPATH", pythonpath)
    _ship_unimportable_modules_by_value()
    return JobRequest(
        name=job_name(remote_callable.step_name),
        entrypoint=Entrypoint.from_callable(
            _job_main,
            args=[remote_callable.fn, settings_fields, tuple(args), dict(kwargs or {}), remote_callable.replica_fn],
        ),
        resources=resources,
        environment=create_environment(env_vars=env_vars, extras=list(extras), secrets=secrets),
    )


def default_resources(step_name: str = "remote()") -> ResourceConfig:
    """What ``remote()`` asks for when given no resources: 1 CPU, 4g of RAM and 16g of disk.

    Fray's own default disk is 64g since 0.2.227, more than a worker of Iris's in-process cluster offers (50 GiB),
    so a bare ``remote(fn)`` would never be scheduled there; 16g is what it asked for before.
    """
    return fray_types(step_name).ResourceConfig.with_cpu(disk=_DEFAULT_DISK)


def fray_types(step_name: str) -> types.ModuleType:
    """``fray.types``, or a one-line error naming the ``[fray]`` extra when Fray is not installed."""
    from marin_exec.extras import import_extra

    return import_extra("fray.types", extra="fray", needed_for=f"{step_name}: a step with resources (a Fray job)")


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
        from fray.current_client import current_client

        return current_client()
    return _process_default_client()


def describe_resources(resources: ResourceConfig | None) -> str:
    """A short description for the dry run: ``tpu v5litepod-16 x1 (4 hosts, each cpu=56, ram=96g)``, ``gpu H100 x8``,
    ... (a TPU slice of several hosts is a job of that many replicas, each running the step's function)."""
    if resources is None:
        return "in the runner's thread"
    from fray.types import GpuConfig, TpuConfig

    device = resources.device
    if isinstance(device, TpuConfig):
        variants = "|".join([device.variant, *(resources.device_alternatives or [])])
        slices = max(1, resources.replicas // device.vm_count())
        hosts = f"{resources.replicas} hosts, each " if resources.replicas > 1 else ""
        text = f"tpu {variants} x{slices} ({hosts}cpu={resources.cpu:g}, ram={resources.ram})"
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


def _job_main(
    fn: Callable[..., Any],
    settings_fields: dict[str, Any],
    args: tuple,
    kwargs: dict,
    replica_fn: Callable[..., Any] | None = None,
) -> None:
    """Entry point of every task of a job: re-establish the caller's run settings, then call ``fn`` (task 0) or
    ``replica_fn`` (the other replicas of a multi-host job, when given; else ``fn`` there too)."""
    # In Iris's per-job process, a lost lease ends the job at once (the step belongs to another worker now). A
    # LocalClient job is a thread of the caller's process: there the heartbeat's flag ends the step instead.
    on_lost = abandon_job_process if in_iris_task_process() else None
    task = _job_task() if replica_fn is not None else None
    multihost = task if task is not None and task.count > 1 else None  # a multi-host step's job (DESIGN §7)
    target = replica_fn if multihost is not None and multihost.index > 0 and replica_fn is not None else fn
    with run_settings(**settings_fields, on_lost_lease=on_lost), as_replica(multihost):
        try:
            target(*args, **kwargs)
        except Exception as exc:
            if in_iris_task_process():
                exit_with_error_record(exc)
            raise


def replica_index() -> int:
    """Which task of its job this process is (0 for the first, and outside a multi-task Iris job).

    Iris numbers the tasks of a job (``/user/job/<index>``, in ``IRIS_TASK_ID``); Fray's LocalClient runs one task
    whatever the replica count, in a thread of the caller, which is task 0.
    """
    task = _job_task()
    return 0 if task is None else task.index


def _job_task() -> JobTask | None:
    """This process's task of its Iris job (None outside an Iris task process)."""
    if not in_iris_task_process():
        return None
    from iris.cluster.client.job_info import get_job_info

    info = get_job_info()
    return None if info is None else JobTask(job=info.job_id, index=info.task_index, count=info.num_tasks)


def _fray_explicit_client() -> Client | None:
    """The client set with ``fray.set_current_client``, without fray's fallback of a fresh LocalClient."""
    import fray.current_client

    variable = getattr(fray.current_client, "_current_client_var", None)
    if variable is None:  # fray changed its internals: accept its own resolution
        return fray.current_client.current_client()
    return variable.get()


_default_client: Client | None = None
_default_client_lock = threading.Lock()


def _process_default_client() -> Client:
    global _default_client
    with _default_client_lock:
        if _default_client is None:
            from fray.local_backend import LocalClient

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
