"""``Executor``: Marin's executor surface for code that drives it directly, running on marin_exec's runtime.

``compute_version`` fills Marin's per-step tables (``versions``, ``version_strs``, ``output_paths``, ``configs``,
``dependencies``) exactly as Marin's does, in Marin's order; ``run`` writes Marin's run-level info and per-step
``.executor_info``, then lowers the steps (``lowering.py``) and hands them to ``StepRunner``: leases, the commit
protocol, skip-a-SUCCESS and ``run_only`` (which stops at steps already done) are marin_exec's. Steps only used
as nonblocking references are not run unless ``run_only`` names them. ``marin_call`` maps Marin's ``executor_main``
arguments. It never runs a step function itself.
"""

from __future__ import annotations

import dataclasses
import datetime
import getpass
import inspect
import json
import logging
import os
import sys
from typing import Any, TypeVar

from marin_exec.compile.compiler import compile_graph
from marin_exec.errors import MarinExecError, StepsFailed
from marin_exec.legacy.instantiate import collect_dependencies_and_version, instantiate_config, prefixed
from marin_exec.legacy.lowering import lower_steps, node_of
from marin_exec.legacy.shapes import kind_of, marin_encode
from marin_exec.legacy.types import LegacyValueError
from marin_exec.run.flags import parse_flags
from marin_exec.run.runner import StepRunner
from marin_exec.status.status import join, worker_id
from marin_exec.storage.store import store_for
from marin_exec.versioning import hash_version, version_json

logger = logging.getLogger(__name__)

MAX_INLINE_DEPTH = 4
T = TypeVar("T")

__all__ = ["Executor", "ExecutorRunFailed", "marin_call"]


class ExecutorRunFailed(StepsFailed, RuntimeError):
    """``Executor.run`` found failed steps; a ``RuntimeError`` too, as Marin's callers expect."""


class Executor:
    """Marin's ``Executor(prefix, executor_info_base_path)``: versions, paths and configs per step, and ``run``."""

    def __init__(self, prefix: str, executor_info_base_path: str, description: str | None = None):
        self.prefix = prefix
        self.executor_info_base_path = executor_info_base_path
        self.description = description
        self.configs: dict[Any, Any] = {}
        self.dependencies: dict[Any, list[Any]] = {}
        self.versions: dict[Any, dict[str, Any]] = {}
        self.is_pseudo_dep: dict[Any, bool] = {}
        self.version_strs: dict[Any, str] = {}
        self.version_str_to_step: dict[str, Any] = {}
        self.hashed_versions: dict[Any, str] = {}
        self.output_paths: dict[Any, str] = {}
        self.steps: list[Any] = []
        self.step_infos: list[dict[str, Any]] = []
        self.executor_info: dict[str, Any] | None = None
        self.executor_info_path: str | None = None
        self._depth: dict[Any, int] = {}

    # -- identity ---------------------------------------------------------------------------------------------

    def compute_version(self, step: Any, is_pseudo_dep: bool = False) -> None:
        """Version ``step`` and everything it references (dependencies first), as Marin does; no recursion."""
        stack: list[tuple[Any, bool, Any]] = [(step, is_pseudo_dep, None)]
        while stack:
            current, pseudo, deps = stack.pop()
            if current in self.versions:
                if not pseudo and self.is_pseudo_dep[current]:
                    logger.info(f"{current.name}: previously only a nonblocking reference, now a dependency")
                    self.is_pseudo_dep[current] = False
                continue
            if deps is not None:
                self._record(current, pseudo, deps)
                continue
            deps = collect_dependencies_and_version(current.config)
            stack.append((current, pseudo, deps))
            upstream = [(d, pseudo, None) for d in deps.dependencies]
            upstream += [(d, True, None) for d in deps.pseudo_dependencies]
            stack.extend(reversed(upstream))

    def _record(self, step: Any, is_pseudo_dep: bool, deps: Any) -> None:
        config = {key: marin_encode(value, key, step.name) for key, value in deps.version.items()}
        version: dict[str, Any] = {
            "name": step.name,
            "config": config,
            "dependencies": [self._dep_version(d) for d in deps.dependencies],
        }
        if deps.pseudo_dependencies:
            version["pseudo_dependencies"] = [self._dep_version(d) for d in deps.pseudo_dependencies]
        version_str = version_json(version)
        hashed = hash_version(version_str)
        output_path = os.path.join(self.prefix, f"{step.name}-{hashed}")
        override = getattr(step, "override_output_path", None)
        if override is not None:
            override = prefixed(self.prefix, override)
            if override != output_path:
                logger.warning(f"{step.name}: output path {output_path} differs from override {override}; using it")
            output_path = override
        if version_str not in self.version_str_to_step:
            self.steps.append(step)
            self.version_str_to_step[version_str] = step
        else:
            logger.warning(f"{step.name}: several ExecutorSteps have this version; they are one step")
        self.configs[step] = instantiate_config(step.config, output_path, self.output_paths, self.prefix)
        self.dependencies[step] = [self.version_str_to_step[self.version_strs[d]] for d in deps.dependencies]
        self.versions[step] = version
        self.version_strs[step] = version_str
        self.hashed_versions[step] = hashed
        self.output_paths[step] = output_path
        self.is_pseudo_dep[step] = is_pseudo_dep
        self._depth[step] = 1 + max(self._depth[d] for d in self.dependencies[step]) if self.dependencies[step] else 0

    def _dep_version(self, dep: Any) -> Any:
        if self._depth[dep] <= MAX_INLINE_DEPTH:
            return self.versions[dep]
        return f"{dep.name}-{self.hashed_versions[dep]}"

    def canonicalize(self, step: Any) -> Any:
        """The step kept for ``step``'s version (several step objects may share one)."""
        return self.version_str_to_step[self.version_strs[step]]

    # -- running ----------------------------------------------------------------------------------------------

    def run(
        self,
        steps: list[Any],
        *,
        dry_run: bool = False,
        run_only: list[str] | None = None,
        force_run_failed: bool = True,
        max_concurrent: int | None = None,
    ) -> dict[Any, str]:
        """Run ``steps`` (ExecutorSteps or InputNames) and what they need; returns every step's output path.

        ``max_concurrent`` caps the steps running at once; None is Marin's default of 8."""
        if max_concurrent is not None and max_concurrent < 1:
            raise LegacyValueError(
                f"max_concurrent must be a positive integer, got {max_concurrent}; pass 1 or more, or None for 8"
            )
        for item in steps:
            step = item.step if kind_of(item) == "InputName" else item
            if step is not None:
                self.compute_version(step, is_pseudo_dep=False)
        self.get_infos()
        if not dry_run:
            self.write_infos()
        chosen = self.steps if run_only is not None else [s for s in self.steps if not self.is_pseudo_dep[s]]
        plan = compile_graph(lower_steps(chosen), prefix=self.prefix)
        for step in chosen:
            path = plan.spec_of[node_of(step)].output_path
            if path != self.output_paths[step]:
                raise MarinExecError(
                    f"step '{step.name}': lowered to {path} but versioned at {self.output_paths[step]} (a bug)"
                )
        try:
            StepRunner().run(
                plan.specs,
                dry_run=dry_run,
                force_run_failed=force_run_failed,
                run_only=run_only,
                max_concurrent=8 if max_concurrent is None else max_concurrent,
            )
        except StepsFailed as e:
            cause = e.__cause__
            detail = f" (first failure: {cause})" if cause is not None else ""
            hint = " The step failed previously; rerun with force_run_failed=True." if not force_run_failed else ""
            raise ExecutorRunFailed(f"{e}{detail}{hint}", failed=e.failed, dep_failed=e.dep_failed) from cause
        finally:
            if not dry_run:
                self._mark_marin_info()
        return self.output_paths

    # -- provenance -------------------------------------------------------------------------------------------

    def _step_info(self, step: Any) -> dict[str, Any]:
        fn = step.fn
        return {
            "name": step.name,
            "fn_name": "None" if fn is None else str(getattr(fn, "fn", fn)),
            "config": _plain(self.configs[step]),
            "description": getattr(step, "description", None),
            "override_output_path": getattr(step, "override_output_path", None),
            "version": self.versions[step],
            "dependencies": [self.output_paths[d] for d in self.dependencies[step]],
            "output_path": self.output_paths[step],
        }

    def get_infos(self) -> None:
        """Marin's run-level info: launch metadata and one record per step, in ``self.steps`` order."""
        self.step_infos = [self._step_info(step) for step in self.steps]
        try:
            user: str | None = getpass.getuser()
        except Exception:
            user = None
        self.executor_info = {
            "worker_id": worker_id(),
            "git_commit": None,
            "caller_path": _caller_path(),
            "created_date": datetime.datetime.now().isoformat(),
            "user": user,
            "prefix": self.prefix,
            "description": self.description,
            "steps": self.step_infos,
        }

    def write_infos(self) -> None:
        """Write ``{executor_info_base_path}/{script}-{hash}.json`` and each step's ``.executor_info``."""
        assert self.executor_info is not None
        record = {k: v for k, v in self.executor_info.items() if k != "description"}
        steps = [{k: v for k, v in info.items() if k != "description"} for info in self.step_infos]
        record["steps"] = steps
        run_hash = hash_version(json.dumps(steps, sort_keys=True, default=str))
        script = os.path.basename(self.executor_info["caller_path"]).replace(".py", "")
        self.executor_info_path = os.path.join(self.executor_info_base_path, f"{script}-{run_hash}.json")
        logger.info(f"writing executor info to {self.executor_info_path}")
        for step, info in zip(self.steps, steps, strict=True):
            path = join(self.output_paths[step], ".executor_info")
            store_for(path).write(path, json.dumps(info, indent=2, default=str).encode())
        store_for(self.executor_info_path).write(
            self.executor_info_path, json.dumps(record, indent=2, default=str).encode()
        )

    def _mark_marin_info(self) -> None:
        """After the run, put Marin's fields (its full version, its config record) back into the ``.executor_info``
        that marin_exec's commit rewrote, keeping marin_exec's own fields (its executor marker among them)."""
        for step, info in zip(self.steps, self.step_infos, strict=True):
            path = join(self.output_paths[step], ".executor_info")
            store = store_for(path)
            try:
                found = store.read(path)
                ours = json.loads(found[0]) if found is not None else None
            except Exception as error:
                logger.warning(f"{step.name}: could not read {path} to add Marin's fields ({error!r})")
                continue
            marin = json.loads(json.dumps({k: v for k, v in info.items() if k != "description"}, default=str))
            if isinstance(ours, dict) and any(ours.get(k) != v for k, v in marin.items()):
                store.write(path, json.dumps({**ours, **marin}, indent=2, default=str).encode())


def _plain(value: Any) -> Any:
    """A config as Marin records it: dataclasses as dicts, recursively."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _caller_path() -> str:
    for frame in reversed(inspect.stack(context=0)):
        if not frame.filename.startswith("<"):
            return frame.filename
    return sys.argv[0]


def marin_call(steps: Any, description: Any, config: Any, max_concurrent: int | None, config_class: type[T]) -> Any:
    """``executor_main``'s arguments when called as Marin's: ``(config, steps, description)`` with the config first
    (marin_exec's ``ExecutorMainConfig`` or Marin's own, fields copied by name), and ``max_concurrent=N``, which wins
    over ``--max_concurrent`` and must be 1 or more. Returns ``(steps, description, config)``."""
    if type(steps).__name__ == "ExecutorMainConfig":
        steps, description, config = description, config, _marin_config(steps, config_class)
    if max_concurrent is not None:
        if config is None:
            config = parse_flags(sys.argv[1:], config_class)
        if max_concurrent < 1:
            raise LegacyValueError(
                f"executor_main(max_concurrent={max_concurrent!r}): give the number of steps to run at once (1 or more)"
            )
        config = dataclasses.replace(config, max_concurrent=max_concurrent)
    return steps, description, config


def _marin_config(config: Any, config_class: type[T]) -> T:
    """``config`` as a ``config_class``: its fields copied by name, Marin's ``None`` meaning marin_exec's default
    (Marin's ``max_concurrent=None`` runs 8 steps at once, as marin_exec's default does)."""
    if isinstance(config, config_class):
        return config
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        values = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    else:
        values = dict(vars(config))
    ours = {f.name for f in dataclasses.fields(config_class)}  # type: ignore[arg-type]
    unknown = sorted(k for k, v in values.items() if k not in ours and v not in (None, False, [], ()))
    if unknown:
        raise LegacyValueError(
            f"executor_main: the ExecutorMainConfig passed first sets {unknown}, which marin_exec has no flag for; "
            f"drop them or use marin_exec's ExecutorMainConfig (its fields: {sorted(ours)})"
        )
    return config_class(**{k: v for k, v in values.items() if k in ours and v is not None})
