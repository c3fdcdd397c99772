"""Marin's ``ExecutorStep`` vocabulary, rebuilt: steps, input/output placeholders, ``versioned`` and ``mirrored``.

These classes have Marin's fields, methods and errors (``marin.execution.types``), so an experiment written against
Marin runs with ``from marin_exec.legacy import ...`` unchanged. They only describe a graph: lowering onto
marin_exec's steps lives in ``lowering.py``, Marin's executor surface in ``executor.py``. ``VersionedValue`` is
marin_exec's own class, so ``versioned`` values mean the same thing in ExecutorStep configs and ``@step`` configs.
Nothing here computes a version, hash or path, or does I/O.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from marin_exec.errors import MarinExecError
from marin_exec.versioning import VersionedValue

ConfigT = TypeVar("ConfigT")
T = TypeVar("T")


class LegacyValueError(MarinExecError, ValueError):
    """Misuse of the ExecutorStep vocabulary; a ``ValueError`` too, as Marin raises (its callers catch that)."""


@dataclasses.dataclass(frozen=True)
class ExecutorStep(Generic[ConfigT]):
    """One step of an ExecutorStep pipeline: ``fn(config)`` runs with every placeholder in ``config`` resolved.

    ``resources`` makes it a Fray job, as for ``@step``; ``env_vars`` and ``pip_dependency_groups`` go with it.
    """

    name: str
    fn: Callable[..., Any] | None
    config: ConfigT
    description: str | None = None
    override_output_path: str | None = None
    resources: Any = None
    pip_dependency_groups: list[str] | None = None
    env_vars: dict[str, str] | None = None

    def cd(self, name: str) -> InputName:
        """The path ``name`` under this step's output path."""
        return InputName(self, name=name)

    def __truediv__(self, other: str) -> InputName:
        return InputName(self, name=other)

    def __hash__(self) -> int:
        return hash(id(self))  # every step object is its own key, as in Marin

    def with_output_path(self, output_path: str) -> ExecutorStep[ConfigT]:
        """A copy of this step pinned to ``output_path`` (relative paths are under the prefix)."""
        return dataclasses.replace(self, override_output_path=output_path)

    def as_input_name(self) -> InputName:
        return InputName(step=self, name=None)


@dataclasses.dataclass(frozen=True)
class InputName:
    """A step's output path joined with ``name``; ``step=None`` is a hard-coded path (relative: under the prefix).

    ``block_on_step=False`` (``nonblocking()``) keeps the step in the version but neither runs nor waits for it.
    """

    step: Any
    name: str | None
    block_on_step: bool = True

    def cd(self, name: str) -> InputName:
        return InputName(self.step, name=os.path.join(self.name, name) if self.name else name)

    def __truediv__(self, other: str) -> InputName:
        return self.cd(other)

    @staticmethod
    def hardcoded(path: str) -> InputName:
        """A path no step produces; it enters the version as written."""
        return InputName(None, name=path)

    def nonblocking(self) -> InputName:
        return dataclasses.replace(self, block_on_step=False)


if TYPE_CHECKING:

    class OutputName(str):
        """Seen by type checkers as a str, so ``output_path: str = THIS_OUTPUT_PATH`` type-checks."""

        name: str | None

else:

    @dataclasses.dataclass(frozen=True)
    class OutputName:
        """This step's own output path joined with ``name``."""

        name: str | None


def this_output_path(name: str | None = None) -> Any:
    return OutputName(name=name)  # type: ignore[call-overload]  # a str to type checkers only


THIS_OUTPUT_PATH = OutputName(None)


def output_path_of(step: Any, name: str | None = None) -> InputName:
    return InputName(step=step, name=name)


def get_executor_step(run: Any) -> Any:
    """The ExecutorStep behind an ExecutorStep or an InputName."""
    from marin_exec.legacy.shapes import kind_of

    kind = kind_of(run)
    if kind == "ExecutorStep":
        return run
    if kind == "InputName":
        if run.step is None:
            raise LegacyValueError(f"Hardcoded path {run.name} is not part of the pipeline")
        return run.step
    raise LegacyValueError(f"Unexpected type {type(run)} for run: {run}")


def versioned(value: T) -> VersionedValue[T]:
    """Mark a config value as part of the step's version (Marin's signature: it returns the wrapper)."""
    from marin_exec.legacy.shapes import kind_of

    if kind_of(value) == "VersionedValue":
        raise LegacyValueError("Can't nest VersionedValue")
    if kind_of(value) == "InputName":
        raise LegacyValueError("Can't version an InputName")
    return VersionedValue(value)


def ensure_versioned(value: Any) -> VersionedValue[Any]:
    """``value`` itself if it is versioned already, else ``versioned(value)``."""
    from marin_exec.legacy.shapes import kind_of

    return value if kind_of(value) == "VersionedValue" else VersionedValue(value)


def unwrap_versioned_value(value: Any) -> Any:
    """``value`` with every versioned (and mirrored) wrapper removed, through dataclasses, dicts and lists."""
    from marin_exec.legacy.shapes import kind_of

    def recurse(obj: Any) -> Any:
        kind = kind_of(obj)
        if kind in ("VersionedValue", "MirroredValue"):
            return recurse(obj.value)
        if kind in ("OutputName", "InputName", "ExecutorStep"):
            raise LegacyValueError(f"Cannot unwrap VersionedValue containing {type(obj)}: {obj}")
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return dataclasses.replace(obj, **{f.name: recurse(getattr(obj, f.name)) for f in dataclasses.fields(obj)})
        if isinstance(obj, dict):
            return {k: recurse(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [recurse(x) for x in obj]
        return obj

    return recurse(value)


@dataclasses.dataclass(frozen=True)
class MirroredValue(Generic[T]):
    """A path read through Marin's cross-region mirror: the function receives ``mirror://{path}``."""

    value: T
    budget_gb: float = 10


def mirrored(value: Any, budget_gb: float = 10) -> MirroredValue[Any]:
    """``mirrored(p)`` adds nothing to the version; ``mirrored(versioned(p))`` versions ``p``."""
    from marin_exec.legacy.shapes import kind_of

    if kind_of(value) == "MirroredValue":
        raise LegacyValueError("Can't nest MirroredValue")
    return MirroredValue(value=value, budget_gb=budget_gb)
