"""The package layout as rules that fail when broken: no import cycle (function-level imports included), imports
point down the layers only, the runner cannot reach a wrapper, modules stay small, ``import marin_exec`` stays light.

Imports are read from the source with ``ast``; those under ``if TYPE_CHECKING:`` are left out, since they never
run (they only name types for the checker).
"""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import networkx as nx
import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "marin_exec"

# Lower layers never import higher ones. The shared bottom is the package's top-level modules.
LAYERS = {"bottom": 0, "storage": 1, "status": 2, "runtime": 3, "trace": 4, "compile": 5, "run": 6, "__init__": 7}
LAYERS["lazy"] = LAYERS["__init__"]  # marin_exec.lazy (Marin's lazy API) sits on top; the core reaches it by name only
# marin_exec.legacy speaks Marin's vocabulary at every layer, so each of its modules sits in the layer of what it does:
# the vocabulary at the bottom, lowering ExecutorSteps to traced nodes in trace, Marin's Executor, the migrate
# commands and its kind (what the one door for foreign steps, trace.foreign, loads by name) in run, and its public
# surface at the top. No module outside it imports it: see FOREIGN_KINDS.
LEGACY_LAYERS = {
    "types": "bottom",
    "shapes": "bottom",
    "mirror": "bottom",
    "lowering": "trace",
    "traced": "trace",
    "instantiate": "trace",
    "migrate_sketch": "trace",
    "executor": "run",
    "migrate": "run",
    "migrate_check": "run",
    "kind": "run",
    "legacy": "__init__",
}
WRAPPERS = {"marin_exec.runtime.disk_cache", "marin_exec.runtime.distributed_lock", "marin_exec.runtime.remote"}


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Every marin_exec module ``tree`` imports at run time, at any depth (functions and methods included)."""
    found: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if _is_type_checking_block(node):
            continue
        stack.extend(ast.iter_child_nodes(node))
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("marin_exec"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            if base.startswith("marin_exec"):
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _graph() -> nx.DiGraph:
    files = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = nx.DiGraph()
    graph.add_nodes_from(files)
    for module, path in files.items():
        tree = ast.parse(path.read_text())
        for target in _imports(tree, module, path.name == "__init__.py"):
            if target in files and target != module:
                graph.add_edge(module, target)
    return graph


def _layer(module: str) -> int:
    parts = module.split(".")
    if module == "marin_exec":
        return LAYERS["__init__"]
    if len(parts) == 2 and not (PACKAGE / parts[1]).is_dir():
        return LAYERS["bottom"] if parts[1] != "__main__" else LAYERS["__init__"]
    if parts[1] == "legacy":
        return LAYERS[LEGACY_LAYERS[parts[-1]]]
    return LAYERS[parts[1]]


def test_the_package_has_no_import_cycle_even_through_function_level_imports():
    graph = _graph()
    cycles = list(nx.simple_cycles(graph))
    assert cycles == [], f"import cycles: {cycles}"


def test_cycle_detection_sees_an_import_made_inside_a_function():
    tree = ast.parse("def f():\n    from marin_exec.trace.graph import trace\n")
    assert "marin_exec.trace.graph" in _imports(tree, "marin_exec.trace.step_ref", False)


def test_imports_made_only_for_type_checking_are_not_counted():
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from marin_exec.run import runner\n")
    assert _imports(tree, "marin_exec.storage.store", False) == set()


def test_every_import_points_to_the_same_layer_or_a_lower_one():
    upward = [(a, b) for a, b in _graph().edges if _layer(b) > _layer(a)]
    assert upward == [], f"imports that point up the layers {LAYERS}: {upward}"


# Packages for steps other libraries define (issue 19): they enter through marin_exec.trace.foreign, which imports
# their ``kind`` modules by name when it meets such an object. Nothing else imports them, so the core never climbs
# to them (``run/cli.py`` and ``trace/step.py`` once did).
FOREIGN_KINDS = ("marin_exec.legacy", "marin_exec.lazy")


def test_no_module_outside_a_foreign_kind_imports_it():
    def inside(module: str, package: str) -> bool:
        return module == package or module.startswith(package + ".")

    climbs = [
        (a, b) for a, b in _graph().edges for package in FOREIGN_KINDS if inside(b, package) and not inside(a, package)
    ]
    assert climbs == [], f"imports of a foreign kind's package from outside it (use marin_exec.trace.foreign): {climbs}"


def test_the_foreign_door_names_each_kind_module_and_each_exposes_a_kind():
    import importlib

    from marin_exec.trace import foreign

    for name in foreign.KIND_MODULES:
        assert any(name.startswith(package + ".") for package in FOREIGN_KINDS), name
        kind = importlib.import_module(name).KIND
        assert callable(kind.recognises) and callable(kind.lower_steps) and callable(kind.lower_config)


def test_the_runner_cannot_reach_a_wrapper_module_through_its_imports():
    reachable = nx.descendants(_graph(), "marin_exec.run.runner")
    assert "marin_exec.run.plan" in reachable  # the walk does see the runner's own imports
    assert not reachable & WRAPPERS
    assert not {m for m in reachable if m.startswith("marin_exec.runtime.")}


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_grows_past_330_lines(path: pathlib.Path):
    assert len(path.read_text().splitlines()) <= 330


def test_the_package_init_only_imports_and_lists_the_public_api():
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    kinds = {type(node).__name__ for node in tree.body[1:]}  # after the docstring
    assert kinds <= {"ImportFrom", "Assign", "If"}
    checked = [n for n in tree.body if isinstance(n, ast.If)]  # only ``if TYPE_CHECKING:`` and imports under it
    assert all(ast.unparse(n.test) == "TYPE_CHECKING" and not n.orelse for n in checked)
    assert all(isinstance(node, ast.ImportFrom) for n in checked for node in n.body)
    imported = {alias.asname or alias.name for n in tree.body if isinstance(n, ast.ImportFrom) for alias in n.names}
    for_types = {alias.name: n.module for c in checked for n in c.body for alias in n.names}
    import marin_exec
    from marin_exec.extras import LAZY_EXPORTS, OWN_EXPORTS  # served by the imported __getattr__, on first use

    assert for_types == OWN_EXPORTS  # what type checkers see is what is served
    public = imported - {"__getattr__", "TYPE_CHECKING"} | set(for_types) | set(LAZY_EXPORTS)
    assert set(marin_exec.__all__) == public


def test_every_public_name_is_what_its_module_defines():  # first use through the package's __getattr__
    code = (
        "import importlib, marin_exec\n"
        "from marin_exec.extras import OWN_EXPORTS\n"
        "for name, module in OWN_EXPORTS.items():\n"
        "    assert getattr(marin_exec, name) is getattr(importlib.import_module(module), name), name\n"
        "from marin_exec import trace\n"
        "assert callable(trace), trace  # the function, not the subpackage its modules' import sets\n"
        "print('checked', len(OWN_EXPORTS))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    from marin_exec.extras import OWN_EXPORTS

    assert out.split() == ["checked", str(len(OWN_EXPORTS))]


def test_importing_marin_exec_does_not_import_fray_or_asyncio():
    heavy = "('fray', 'iris', 'asyncio', 'gcsfs', 's3fs', 'networkx', 'rich')"
    code = f"import sys, marin_exec; print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# Imported where they are used, never by ``import marin_exec``: what only a run, a dry run, an error, a remote step,
# a store other than the local one or Marin's ExecutorSteps need. Sources are compiled on every import where bytecode
# is not cached, so each module costs the import milliseconds; these stdlib ones ~2-7 ms each (bench_import.py).
LOADED_WHEN_USED = (
    "marin_exec.lazy",
    "marin_exec.legacy",
    "marin_exec.progress_display",
    "marin_exec.run.earlier",
    "marin_exec.run.export",
    "marin_exec.run.flags",
    "marin_exec.run.force_rerun",
    "marin_exec.run.inspect_steps",
    "marin_exec.run.interrupts",
    "marin_exec.run.render",
    "marin_exec.run.run_files",
    "marin_exec.run.summary",
    "marin_exec.run.unlock_steps",
    "marin_exec.run.usage",
    "marin_exec.runtime.fray_job",
    "marin_exec.runtime.heartbeat",
    "marin_exec.runtime.remote_failure",
    "marin_exec.runtime.step_job",
    "marin_exec.runtime.unsaveable",
    "marin_exec.status.failure",
    "marin_exec.status.step_status",
    "marin_exec.storage.fsspec_store",
    "marin_exec.storage.gcs_store",
    "marin_exec.storage.memory_store",
    "marin_exec.storage.s3_store",
    "marin_exec.trace.missing_deferred",
    "marin_exec.trace.trace_errors",
)
STDLIB_LOADED_WHEN_USED = ("getpass", "hashlib", "platform", "shlex", "signal", "socket", "subprocess", "uuid")


def test_importing_marin_exec_loads_no_module_that_only_running_or_an_error_needs():
    code = "import sys; before = set(sys.modules); import marin_exec; print(' '.join(set(sys.modules) - before))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    watched = (*LOADED_WHEN_USED, *STDLIB_LOADED_WHEN_USED)
    assert [m for m in loaded if m in watched or m.startswith(tuple(f"{w}." for w in watched))] == []


def test_the_modules_loaded_only_when_used_exist():  # a renamed module would silently leave the list above
    files = {_module_name(path) for path in PACKAGE.rglob("*.py")}
    assert [m for m in LOADED_WHEN_USED if m not in files] == []


DOCS = [PACKAGE.parent / "README.md", PACKAGE.parent / "MIGRATION.md", PACKAGE.parent / "docs" / "ARCHITECTURE.md"]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_the_documents_link_only_to_files_in_the_repository(doc: pathlib.Path):
    import re

    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text())
    local = [t for t in targets if "://" not in t and not t.startswith("mailto:")]
    missing = [t for t in local if not (doc.parent / t).exists()]
    assert missing == []


def test_the_architecture_document_gives_every_module_its_contract():
    text = (PACKAGE.parent / "docs" / "ARCHITECTURE.md").read_text()
    modules = [p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py"]
    unlisted = [str(p.relative_to(PACKAGE)) for p in modules if f"`{p.name}`" not in text]
    assert unlisted == []


def _reexports(path: pathlib.Path) -> list[str]:
    """Names a module lists in ``__all__`` but only imports (defined elsewhere)."""
    tree = ast.parse(path.read_text())
    imported = {alias.asname or alias.name for n in tree.body if isinstance(n, ast.ImportFrom) for alias in n.names}
    listed: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            listed = [elt.value for elt in node.value.elts]
    return [name for name in listed if name in imported]


@pytest.mark.parametrize(
    "path",
    # The two public surfaces re-export by design: ``marin_exec`` and ``marin_exec.legacy`` (Marin's vocabulary).
    [
        p
        for p in sorted(PACKAGE.rglob("*.py"))
        if p.name != "__init__.py" or p.parent not in (PACKAGE, PACKAGE / "legacy")
    ],
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_no_module_inside_the_package_re_exports_what_it_imports(path: pathlib.Path):
    assert _reexports(path) == []
