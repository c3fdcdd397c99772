"""Versions chosen by the run for handles that defer theirs (Marin's ``marin.execution.build_context``):
``VersionCodex(default, overrides)``, ``BuildContext``, the ``build_context`` block and ``resolve_version``.
Pure: no pydantic, no files."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping
from contextvars import ContextVar


def _check(version: str, label: str) -> None:
    from marin_exec.named_versions import version_problem

    problem = version_problem(version)
    if problem is not None:
        raise ValueError(f"{label}: {problem}")


@dataclasses.dataclass(frozen=True)
class VersionCodex:
    """A run-wide ``default`` version plus per-name ``overrides`` (by the name given to the builder), validated when
    made; ``unused_overrides`` names the overrides no handle asked for (a typo, or a handle with its own version)."""

    default: str
    overrides: Mapping[str, str] = dataclasses.field(default_factory=dict)
    _used: set[str] = dataclasses.field(default_factory=set, compare=False, repr=False, init=False)

    def __post_init__(self) -> None:
        _check(self.default, "the default version")
        for name, version in self.overrides.items():
            _check(version, f"override {name!r}")

    def version_for(self, name: str) -> str:
        if name in self.overrides:
            self._used.add(name)
            return self.overrides[name]
        return self.default

    def unused_overrides(self) -> frozenset[str]:
        return frozenset(self.overrides) - frozenset(self._used)


@dataclasses.dataclass(frozen=True)
class BuildContext:
    """What rides along while an experiment builds its handles: the versions today."""

    versions: VersionCodex


_ACTIVE: ContextVar[BuildContext | None] = ContextVar("marin_exec_lazy_build_context", default=None)


@contextlib.contextmanager
def build_context(ctx: BuildContext) -> Iterator[BuildContext]:
    """Make ``ctx`` the active build context inside the block (nests; restored on exit)."""
    token = _ACTIVE.set(ctx)
    try:
        yield ctx
    finally:
        _ACTIVE.reset(token)


def current_build_context() -> BuildContext | None:
    return _ACTIVE.get()


def resolve_version(name: str, version: str | None) -> str:
    """``version`` when given (an explicit version always wins), else the active context's version for ``name``;
    with neither, a ValueError saying how to give one."""
    if version is not None:
        return version
    ctx = current_build_context()
    if ctx is None:
        raise ValueError(
            f"{name}: no version given and no build context is active; pass version='2026.12.06' (or 'dev'), or "
            "build the handle inside build_context(BuildContext(versions=VersionCodex(default=...)))"
        )
    return ctx.versions.version_for(name)
