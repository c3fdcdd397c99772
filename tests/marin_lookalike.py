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
