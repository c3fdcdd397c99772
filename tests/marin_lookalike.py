"""Classes shaped like Marin's ``marin.execution`` objects (same class names, fields and methods), written here so
that tests can check marin_exec recognises Marin's own objects by shape without Marin installed."""

from __future__ import annotations

import dataclasses
import os
import types
from typing import Any


@dataclasses.dataclass(frozen=True)
class ExecutorStep:
    name: str
    fn: Any
    config: Any
    description: str | None = None
    override_output_path: str | None = None
    resources: Any = None

    def cd(self, name: str) -> InputName:
        return InputName(self, name)

    def __truediv__(self, other: str) -> InputName:
        return InputName(self, other)

    def __hash__(self) -> int:
        return hash(id(self))

    def with_output_path(self, output_path: str) -> ExecutorStep:
        return dataclasses.replace(self, override_output_path=output_path)


@dataclasses.dataclass(frozen=True)
class InputName:
    step: Any
    name: str | None
    block_on_step: bool = True

    def cd(self, name: str) -> InputName:
        return InputName(self.step, os.path.join(self.name, name) if self.name else name)

    def __truediv__(self, other: str) -> InputName:
        return self.cd(other)

    @staticmethod
    def hardcoded(path: str) -> InputName:
        return InputName(None, path)

    def nonblocking(self) -> InputName:
        return dataclasses.replace(self, block_on_step=False)


@dataclasses.dataclass(frozen=True)
class OutputName:
    name: str | None


@dataclasses.dataclass(frozen=True)
class VersionedValue:
    value: Any


@dataclasses.dataclass(frozen=True)
class MirroredValue:
    value: Any
    budget_gb: float = 10


@dataclasses.dataclass(frozen=True)
class _StepSpecMigrationConfig:
    output_path: Any
    attrs: Any
    deps: list[Any] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class MarinStepSpec:
    """The part of Marin's StepSpec that ``as_executor_step()`` uses; its output path is given, not computed."""

    name: str
    fn: Any
    output_path: str
    deps: list[Any] = dataclasses.field(default_factory=list)
    hash_attrs: dict[str, Any] = dataclasses.field(default_factory=dict)
    resources: Any = None

    def as_executor_step(self) -> ExecutorStep:
        config = _StepSpecMigrationConfig(
            output_path=OutputName(None),
            attrs=VersionedValue(self.hash_attrs),
            deps=[dep.as_executor_step() for dep in self.deps],
        )
        step = ExecutorStep(
            name=self.name, fn=self.fn, config=config, override_output_path=self.output_path, resources=self.resources
        )
        object.__setattr__(step, "_original_step_spec", self)  # as Marin marks a round trip
        return step


def _mirrored(value: Any, budget_gb: float = 10) -> MirroredValue:
    return MirroredValue(value, budget_gb)


api = types.SimpleNamespace(
    ExecutorStep=ExecutorStep,
    InputName=InputName,
    OutputName=OutputName,
    VersionedValue=VersionedValue,
    THIS_OUTPUT_PATH=OutputName(None),
    this_output_path=lambda name=None: OutputName(name),
    output_path_of=lambda step, name=None: InputName(step, name),
    versioned=VersionedValue,
    mirrored=_mirrored,
)
