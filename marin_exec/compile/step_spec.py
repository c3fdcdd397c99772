"""``StepSpec``: one concrete step — name, function of its output path, dependencies and identity (DESIGN §3–§4).

Its version, hash and output path follow Marin's scheme (nested dependency versions up to depth 4, ``name-hash``
beyond). ``executable_fn`` is the only wrapper stack the runner ever calls: the step job
(``runtime.step_job.run_step``: ``disk_cached(distributed_lock(fn))``), inside ``remote(...)`` when the step
declares resources. A StepSpec does no I/O until ``executable_fn`` runs or its status is read, it never schedules
anything, and it does not run a step itself (the step job does).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import logging
import os
import typing
import weakref
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from marin_exec.compile.identity import (
    compute_identity,
    mutable_source,
    record_fields,
    refuse_mutable_deps,
    shallow_version,
)
from marin_exec.errors import MissingPrefixError, StepDefinitionError
from marin_exec.named_versions import check_version
from marin_exec.naming import qualified_name, validate_step_name
from marin_exec.runtime.remote import RemoteCallable
from marin_exec.status.lease_record import LIVE
from marin_exec.trace.step_ref import StepRef
from marin_exec.versioning import encode, hash_version

if TYPE_CHECKING:
    from marin_exec.status.lease_record import LeaseView

# The step job and the status reads are imported when first used: ``import marin_exec`` stays fast.

logger = logging.getLogger(__name__)


def _refuse_to_run(name: str, output_path: str) -> None:
    raise StepDefinitionError(
        f"step '{name}' has no function (fn=None): such a spec only gives an identity and output path "
        f"({output_path}) to steps that depend on it; give it fn=... to run it"
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
    # A named step (DESIGN §4b): lives at ``{prefix}/{name}/{named_version}`` instead of ``{prefix}/{name}-{hash}``.
    named_version: str | None = None
    # Marin's name: the canonical config JSON behind ``fingerprint`` (recorded; never part of a hash or path).
    fingerprint_payload: str | None = None
    expected_fingerprint: str | None = None
    # Adopted data (``adopt``): consumers read this location; the step's own path holds only status and record.
    adopt_source: str | None = None
    # Marin's flag: ``fn`` writes its own ``.artifact.json`` record, so the commit writes none over it.
    writes_record: bool = False

    def __post_init__(self) -> None:
        validate_step_name(self.name)
        if self.fn is not None and not callable(self.fn):
            raise StepDefinitionError(
                f"step '{self.name}': fn={self.fn!r} is not callable; give StepSpec(fn=...) a callable that takes "
                "the output path, or fn=None for a spec used only for its identity and path"
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
        self.__dict__["_config"] = {
            key: encode(value, key, self.name, refuse=(StepRef,)) for key, value in self.hash_attrs.items()
        }
        if self.named_version is not None:
            check_version(self.named_version, self.name)
            refuse_mutable_deps(self)
        elif self.adopt_source is not None:
            raise StepDefinitionError(
                f"step '{self.name}': adopt_source needs a named step: give named_version=... (the adopted "
                "data's version)"
            )

    # -- identity -------------------------------------------------------------------------------------------

    @cached_property
    def depth(self) -> int:
        """Longest chain of blocking dependencies below this step (0 without any)."""
        compute_identity(self)
        return self.__dict__["depth"]

    @cached_property
    def version(self) -> dict[str, Any]:
        compute_identity(self)
        return self.__dict__["version"]

    @cached_property
    def version_str(self) -> str:
        """``version_json(self.version)``: Marin's canonical text of the version, which is hashed."""
        compute_identity(self)
        return self.__dict__["version_str"]

    @cached_property
    def hash_id(self) -> str:
        return hash_version(self.version_str)

    @property
    def name_with_hash(self) -> str:
        """How the step is named in messages and records: ``name-hash``, or ``name@version`` for a named step."""
        return self.identity

    @cached_property
    def identity(self) -> str:
        """``name@version`` for a named step, ``name-hash`` for a hashed one: what dependents' versions and
        fingerprints hold in place of this step's path."""
        if self.named_version is not None:
            return f"{self.name}@{self.named_version}"
        return f"{self.name}-{self.hash_id}"

    @property
    def is_named(self) -> bool:
        return self.named_version is not None

    @cached_property
    def mutable(self) -> bool:
        """A ``dev`` named step, or a hashed step with a mutable blocking dependency: it rebuilds on every run
        (Marin's rule for ``dev``; a hashed step built from a ``dev`` output is rebuilt whenever that is)."""
        return mutable_source(self) is not None

    @cached_property
    def recipe_payload(self) -> str | None:
        """``fingerprint_payload`` as given, else as the compiler computes it when first asked (a traced step's
        payload costs a walk of its config: a run computes it only for the steps it runs or checks for drift)."""
        if self.fingerprint_payload is not None:
            return self.fingerprint_payload
        compute = self.__dict__.get("_payload_of")
        return None if compute is None else compute()

    @cached_property
    def fingerprint(self) -> str | None:
        """Marin's fingerprint of the traced config (8 hex of the md5 of ``recipe_payload``), if it has one."""
        if self.recipe_payload is None:
            return None
        from marin_exec.fingerprint import fingerprint

        return fingerprint(self.recipe_payload)

    @cached_property
    def pinned(self) -> bool:
        """A named step pinned to existing data (``override_output_path``): Marin writes no record for it, and
        SUCCESS alone makes it built."""
        return self.named_version is not None and self.override_output_path is not None

    @cached_property
    def output_path(self) -> str:
        override = self.override_output_path
        if override is not None and ("://" in override or override.startswith("/")):
            return override.rstrip("/")  # absolute: no prefix needed
        prefix = resolve_prefix(self.output_path_prefix, self.name)
        if override is not None:
            return under_prefix(override, prefix)
        if self.named_version is not None:
            return f"{prefix}/{self.name}/{self.named_version}"
        return f"{prefix}/{self.name}-{self.hash_id}"

    @cached_property
    def data_path(self) -> str:
        """Where dependents read this step's data: the adopted source, else ``output_path``."""
        if self.adopt_source is None:
            return self.output_path
        return under_prefix(self.adopt_source, resolve_prefix(self.output_path_prefix, self.name))

    # -- execution ------------------------------------------------------------------------------------------

    def read_status(self) -> str | None:
        """The step's status at its output path, read-only (None if it never ran).

        A SUCCESS that this executor wrote but whose artifact is missing reads as None: it is not done (DESIGN §5),
        so the runner calls the step, and ``run_step`` runs it again.
        """
        from marin_exec.status.step_status import read_statuses

        status = read_statuses([self.output_path])[0]
        if isinstance(status, Exception):
            raise status
        return status

    @staticmethod
    def read_statuses(specs: Sequence[StepSpec]) -> list[str | None | Exception]:
        """``read_status`` of many steps in a few batched rounds of reads; an exception in place of a status that
        could not be read. The runner reads statuses this way."""
        from marin_exec.status.step_status import read_statuses

        return read_statuses([spec.output_path for spec in specs])

    def lease_holder(self) -> str | None:
        """The worker id holding a live lease on this step, read-only (None if nobody does)."""
        view = self.lease_view()
        return view.holder if view.state == LIVE else None

    def lease_view(self) -> LeaseView:
        """One read of the step's lease under the run settings: live, stale, dead (on this host) or free."""
        from marin_exec.status.step_status import read_lease_view

        return read_lease_view(self.output_path)

    @cached_property
    def executable_fn(self) -> Callable[[str], Any]:
        """``disk_cached(distributed_lock(fn))`` as a picklable function of the output path, remote if resourced."""
        if self.fn is None:
            return functools.partial(_refuse_to_run, self.name)
        from marin_exec.runtime.step_job import (
            StepJob,
            finished_elsewhere,
            launch_provenance,
            note_job_outcome,
            run_replica,
            run_step,
        )

        job = StepJob(
            fn=self.fn,  # type: ignore[arg-type]
            name=self.name,
            artifact_type=self.artifact_type if self.artifact_type is not None else _return_type(self.fn),
            info=self._info_record(),
            # provenance captured here, where the run is launched: a remote job records the launch, as Marin does
            record=None if self.pinned else {**record_fields(self), "provenance": launch_provenance()},
            writes_record=self.writes_record,
        )
        call: Callable[[str], Any] = functools.partial(run_step, job)
        if self.resources is None:
            return call
        return RemoteCallable(
            call,
            name=self.name_with_hash,
            resources=self.resources,
            env_vars=dict(self.env_vars or {}),
            pip_dependency_groups=self.pip_dependency_groups,
            done_elsewhere=functools.partial(finished_elsewhere, self.name),
            after_job=functools.partial(note_job_outcome, self.name),
            replica_fn=functools.partial(run_replica, job),
        )

    def _info_record(self) -> dict[str, Any]:
        from marin_exec.status.step_status import EXECUTOR_NAME, EXECUTOR_VERSION

        info = dict(self.info or {})
        fn = self.fn
        info.setdefault("fn_name", qualified_name(fn))
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
            # 1: .artifact.json is Marin's ArtifactRecord; 0: a pinned step writes none (SUCCESS alone is built)
            "artifact_record": 0 if self.pinned else 1,
            **({} if self.fingerprint is None else {"fingerprint": self.fingerprint}),
            **({} if self.recipe_payload is None else {"fingerprint_payload": self.recipe_payload}),
        }

    def __repr__(self) -> str:
        return f"StepSpec({self.name!r}, deps={[d.name for d in self.deps]})"


# Return annotations already resolved, per function: get_type_hints compiles every string annotation anew on each
# call (~50 us a step when many steps share one function). Weak: a step's function is not kept alive by this.
_RETURN_TYPES: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _return_type(fn: Any) -> Any:
    while isinstance(fn, functools.partial):
        fn = fn.func
    fn = inspect.unwrap(fn)
    with contextlib.suppress(KeyError, TypeError):  # TypeError: a callable that cannot be weakly referenced
        return _RETURN_TYPES[fn]
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # unresolvable annotations: fall back to the plain JSON value (asked again next time)
        return None
    with contextlib.suppress(TypeError):
        _RETURN_TYPES[fn] = hints.get("return")
    return hints.get("return")
