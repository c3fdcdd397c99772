"""Lazy handles (ours or Marin's, by shape) lowered onto marin_exec's named StepSpecs, and Marin's ``run``,
``resolve`` and ``lower`` on marin_exec's runner.

Each handle becomes a StepSpec at ``{prefix}/{name}/{version}`` (a pin: its location, no record; adopted: consumers
read the source) with the handle's own ``fingerprint_payload()`` (for Marin's handles, Marin computes it), its
``expected_fingerprint`` checked here, and Marin's rule that a fixed version may not depend on a mutable one. The
step's function is a ``LazyCall``: it builds the run-time config from a ``StepContext`` and calls the handle's
``run``; the commit then writes Marin's record (config, the declared result type, the artifact's value fields).
A ``run`` that is a ``RemoteCallable`` (``remote(fn, resources=...)``: ours, Marin's or marin_exec's, by shape) gives
the StepSpec its resources, env_vars and pip_dependency_groups, so a Fray job runs the whole step (lease, config,
``fn``, commit) as Marin's runner does; the record, fingerprint and path are those of the same handle without them.
Lowering is iterative (a 10,000-deep chain lowers; Marin's recursion stops near 200). Needs no pydantic.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any

from marin_exec.compile.step_spec import StepSpec
from marin_exec.errors import FingerprintMismatchError
from marin_exec.fingerprint import fingerprint
from marin_exec.fingerprint import register_fingerprint as register_fingerprint
from marin_exec.lazy.context import StepContext
from marin_exec.lazy.remote_call import refuse_pip_packages, remote_parts
from marin_exec.lazy.shapes import graph_handles
from marin_exec.named_versions import is_mutable_version
from marin_exec.naming import qualified_name

MARIN_ARTIFACT_TYPE = "marin.execution.artifact.Artifact"


def type_name(artifact_type: Any) -> str:
    """The record's ``result_type`` for a handle's artifact class (marin_exec.lazy's base class as Marin's)."""
    name = f"{artifact_type.__module__}.{artifact_type.__qualname__}"
    return MARIN_ARTIFACT_TYPE if name == "marin_exec.lazy.artifact.Artifact" else name


@dataclasses.dataclass(eq=False)
class LazyCall:
    """What a lowered handle's step runs, as a function of its output path (see the module docstring)."""

    handle: Any
    result_type: str  # read by the commit: Marin records the handle's declared type, whatever ``run`` returned
    configs: dict[str, Any] = dataclasses.field(default_factory=dict)
    # Shipped to a Fray job, it takes the launching run's $MARIN_PREFIX along (``__getstate__``): the job's paths are
    # under it, while a worker of a real cluster has its own environment (and Iris's local cluster rewrites
    # ``/tmp/...`` values of a job's environment, so it is not passed as an environment variable). None: $MARIN_PREFIX.
    prefix: str | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "configs": {}, "prefix": self.prefix or os.environ.get("MARIN_PREFIX")}

    def __call__(self, output_path: str) -> Any:
        handle = self.handle
        prefix = self.prefix.rstrip("/") if self.prefix else _prefix()
        if handle.adopt_source is not None:
            return _check_adopted(handle, prefix)
        ctx = StepContext.for_run(output_path, prefix, runtime_args=handle.runtime_args, deps=handle.deps)
        config = handle.build_config(ctx)
        self.configs[output_path] = config
        remote = remote_parts(handle.run)
        # ``remote(fn, resources=...)``: the step's StepSpec carries the resources, so this runs inside the job
        result = (handle.run if remote is None else remote[0])(config)
        payload = getattr(result, "result_payload", None)
        return payload() if callable(payload) and hasattr(type(result), "raw_load") else None

    def received_config(self, output_path: str) -> Any:
        if self.handle.adopt_source is not None:
            return self.handle.adopt_config
        return self.configs.pop(output_path, None)


def _prefix() -> str:
    prefix = os.environ.get("MARIN_PREFIX")
    if not prefix:
        raise ValueError("no output prefix: set MARIN_PREFIX (or pass --prefix to executor_main)")
    return prefix.rstrip("/")


def _check_adopted(handle: Any, prefix: str) -> None:
    import fsspec

    source = handle.path(prefix)
    fs, path = fsspec.core.url_to_fs(source)
    if not fs.exists(path):
        raise FileNotFoundError(f"cannot adopt {handle.name}@{handle.version}: no data at {source}")


def _spec(handle: Any, deps: list[StepSpec], prefix: str | None = None) -> StepSpec:
    identity = f"{handle.name}@{handle.version}"
    payload = handle.fingerprint_payload()
    found = fingerprint(payload)
    expected = handle.expected_fingerprint
    if expected is not None and found != expected:
        raise FingerprintMismatchError(
            f"{identity}: the config's fingerprint is {found}, but expected_fingerprint pins {expected}; the recipe "
            "changed: update the pin, and bump the version if this is meant to be a different artifact"
        )
    if not is_mutable_version(handle.version):
        for dep in handle.deps:
            if is_mutable_version(dep.version):
                raise ValueError(
                    f"{identity} has a fixed version but depends on the mutable {dep.name}@{dep.version}, which "
                    "rebuilds on every run while this stays cached; make this handle dev too, or pin the dependency"
                )
    remote = remote_parts(handle.run)
    job: dict[str, Any] = {} if remote is None else _job_settings(identity, *remote[1:])
    fn_name = qualified_name(handle.run if remote is None else remote[0])
    return StepSpec(
        name=handle.name,
        fn=LazyCall(handle, type_name(handle.artifact_type), prefix=prefix),
        deps=deps,
        output_path_prefix=prefix,
        override_output_path=handle.override_path,
        info={"description": None, "fn_name": fn_name, "config": {}},  # config: drift is checked by the payload
        named_version=handle.version,
        fingerprint_payload=payload,
        expected_fingerprint=expected,
        adopt_source=handle.adopt_source,
        **job,
    )


def _job_settings(
    identity: str, resources: Any, env_vars: dict[str, str], groups: list[str] | None, packages: Any
) -> dict[str, Any]:
    """A remote handle's StepSpec fields: it runs as a Fray job with these resources (none of them in the
    fingerprint; the prefix travels with the ``LazyCall``)."""
    refuse_pip_packages(identity, packages)
    return {"resources": resources, "env_vars": env_vars or None, "pip_dependency_groups": groups}


def lower_handles(
    handles: Sequence[Any], memo: dict[int, StepSpec] | None = None, *, prefix: str | None = None
) -> list[StepSpec]:
    """One StepSpec per handle (same order), the graph below them lowered once per handle object; ``prefix``: where
    they live (None: ``$MARIN_PREFIX`` when they run, as under ``executor_main``)."""
    memo = {} if memo is None else memo
    for handle in graph_handles(list(handles)):
        if id(handle) not in memo:
            memo[id(handle)] = _spec(handle, [memo[id(dep)] for dep in handle.deps], prefix)
    return [memo[id(handle)] for handle in handles]


def lower(handle: Any) -> StepSpec:
    """``handle``'s graph as marin_exec StepSpecs (``StepRunner().run([lower(h) for h in handles])``)."""
    return lower_handles([handle])[0]


def run(*handles: Any, max_concurrent: int = 8, force_run_failed: bool = True) -> list[Any]:
    """Build ``handles`` (what is built is reused; dev versions rebuild; drift warns) and return each one's loaded
    artifact, in order. Runs as ``executor_main`` does, under ``$MARIN_PREFIX``; a failed step raises
    ``StepsFailed`` (a RuntimeError)."""
    from marin_exec.run.cli import ExecutorMainConfig, run_executor

    config = ExecutorMainConfig(prefix=_prefix(), max_concurrent=max_concurrent, force_run_failed=force_run_failed)
    run_executor(lower_handles(handles), config)
    return [handle.artifact_type.raw_load(handle.path()) for handle in handles]


def resolve(handle: Any, *, max_concurrent: int = 8) -> Any:
    """``run(handle)[0]``: build one handle and return its loaded artifact."""
    return run(handle, max_concurrent=max_concurrent)[0]
