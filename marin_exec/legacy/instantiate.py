"""Marin's two config functions, with its semantics: ``collect_dependencies_and_version`` (what a config adds to
its step's version) and ``instantiate_config`` (the config the step's function receives).

They serve ``legacy.Executor`` and code that called Marin's versions directly. The executor_main path does not use
them: there the compiler resolves the lowered graph (``lowering.py``) to the same values.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any
from urllib.parse import urlparse

from marin_exec.errors import MarinExecError
from marin_exec.legacy.lowering import walk
from marin_exec.legacy.shapes import REBUILD, kind_of, marin_rebuild


@dataclasses.dataclass(frozen=True)
class Dependencies:
    """A config's blocking and nonblocking upstream steps (walk order, repeats kept) and its version entries."""

    dependencies: list[Any]
    pseudo_dependencies: list[Any]
    version: dict[str, Any]


def collect_dependencies_and_version(obj: Any) -> Dependencies:
    """The steps ``obj`` references and its version entries: ``{"a": 1, "b.c": "DEP[0]/sub"}`` (values raw)."""
    dependencies: list[Any] = []
    pseudo: list[Any] = []
    version: dict[str, Any] = {}
    for key, kind, item in walk(obj, "", "<config>"):
        if kind in ("VersionedValue", "MirroredVersion"):
            version[key] = item.value
        elif kind in ("ExecutorStep", "InputName"):
            step, name, blocking = (item, None, True) if kind == "ExecutorStep" else _input(item)
            if step is None:
                version[key] = name
                continue
            index = len(dependencies) + len(pseudo)
            (dependencies if blocking else pseudo).append(step)
            version[key] = f"DEP[{index}]" + (f"/{name}" if name else "")
        elif kind == "StepRef":
            raise MarinExecError(
                f"config key '{key}' holds {item!r}, a marin_exec StepRef; legacy.Executor runs ExecutorStep graphs "
                "only. Run graphs that mix both with marin_exec.executor_main or run_executor."
            )
    return Dependencies(dependencies, pseudo, version)


def _input(name: Any) -> tuple[Any, str | None, bool]:
    return name.step, name.name, bool(name.block_on_step)


def prefixed(prefix: str, path: str) -> str:
    """``path`` under ``prefix`` unless it is absolute or a URL (Marin's rule for hard-coded and pinned paths)."""
    if urlparse(path).scheme or path.startswith("/"):
        return path
    return os.path.join(prefix, path)


def instantiate_config(config: Any, output_path: str | None, output_paths: dict[Any, str], prefix: str) -> Any:
    """``config`` with every placeholder replaced by the concrete value Marin's executor passes to the function."""

    def join(base: str, name: str | None) -> str:
        return os.path.join(base, name) if name else base

    def resolve(obj: Any) -> Any:
        kind = kind_of(obj)
        if kind == "ExecutorStep":
            return output_paths[obj]
        if kind == "MirroredValue":
            inner = marin_rebuild(obj.value, resolve)
            return f"mirror://{inner}" if isinstance(inner, str) and not inner.startswith("mirror://") else inner
        if kind == "InputName":
            return prefixed(prefix, obj.name) if obj.step is None else join(output_paths[obj.step], obj.name)
        if kind == "OutputName":
            if output_path is None:
                raise MarinExecError(f"cannot resolve this_output_path({obj.name!r}): no output path was given")
            return join(output_path, obj.name)
        if kind == "VersionedValue":
            return obj.value
        return REBUILD

    return marin_rebuild(config, resolve)
