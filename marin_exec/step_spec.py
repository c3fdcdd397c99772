"""``StepSpec``: one concrete step — name, function of its output path, dependencies and identity (DESIGN §3–§4).

Its version, hash and output path follow Marin's scheme (nested dependency versions up to depth 4, ``name-hash``
beyond). ``executable_fn`` is the only wrapper stack the runner ever calls:
``disk_cached(distributed_lock(fn))``, inside ``remote(...)`` when the step declares resources. A StepSpec does
no I/O until ``executable_fn`` runs or its status is read, and it never schedules anything.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import getpass
import inspect
import logging
import os
import re
import socket
import subprocess
import time
import typing
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any

from marin_exec.artifact import Artifact
from marin_exec.commit import fenced, scope_for
from marin_exec.disk_cache import disk_cached
from marin_exec.distributed_lock import distributed_lock
from marin_exec.errors import MissingPrefixError, StepDefinitionError
from marin_exec.settings import current_run_settings
from marin_exec.status import STATUS_SUCCESS, Lease, join, wait_for_holder
from marin_exec.step_status import EXECUTOR_NAME, EXECUTOR_VERSION, INFO_FILENAME, clear_success, has_our_marker
from marin_exec.step_status import read_statuses as _read_statuses
from marin_exec.storage import store_for
from marin_exec.versioning import encode, hash_version, version_json

logger = logging.getLogger(__name__)

MAX_NESTED_DEPTH = 4

_NAME_CHARS = re.compile(r"^[A-Za-z0-9._/{}=+\-]+$")


def validate_step_name(name: str) -> None:
    """Reject names that are not clean relative paths (DESIGN §4)."""
    problem = None
    if not isinstance(name, str) or not name:
        problem = "it is empty"
    elif name.startswith("/"):
        problem = "it is an absolute path"
    elif not _NAME_CHARS.match(name):
        bad = sorted({c for c in name if not _NAME_CHARS.match(c)})
        problem = f"it contains characters outside [A-Za-z0-9._/{{}}=+-]: {''.join(bad)!r}"
    elif any(segment == "" for segment in name.split("/")):
        problem = "it has an empty path segment ('//' or a trailing '/')"
    elif any(segment in ("..", ".") for segment in name.split("/")):
        problem = "it has a '.' or '..' segment"
    if problem:
        raise StepDefinitionError(
            f"step name {name!r} is invalid: {problem}. Step names are relative paths under the prefix, such as "
            "'tokenized/shakespeare' (letters, digits and ._/{}=+- only)."
        )


def resolve_prefix(prefix: str | None, step_name: str) -> str:
    """The output prefix: the argument, else $MARIN_PREFIX, else a MissingPrefixError that says how to set one."""
    value = prefix or os.environ.get("MARIN_PREFIX")
    if not value:
        raise MissingPrefixError(
            f"step '{step_name}': no output prefix. Pass --prefix /path/or/gs://bucket/dir on the command line, "
            "set the MARIN_PREFIX environment variable, or give StepSpec(output_path_prefix=...)."
        )
    return value.rstrip("/")


def under_prefix(path: str, prefix: str) -> str:
    """``path`` itself if absolute or a URL, else ``{prefix}/{path}``."""
    if "://" in path or path.startswith("/"):
        return path.rstrip("/")
    return f"{prefix}/{path.strip('/')}"


@dataclasses.dataclass(frozen=True, eq=False)
class StepSpec:
    name: str
    fn: Callable[[str], Any] | None = None
    deps: list[StepSpec] = dataclasses.field(default_factory=list)
    pseudo_deps: list[StepSpec] = dataclasses.field(default_factory=list)
    hash_attrs: dict[str, Any] = dataclasses.field(default_factory=dict)
    output_path_prefix: str | None = None
    override_output_path: str | None = None
    resources: Any = None
    env_vars: dict[str, str] | None = None
    pip_dependency_groups: list[str] | None = None
    info: dict[str, Any] | None = None
    # Type the artifact is loaded as; None means the return annotation of ``fn`` (an explicit type wins).
    artifact_type: Any = None

    def __post_init__(self) -> None:
        validate_step_name(self.name)
        if self.fn is None or not callable(self.fn):
            raise StepDefinitionError(
                f"step '{self.name}' has no function (fn={self.fn!r}); give StepSpec(fn=...) a callable that takes "
                "the output path"
            )
        for kind, specs in (("deps", self.deps), ("pseudo_deps", self.pseudo_deps)):
            for dep in specs:
                if not isinstance(dep, StepSpec):
                    raise StepDefinitionError(
                        f"step '{self.name}': {kind} must hold StepSpec objects, found {type(dep).__name__} "
                        f"{dep!r}; pass the upstream StepSpec itself, not its path"
                    )
        if not isinstance(self.hash_attrs, dict):
            raise StepDefinitionError(f"step '{self.name}': hash_attrs must be a dict, found {self.hash_attrs!r}")
        self.__dict__["_config"] = {key: encode(value, key, self.name) for key, value in self.hash_attrs.items()}

    # -- identity -------------------------------------------------------------------------------------------

    @cached_property
    def depth(self) -> int:
        """Longest chain of blocking dependencies below this step (0 without any)."""
        _compute_identity(self)
        return self.__dict__["depth"]

    @cached_property
    def version(self) -> dict[str, Any]:
        _compute_identity(self)
        return self.__dict__["version"]

    @cached_property
    def version_str(self) -> str:
        return version_json(self.version)

    @cached_property
    def hash_id(self) -> str:
        return hash_version(self.version_str)

    @property
    def name_with_hash(self) -> str:
        return f"{self.name}-{self.hash_id}"

    @cached_property
    def output_path(self) -> str:
        prefix = resolve_prefix(self.output_path_prefix, self.name)
        if self.override_output_path is not None:
            return under_prefix(self.override_output_path, prefix)
        return f"{prefix}/{self.name}-{self.hash_id}"

    # -- execution ------------------------------------------------------------------------------------------

    def read_status(self) -> str | None:
        """The step's status at its output path, read-only (None if it never ran).

        A SUCCESS that this executor wrote but whose artifact is missing reads as None: it is not done (DESIGN §5),
        so the runner calls the step, and ``run_step`` runs it again.
        """
        status = _read_statuses([self.output_path])[0]
        if isinstance(status, Exception):
            raise status
        return status

    @staticmethod
    def read_statuses(specs: Sequence[StepSpec]) -> list[str | None | Exception]:
        """``read_status`` of many steps in a few batched rounds of reads; an exception in place of a status that
        could not be read. The runner reads statuses this way."""
        return _read_statuses([spec.output_path for spec in specs])

    def lease_holder(self) -> str | None:
        """The worker id holding a live lease on this step, read-only (None if nobody does)."""
        record = Lease(self.output_path, timeout=float("inf")).holder()
        return None if record is None else str(record.get("worker_id"))

    @cached_property
    def executable_fn(self) -> Callable[[str], Any]:
        """``disk_cached(distributed_lock(fn))`` as a picklable function of the output path, remote if resourced."""
        job = StepJob(
            fn=self.fn,  # type: ignore[arg-type]
            name=self.name,
            artifact_type=self.artifact_type if self.artifact_type is not None else _return_type(self.fn),
            info=self._info_record(),
        )
        call: Callable[[str], Any] = functools.partial(run_step, job)
        if self.resources is None:
            return call
        from marin_exec.remote import RemoteCallable

        return RemoteCallable(
            call,
            name=self.name_with_hash,
            resources=self.resources,
            env_vars=dict(self.env_vars or {}),
            pip_dependency_groups=self.pip_dependency_groups,
            done_elsewhere=functools.partial(finished_elsewhere, self.name),
        )

    def _info_record(self) -> dict[str, Any]:
        info = dict(self.info or {})
        fn = self.fn
        info.setdefault("fn_name", _qualified_name(fn))
        return {
            "executor_version": f"{EXECUTOR_NAME} {EXECUTOR_VERSION}",
            "name": self.name,
            **info,
            "version": shallow_version(self),
            "hash": self.hash_id,
            "dependencies": [dep.output_path for dep in self.deps],
            "pseudo_dependencies": [dep.output_path for dep in self.pseudo_deps],
            "output_path": self.output_path,
            "resources": None if self.resources is None else repr(self.resources),
        }

    def __repr__(self) -> str:
        return f"StepSpec({self.name!r}, deps={[d.name for d in self.deps]})"


def _compute_identity(root: StepSpec) -> None:
    """Fill depth and version for ``root`` and every ancestor lacking them, without recursion."""
    stack: list[tuple[StepSpec, bool]] = [(root, False)]
    while stack:
        spec, expanded = stack.pop()
        if "version" in spec.__dict__:
            continue
        if not expanded:
            stack.append((spec, True))
            stack.extend((dep, False) for dep in (*spec.deps, *spec.pseudo_deps) if "version" not in dep.__dict__)
            continue
        spec.__dict__["depth"] = 1 + max(dep.__dict__["depth"] for dep in spec.deps) if spec.deps else 0
        version: dict[str, Any] = {
            "name": spec.name,
            "config": spec.__dict__["_config"],
            "dependencies": [_dependency_entry(dep) for dep in spec.deps],
        }
        if spec.pseudo_deps:
            version["pseudo_dependencies"] = [_dependency_entry(dep) for dep in spec.pseudo_deps]
        spec.__dict__["version"] = version


def shallow_version(spec: StepSpec) -> dict[str, Any]:
    """The version with every dependency written ``name-hash``: what provenance records (it identifies the same
    inputs, and stays linear in the graph where the nested version grows as fan-in ** 5)."""
    version = {**spec.version, "dependencies": [dep.name_with_hash for dep in spec.deps]}
    if spec.pseudo_deps:
        version["pseudo_dependencies"] = [dep.name_with_hash for dep in spec.pseudo_deps]
    return version


def _dependency_entry(dep: StepSpec) -> Any:
    if dep.__dict__["depth"] <= MAX_NESTED_DEPTH:
        return dep.__dict__["version"]
    return dep.name_with_hash


def _return_type(fn: Any) -> Any:
    while isinstance(fn, functools.partial):
        fn = fn.func
    fn = inspect.unwrap(fn)
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # unresolvable annotations: fall back to the plain JSON value
        return None
    return hints.get("return")


def _qualified_name(fn: Any) -> str:
    while isinstance(fn, functools.partial):
        fn = fn.func
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


# -- what runs (locally or inside a Fray job) ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class StepJob:
    """Everything one step needs at run time; small and picklable (it does not hold the StepSpec graph)."""

    fn: Callable[[str], Any]
    name: str
    artifact_type: Any
    info: dict[str, Any]


class _IncompleteCommit(Exception):
    """SUCCESS written by this executor, but the artifact is missing."""


def run_step(job: StepJob, output_path: str) -> Any:
    """Run one step through ``disk_cached(distributed_lock(fn))``; the commit saves artifact, then info."""
    started = time.time()

    def save(result: Any, path: str) -> None:
        with fenced(path):  # each commit write under the lease on its own (DESIGN §5a)
            Artifact.save(result, path)
        scope = scope_for(path)
        holder = scope.lease.owner if scope is not None and scope.lease is not None else None
        info = {**job.info, "worker_id": holder, "start_time": _iso(started), "end_time": _iso(time.time())}
        with fenced(path):
            write_info(path, info)

    def load(path: str) -> Any:
        if not Artifact.exists(path) and has_our_marker(path):
            raise _IncompleteCommit(path)
        return Artifact.load(path, job.artifact_type)

    try:
        return disk_cached(distributed_lock(job.fn), output_path, save=save, load=load)
    except _IncompleteCommit:
        logger.warning(
            f"{job.name}: status is SUCCESS but its artifact is missing at {output_path}; treating it as not "
            "done and running the step again"
        )
        clear_success(output_path)
        return disk_cached(distributed_lock(job.fn), output_path, save=save, load=load)


def finished_elsewhere(name: str, output_path: str) -> bool:
    """Before a resourced step's job is submitted: wait while another worker holds the step's lease, then say
    whether the step is done (so no job is submitted). A job would otherwise hold its hardware while it waits.

    Only a wait before submitting: the job's own lock still decides who runs the step (a worker that takes the
    lease just after this check is waited for inside the job, as without it). If the lease cannot be read, the
    job is submitted and its lock decides.
    """
    lease = Lease(output_path, timeout=current_run_settings().lease_timeout)
    started = time.monotonic()
    try:
        holder = lease.holder()
        if holder is None:
            return False
        logger.info(f"{name}: {holder.get('worker_id')} holds the lease of {output_path}; waiting before submitting")
        while lease.holder() is not None:
            wait_for_holder(started)
        done = _read_statuses([output_path])[0] == STATUS_SUCCESS
    except Exception as error:
        logger.warning(f"{name}: could not check the lease of {output_path} ({error!r}); submitting the job")
        return False
    if done:
        logger.info(f"{name}: finished by the other worker; no job submitted")
    return done


def write_info(output_path: str, info: dict[str, Any]) -> None:
    import json

    record = {**info, **_provenance()}
    path = join(output_path, INFO_FILENAME)
    store_for(path).write(path, json.dumps(record, indent=2, default=repr).encode())


def _iso(t: float) -> str:
    return datetime.datetime.fromtimestamp(t, tz=datetime.UTC).isoformat()


@functools.lru_cache(maxsize=1)
def _provenance() -> dict[str, Any]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    try:
        user = getpass.getuser()
    except Exception:
        user = None
    return {"git_commit": commit or None, "user": user, "host": socket.gethostname()}
