"""``migrate check``: find MIGRATION.md's anti-patterns in Python source, each with file:line and its fix.

Codes M1-M8 are MIGRATION.md's anti-pattern sections 1-8; M9 is a Marin placeholder left in ``@step`` code.
A static reading (``ast``): nothing is imported or run. Names are followed through imports, so an alias of
``marin.execution``'s ``ExecutorStep`` is still found; code that builds names dynamically is not. It reports, it
does not rewrite.
"""

from __future__ import annotations

import ast
import dataclasses
import pathlib
from collections.abc import Iterable, Iterator

_EXECUTOR_MODULES = ("marin.execution", "marin_exec.legacy")
_LIBRARY_DIRS = {"lib", "library"}
_NUMERIC_MODULES = {"np", "numpy", "jnp", "jax", "torch"}
_EQUIVALENT = {
    "ExecutorStep": "a @step function (its body returns the deferred call)",
    "this_output_path": "output() / output('sub')",
    "THIS_OUTPUT_PATH": "output()",
    "output_path_of": "ref / 'sub' on the StepRef of the upstream step",
    "InputName": "StepRef.hardcoded(path) or ref.nonblocking()",
    "versioned": "marin_exec's versioned",
    "ensure_versioned": "marin_exec's versioned",
    "mirrored": "the string 'mirror://path' (or mirrored(versioned(path)) kept in an ExecutorStep)",
}


@dataclasses.dataclass(frozen=True)
class Finding:
    path: str
    line: int
    code: str
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.code} {self.problem}\n    fix: {self.fix}"


def check_paths(paths: Iterable[str]) -> list[Finding]:
    """Every finding in the Python files at ``paths`` (directories are searched), in file and line order."""
    findings: list[Finding] = []
    for file in _python_files(paths):
        findings.extend(check_source(file.read_text(), str(file)))
    return findings


def render(findings: list[Finding]) -> str:
    if not findings:
        return "no migration anti-patterns found"
    files = len({f.path for f in findings})
    return "\n".join(map(str, findings)) + f"\n{len(findings)} finding(s) in {files} file(s); see MIGRATION.md"


def _python_files(paths: Iterable[str]) -> Iterator[pathlib.Path]:
    for path in map(pathlib.Path, paths):
        yield from sorted(path.rglob("*.py")) if path.is_dir() else [path]


def check_source(source: str, path: str) -> list[Finding]:
    tree = ast.parse(source, filename=path)
    checker = _Checker(path, is_library=bool(_LIBRARY_DIRS & set(pathlib.Path(path).parts[:-1])))
    checker.visit(tree)
    return sorted(checker.findings, key=lambda f: (f.line, f.code))


class _Checker(ast.NodeVisitor):
    def __init__(self, path: str, is_library: bool):
        self.path, self.is_library = path, is_library
        self.findings: list[Finding] = []
        self.names: dict[str, str] = {}  # local name -> executor name it is bound to
        self.modules: set[str] = set()  # local names of executor modules
        self.step_functions: set[str] = set()
        self.depth = 0  # 0 at module level (outside functions and classes)
        self.in_step = False
        self.in_class = False

    def add(self, node: ast.AST, code: str, problem: str, fix: str) -> None:
        self.findings.append(Finding(self.path, getattr(node, "lineno", 0), code, problem, fix))

    def executor_name(self, node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            return self.names.get(node.id)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in self.modules:
            return node.attr
        return None

    # -- imports --------------------------------------------------------------------------------------------

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.startswith(_EXECUTOR_MODULES):
                self.modules.add(alias.asname or alias.name)
                self._library_import(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if module.startswith(("marin.execution", "marin_exec")):
            self._library_import(node, module)
        if module.startswith("marin_exec.") and not module.startswith(("marin_exec.legacy", "marin_exec.lazy")):
            self.add(
                node,
                "M5",
                f"import from the submodule {module}",
                "import from the package root: from marin_exec import ...",
            )
        if module.startswith(_EXECUTOR_MODULES):
            for alias in node.names:
                self.names[alias.asname or alias.name] = alias.name

    def _library_import(self, node: ast.AST, module: str) -> None:
        if self.is_library:
            self.add(
                node,
                "M1",
                f"library code imports the executor ({module})",
                "library functions take plain values (str paths, required output_path) and never import an "
                "executor; build steps in wiring code (deferred + @step)",
            )

    # -- definitions ------------------------------------------------------------------------------------------

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        is_step = any(_callee_name(d) == "step" for d in node.decorator_list)
        if is_step and self.depth == 0:
            self.step_functions.add(node.name)
        outer = (self.in_step, self.depth)
        self.in_step, self.depth = self.in_step or is_step, self.depth + 1
        self.generic_visit(node)
        self.in_step, self.depth = outer

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        outer = (self.in_class, self.depth)
        self.in_class, self.depth = True, self.depth + 1
        for item in node.body:
            value = item.value if isinstance(item, (ast.AnnAssign, ast.Assign)) else None
            if value is not None and any(
                self.executor_name(n) in ("THIS_OUTPUT_PATH", "this_output_path") for n in ast.walk(value)
            ):
                self.add(
                    item,
                    "M2",
                    "a config field defaults to THIS_OUTPUT_PATH / this_output_path()",
                    "make the output field a required str with no default; the wiring passes output() explicitly",
                )
        self.generic_visit(node)
        self.in_class, self.depth = outer

    def visit_If(self, node: ast.If) -> None:
        if self.depth == 0 and _is_main_guard(node.test):
            self.depth += 1  # what runs under `if __name__ == "__main__":` is not import time
            self.generic_visit(node)
            self.depth -= 1
        else:
            self.generic_visit(node)

    # -- uses -------------------------------------------------------------------------------------------------

    def visit_Name(self, node: ast.Name) -> None:
        name = self.names.get(node.id)
        if self.in_step and name in _EQUIVALENT:
            self.add(node, "M9", f"Marin's {name} inside @step code", f"use {_EQUIVALENT[name]}")

    def visit_Call(self, node: ast.Call) -> None:
        name = self.executor_name(node.func)
        callee = _callee_name(node.func)
        if name == "ExecutorStep":
            self.add(
                node,
                "M3",
                "ExecutorStep(...) constructed",
                "wrap fn once with deferred() and declare a @step(name=...) whose body returns fn(config)",
            )
            if self.depth == 0:
                self._import_time(node, "an ExecutorStep is built")
        elif self.depth == 0 and callee in self.step_functions:
            self._import_time(node, f"the @step {callee}() is called")
        if callee == "executor_main":
            self._explicit_list(node)
        if callee == "versioned" and node.args:
            self._versioned_value(node, node.args[0])
        self.generic_visit(node)

    def _import_time(self, node: ast.AST, what: str) -> None:
        self.add(
            node,
            "M6",
            f"{what} at import time",
            "make it a function and call it from the entry point, under if __name__ == '__main__'",
        )

    def _explicit_list(self, node: ast.Call) -> None:
        steps = next((k.value for k in node.keywords if k.arg == "steps"), node.args[0] if node.args else None)
        if isinstance(steps, (ast.List, ast.Tuple)) and (
            len(steps.elts) > 1 or any(isinstance(e, ast.Starred) for e in steps.elts)
        ):
            self.add(
                node,
                "M4",
                "executor_main gets an explicit list of steps",
                "pass one entry point: executor_main(steps=[entry()])",
            )

    def _versioned_value(self, node: ast.Call, value: ast.expr) -> None:
        if isinstance(value, (ast.Set, ast.SetComp)) or (
            isinstance(value, ast.Call) and _callee_name(value.func) in ("set", "frozenset")
        ):
            self.add(node, "M8", "a set is versioned", "version a sorted list instead (sets have no stable order)")
        elif isinstance(value, ast.Call) and _root_name(value.func) in _NUMERIC_MODULES:
            self.add(
                node,
                "M7",
                "a value JSON cannot encode is versioned",
                "version a plain value: versioned(str(x)) keeps Marin's path, versioned(float(x)) a new one",
            )


def _callee_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _is_main_guard(test: ast.expr) -> bool:
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators)
    )
