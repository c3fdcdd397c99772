"""Lazy handles with Marin's signatures (``marin.execution.lazy`` of marin-core 0.2.227): ``ArtifactStep``,
``apply``, ``OUT``, ``materialized_config``, ``artifact_identity``.

A handle is ``(name, version, artifact_type)`` plus how to build it: ``build_config(ctx)`` and ``run(config)``.
Literals written in the config bear identity; what it pulls from the context (output path, a dependency's path,
prefix, region, runtime arguments) does not: under ``StepContext.for_fingerprint`` those read as Marin's
placeholders. Building a handle runs nothing; ``lowering`` turns handles into marin_exec StepSpecs. No pydantic here:
the default ``artifact_type`` is loaded from ``artifact`` when a handle is made without one.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
from collections.abc import Callable, Mapping
from typing import Any, Final, Generic, TypeVar

from marin_exec.fingerprint import canonical_json, fingerprint
from marin_exec.lazy.context import StepContext as StepContext

T = TypeVar("T")


def _default_artifact() -> type:
    from marin_exec.lazy.artifact import Artifact

    return Artifact


@dataclasses.dataclass(frozen=True, eq=False)
class ArtifactStep(Generic[T]):
    """A handle on ``{prefix}/{name}/{version}`` (or its pin, or its adopted source) and how to build it."""

    name: str
    version: str
    artifact_type: Any
    run: Callable[[Any], Any]
    build_config: Callable[[StepContext], Any]
    deps: tuple[Any, ...] = ()
    runtime_args: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    override_path: str | None = None
    adopt_source: str | None = None
    adopt_config: dict[str, Any] | None = None
    expected_fingerprint: str | None = None

    def __post_init__(self) -> None:
        from marin_exec.lazy.artifact import validate_path_segment, validate_version

        validate_path_segment("name", self.name)
        validate_version(self.version)
        if self.adopt_source is not None and self.override_path is not None:
            raise ValueError(f"{self.name}@{self.version}: adopt_source and override_path exclude each other")

    def fingerprint_payload(self) -> str:
        if self.adopt_source is not None:
            return json.dumps({"adopt_source": self.adopt_source, "config": self.adopt_config}, sort_keys=True)
        return canonical_json(self.build_config(StepContext.for_fingerprint(self.runtime_args.keys(), self.deps)))

    def fingerprint(self) -> str:
        return fingerprint(self.fingerprint_payload())

    def path(self, prefix: str | None = None) -> str:
        from marin_exec.lazy.artifact import current_prefix, is_relative, prefix_join

        base = prefix or current_prefix()
        location = self.adopt_source if self.adopt_source is not None else self.override_path
        if location is None:
            return prefix_join(base, f"{self.name}/{self.version}")
        return prefix_join(base, location) if is_relative(location) else location

    def lower(self) -> Any:
        from marin_exec.lazy.lowering import lower

        return lower(self)

    @classmethod
    def adopt(
        cls, name: str, version: str, source: str, *, kind: Any = None, config: dict[str, Any] | None = None
    ) -> ArtifactStep[Any]:
        """Existing data at ``source`` as a managed ``name@version``: consumers read ``source``; running the handle
        writes a record at ``{prefix}/{name}/{version}``."""
        return cls(
            name=name,
            version=version,
            artifact_type=kind if kind is not None else _default_artifact(),
            run=_not_computed,
            build_config=lambda _ctx: None,
            adopt_source=source,
            adopt_config=config,
        )


def _not_computed(_config: Any) -> None:
    raise AssertionError("an adopted artifact is recorded, never computed")


def artifact_identity(step: Any) -> str:
    return f"{step.name}@{step.version}:{step.fingerprint()}"


def materialized_config(handle: Any, prefix: str) -> Any:
    """The config a run under ``prefix`` would hand the step (region None), computed without running anything."""
    ctx = StepContext.for_run(handle.path(prefix), prefix, runtime_args=handle.runtime_args, deps=handle.deps)
    return handle.build_config(ctx)


class _Out:
    def __repr__(self) -> str:
        return "OUT"


OUT: Final = _Out()


def _is_handle(value: Any) -> bool:
    from marin_exec.lazy.shapes import is_lazy_handle

    return type(value) is ArtifactStep or is_lazy_handle(value)


@functools.lru_cache(maxsize=1024)  # an experiment applies a handful of functions to many inputs
def _cached_signature(fn: Any) -> inspect.Signature:
    return inspect.signature(fn)


def _signature(fn: Any) -> inspect.Signature:
    try:
        return _cached_signature(fn)
    except TypeError:  # an unhashable callable
        return inspect.signature(fn)


def _deps_of(inputs: Mapping[str, Any]) -> list[Any]:
    found: dict[int, Any] = {}

    def walk(value: Any) -> None:
        if _is_handle(value):
            found.setdefault(id(value), value)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)

    for value in inputs.values():
        walk(value)
    return list(found.values())


def _pulls(value: Any) -> bool:
    """Whether ``value`` holds a handle or ``OUT`` (in lists, tuples, dicts too): resolved against the context."""
    if _is_handle(value) or value is OUT or type(value).__name__ == "_OutSentinel":
        return True
    if isinstance(value, (list, tuple)):
        return any(_pulls(item) for item in value)
    if isinstance(value, dict):
        return any(_pulls(item) for item in value.values())
    return False


def _resolved_input(value: Any, ctx: Any) -> Any:
    if _is_handle(value):
        return ctx.artifact_path(value)
    if value is OUT or type(value).__name__ == "_OutSentinel":  # ours, or Marin's OUT
        return ctx.output_path
    if isinstance(value, list):
        return [_resolved_input(item, ctx) for item in value]
    if isinstance(value, tuple):
        return tuple(_resolved_input(item, ctx) for item in value)
    if isinstance(value, dict):
        return {key: _resolved_input(item, ctx) for key, item in value.items()}
    return value


def apply(
    name: str,
    fn: Callable[..., Any],
    *,
    version: str | None = None,
    artifact_type: Any = None,
    pin: str | None = None,
    **inputs: Any,
) -> ArtifactStep[Any]:
    """A handle that calls ``fn(**inputs)``: handles among the inputs (in lists, tuples, dicts too) become deps and
    their paths, ``OUT`` the step's output path, everything else a literal of its identity. ``version`` defaults to
    the active build context's; ``pin`` references existing data."""
    from marin_exec.lazy.build_context import resolve_version

    version = resolve_version(name, version)
    try:
        _signature(fn).bind(**inputs)
    except TypeError as error:
        called = getattr(fn, "__name__", fn)
        raise TypeError(f"apply({name!r}): {called} does not take these inputs: {error}") from None

    pulled = {key for key, value in inputs.items() if _pulls(value)}  # the rest are literals, used as given

    def build_config(ctx: Any) -> dict[str, Any]:
        return {key: _resolved_input(value, ctx) if key in pulled else value for key, value in inputs.items()}

    def step_fn(config: dict[str, Any], _fn: Callable[..., Any] = fn) -> Any:
        return _fn(**config)

    return ArtifactStep(
        name=name,
        version=version,
        artifact_type=artifact_type if artifact_type is not None else _default_artifact(),
        run=step_fn,
        build_config=build_config,
        deps=tuple(_deps_of(inputs)),
        override_path=pin,
    )
