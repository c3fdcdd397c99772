"""``migrate sketch``: an ExecutorStep experiment written as ``@step`` code that keeps every output path.

The experiment is imported (not run: ``executor_main`` stays behind its ``__main__`` guard), the steps its
``executor_main(steps=...)`` call names are evaluated in it (else every ExecutorStep the module holds is taken), and
each is followed to everything it references. Each becomes one wiring ``@step`` with the same name,
the same config and ``versioned`` values in the same places, and StepRef parameters for its upstream steps; one
entry point calls them all. The library layer (functions, config classes) is imported where it lives. The sketch is
a starting point that a dry run can check, not a formatter: values that cannot be written as source are refused.
"""

from __future__ import annotations

import ast
import dataclasses
import datetime
import enum
import importlib
import keyword
import pathlib
import re
import sys
from typing import Any

from marin_exec.errors import MarinExecError
from marin_exec.legacy.lowering import walk
from marin_exec.legacy.shapes import kind_of
from marin_exec.trace.step_ref import StepRef
from marin_exec.versioning import encode


class SketchError(MarinExecError):
    """Part of the experiment cannot be written as @step code by the sketch."""


def sketch_file(path: str) -> str:
    """The @step sketch of the experiment at ``path``, as Python source."""
    module = _import(pathlib.Path(path).resolve())
    roots = _roots(_main_steps(pathlib.Path(path).read_text(), vars(module)) or vars(module))
    if not roots:
        raise SketchError(f"{path}: no ExecutorStep found among the module's top-level names")
    return _Writer(_graph(roots), module.__name__).source()


def _import(path: pathlib.Path) -> Any:
    cwd = pathlib.Path.cwd().resolve()
    if path.is_relative_to(cwd):
        root, parts = cwd, path.relative_to(cwd).with_suffix("").parts
    else:
        root, parts = path.parent, (path.stem,)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return importlib.import_module(".".join(parts))


def _main_steps(source: str, namespace: dict[str, Any]) -> dict[str, Any]:
    """The steps the file's ``executor_main(steps=...)`` call would run, evaluated in the module (empty if none)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "executor_main":
            steps = next((k.value for k in node.keywords if k.arg == "steps"), node.args[0] if node.args else None)
            if steps is not None:
                return {"steps": eval(compile(ast.Expression(steps), "<executor_main steps>", "eval"), dict(namespace))}
    return {}


def _roots(namespace: dict[str, Any]) -> list[Any]:
    """ExecutorSteps among the values (and lists of values) of ``namespace``, in order."""
    found: list[Any] = []
    for value in namespace.values():
        for item in value if isinstance(value, (list, tuple)) else [value]:
            kind = kind_of(item)
            step = item.step if kind == "InputName" else item if kind == "ExecutorStep" else None
            if step is not None and all(step is not s for s in found):
                found.append(step)
    return found


def _upstream(step: Any) -> list[Any]:
    ups: list[Any] = []
    for _, kind, obj in walk(step.config, "", step.name):
        dep = obj if kind == "ExecutorStep" else obj.step if kind == "InputName" else None
        if kind == "StepRef":
            raise SketchError(f"step '{step.name}': its config holds a StepRef; sketch ExecutorStep-only experiments")
        if dep is not None and all(dep is not u for u in ups):
            ups.append(dep)
    return ups


def _graph(roots: list[Any]) -> list[Any]:
    """Every step reachable from ``roots``, each after the steps it references."""
    order: list[Any] = []
    done: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False) for root in reversed(roots)]
    while stack:
        step, expanded = stack.pop()
        if id(step) in done:
            continue
        if expanded:
            done.add(id(step))
            order.append(step)
            continue
        stack.append((step, True))
        stack.extend((up, False) for up in reversed(_upstream(step)) if id(up) not in done)
    return order


class _Writer:
    def __init__(self, steps: list[Any], module: str):
        self.steps, self.module = steps, module
        self.imports: dict[tuple[str, str], str] = {}
        self.idents: dict[int, str] = {}
        for step in steps:
            base = re.sub(r"\W+", "_", step.name).strip("_").lower() or "step"
            base = f"_{base}" if base[0].isdigit() or keyword.iskeyword(base) else base
            ident, n = base, 2
            while ident in self.idents.values():
                ident, n = f"{base}_{n}", n + 1
            self.idents[id(step)] = ident

    def name_of(self, obj: Any, what: str) -> str:
        """A local name for an importable module-level object (function, class, Enum)."""
        module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", "")
        if not module or "." in qualname or "<" in qualname or module == "__main__":
            raise SketchError(f"{what} {obj!r} is not importable by name; move it to a library module")
        key = (module, qualname)
        if key not in self.imports:
            taken = set(self.imports.values())
            local, n = qualname, 2
            while local in taken:
                local, n = f"{qualname}_{n}", n + 1
            self.imports[key] = local
        return self.imports[key]

    def expr(self, value: Any, step: Any) -> str:
        kind = kind_of(value)
        if kind == "ExecutorStep":
            return self.idents[id(value)]
        if kind == "InputName":
            if value.step is None:
                return f"StepRef.hardcoded({value.name!r})"
            text = self.idents[id(value.step)] + (f" / {value.name!r}" if value.name else "")
            return text if value.block_on_step else f"({text}).nonblocking()"
        if kind == "OutputName":
            return f"output({value.name!r})" if value.name else "output()"
        if kind == "VersionedValue":
            try:
                encode(value.value, "", step.name)
            except MarinExecError:  # Marin hashed its str(); versioning the str keeps the path (MIGRATION.md §7)
                return f"versioned(str({self.expr(value.value, step)}))"
            return f"versioned({self.expr(value.value, step)})"
        if kind == "MirroredValue":
            if kind_of(value.value) == "VersionedValue":
                return f"mirrored({self.expr(value.value, step)}, budget_gb={value.budget_gb!r})"
            return repr(f"mirror://{value.value}")
        if value is None or isinstance(value, (bool, int, float, str)):
            return repr(value)
        if isinstance(value, enum.Enum):
            return f"{self.name_of(type(value), 'the Enum')}.{value.name}"
        if isinstance(value, pathlib.PurePath):
            return f"{self.name_of(type(value), 'the path type')}({str(value)!r})"
        if isinstance(value, datetime.timedelta):
            td = self.name_of(datetime.timedelta, "timedelta")
            return f"{td}(days={value.days}, seconds={value.seconds}, microseconds={value.microseconds})"
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            cls = self.name_of(type(value), "the config class")
            fields = [f for f in dataclasses.fields(value) if f.init]
            return f"{cls}(" + ", ".join(f"{f.name}={self.expr(getattr(value, f.name), step)}" for f in fields) + ")"
        if isinstance(value, dict):
            return "{" + ", ".join(f"{k!r}: {self.expr(v, step)}" for k, v in value.items()) + "}"
        if isinstance(value, list):
            return "[" + ", ".join(self.expr(v, step) for v in value) + "]"
        if isinstance(value, tuple) and type(value) is tuple:
            return "(" + "".join(f"{self.expr(v, step)}, " for v in value) + ")"
        text, value_type = repr(value), type(value)
        for spelled in (f"{value_type.__module__}.{value_type.__qualname__}(", f"{value_type.__qualname__}("):
            if text.startswith(spelled):  # a repr that reads as a constructor call: datetime.date(2024, 6, 1)
                return self.name_of(value_type, "the value's type") + text[len(spelled) - 1 :]
        raise SketchError(f"step '{step.name}': cannot write {value!r} ({type(value).__qualname__}) as source")

    def wiring(self, step: Any) -> str:
        if getattr(step, "_original_step_spec", None) is not None or isinstance(step.fn, StepRef):
            raise SketchError(f"step '{step.name}' comes from StepSpec.as_executor_step(); keep it as it is (mix)")
        fn = step.fn.fn if type(step.fn).__name__ == "RemoteCallable" else step.fn
        deferred_name = f"_{self.idents[id(step)]}_fn"
        options = [f"name={_template(step.name)}"]
        for option in ("description", "override_output_path", "pip_dependency_groups", "env_vars"):
            value = getattr(step, option, None)
            if value is not None:
                options.append(f"{option}={_template(value) if isinstance(value, str) else repr(value)}")
        resources = getattr(step, "resources", None) or getattr(step.fn, "resources", None)
        note = f"  # resources: {resources!r} -> pass resources=... to @step\n" if resources is not None else ""
        params = ", ".join(f"{self.idents[id(up)]}: StepRef" for up in _upstream(step))
        return (
            f"{deferred_name} = deferred({self.name_of(fn, 'the step function')})\n\n\n"
            f"{note}@step({', '.join(options)})\n"
            f"def {self.idents[id(step)]}({params}):\n"
            f"    return {deferred_name}({self.expr(step.config, step)})\n"
        )

    def source(self) -> str:
        wiring = "\n\n".join(self.wiring(step) for step in self.steps)
        calls = []
        for step in self.steps:
            args = ", ".join(f"{self.idents[id(u)]}={self.idents[id(u)]}_ref" for u in _upstream(step))
            calls.append(f"    {self.idents[id(step)]}_ref = {self.idents[id(step)]}({args})")
        library = "\n".join(
            f"from {m} import {q}" + (f" as {local}" if local != q else "")
            for (m, q), local in sorted(self.imports.items())
        )
        return (
            f'"""@step sketch of {self.module}, written by `python -m marin_exec migrate sketch`: the same step names, '
            'configs and versioned values, so the same output paths (check with --dry_run true)."""\n\n'
            "# -- layer 1, library: functions and config classes stay where they live (drop their executor imports)\n"
            f"{library}\n"
            "from marin_exec import StepRef, deferred, executor_main, output, step, versioned\n"
            + ("from marin_exec.legacy import mirrored\n" if "mirrored(" in wiring else "")
            + "\n"
            "# -- layer 2, wiring (a module under steps/): one @step per ExecutorStep\n"
            f"{wiring}\n\n"
            "# -- layer 3, user code: one entry point that calls the steps\n"
            f"@step(name={_template('pipelines/' + self.module.rsplit('.', 1)[-1])})\n"
            "def pipeline():\n" + "\n".join(calls) + "\n\n\n"
            'if __name__ == "__main__":\n'
            "    executor_main(steps=[pipeline()])\n"
        )


def _template(text: str) -> str:
    """``text`` as a @step name/path literal: braces doubled, so they are not taken for {param} placeholders."""
    return repr(text.replace("{", "{{").replace("}", "}}"))
