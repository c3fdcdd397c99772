"""MIGRATION.md's examples: every after block keeps the output paths Marin gave its before block, and every block runs.

Blocks are found by their marker comments (see benchmarks/peer/migration_paths.py, which also parses them). Marin's
paths come from tests/golden/migration_paths.json, recorded by running the before blocks with Marin's own executor;
these tests never need Marin. After blocks are compiled against a tmp prefix and dry-run through executor_main; the
complete example is also run for real.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import json
import re
import runpy
import shlex
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import marin_exec
from marin_exec import ExecutorMainConfig, compile_graph

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden" / "migration_paths.json"
PEER_SCRIPT = ROOT / "benchmarks" / "peer" / "migration_paths.py"
REGENERATE = "/work/peer-venv/bin/python benchmarks/peer/migration_paths.py"


def _load_parser() -> ModuleType:
    spec = importlib.util.spec_from_file_location("migration_paths", PEER_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("migration_paths", module)  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


parser = _load_parser()
BLOCKS = parser.parse_blocks((ROOT / "MIGRATION.md").read_text())
EXAMPLES: dict[str, dict[str, list[Any]]] = parser.examples(BLOCKS)
GOLDEN_EXAMPLES: dict[str, dict[str, Any]] = json.loads(GOLDEN.read_text())["examples"]

KEPT = [name for name, sides in EXAMPLES.items() if "after" in sides and "before" in sides]
KEPT_PATHS = [name for name in KEPT if not GOLDEN_EXAMPLES.get(name, {}).get("paths_change")]
NEW_PATHS = [name for name in KEPT if GOLDEN_EXAMPLES.get(name, {}).get("paths_change")]
ERROR_BLOCKS = [block for sides in EXAMPLES.values() for block in sides.get("raises", [])]
DIFFERS_BLOCKS = [block for sides in EXAMPLES.values() for block in sides.get("differs", [])]
EXECUTOR_BLOCKS = [b for b in BLOCKS if b.lang == "python" and b.role in ("after", "raises", "differs")]


def _block_id(block: Any) -> str:
    return f"{block.name}:{block.line}"


def _steps_expression(source: str) -> str:
    """The source of the ``steps=`` argument of the script's ``executor_main(...)`` call."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "executor_main":
            for keyword in node.keywords:
                if keyword.arg == "steps":
                    return ast.unparse(keyword.value)
            if node.args:
                return ast.unparse(node.args[0])
    raise AssertionError("the example's script never calls executor_main(steps=...)")


def _compile(files: list[tuple[str, str]], work: Path) -> list[str]:
    """Import the script (not as __main__), evaluate its executor_main steps and compile them under a tmp prefix."""
    prefix = str(work / "prefix")
    with parser.materialized(files, work / "src") as script:
        namespace = runpy.run_path(str(script), run_name="__example__")
        steps = eval(_steps_expression(script.read_text()), namespace)
        plan = compile_graph(steps, prefix=prefix)
    return sorted({parser.relative(spec.output_path, prefix) for spec in plan.spec_of.values()})


def _dry_run(files: list[tuple[str, str]], work: Path, prefix: str, capsys: pytest.CaptureFixture[str]) -> str:
    """Run the script as __main__ with ``--prefix PREFIX --dry_run true`` (executor_main parses sys.argv)."""
    with parser.materialized(files, work / "src") as script:
        with parser.argv([str(script), "--prefix", prefix, "--dry_run", "true"]):
            capsys.readouterr()
            runpy.run_path(str(script), run_name="__main__")
    return capsys.readouterr().out


def _run(files: list[tuple[str, str]], work: Path, prefix: str) -> None:
    with parser.materialized(files, work / "src") as script:
        with parser.argv([str(script), "--prefix", prefix]):
            runpy.run_path(str(script), run_name="__main__")


def _plan_paths(dry_run_text: str) -> list[str]:
    return sorted(set(re.findall(r"  ->  (\S+)", dry_run_text)))


# -- the guide itself -----------------------------------------------------------------------------------------------


def test_every_code_block_in_the_guide_is_a_marked_example():
    roles = {"python": set(parser.ROLES), "bash": {"shell"}, "text": {"dry-run"}}
    unmarked = [
        f"line {b.line}: ```{b.lang} ({b.role or 'no marker'})"
        for b in BLOCKS
        if b.role not in roles.get(b.lang, set())
    ]
    assert not unmarked, "every code block needs an <!-- example: NAME ROLE --> marker:\n" + "\n".join(unmarked)


def test_every_example_in_the_guide_has_an_after_block():
    assert [name for name, sides in EXAMPLES.items() if "after" not in sides] == []


def test_before_blocks_are_valid_python():
    for block in [b for b in BLOCKS if b.role == "before"]:
        compile(block.source, f"MIGRATION.md:{block.line}", "exec")


def test_golden_paths_were_recorded_from_the_current_before_blocks():
    stale = []
    for name, sides in EXAMPLES.items():
        if "before" not in sides:
            continue
        args = tuple(arg for block in sides["before"] for arg in block.args)
        digest = parser.side_digest(parser.side_files(EXAMPLES, name, "before"), args)
        if GOLDEN_EXAMPLES.get(name, {}).get("before_sha256") != digest:
            stale.append(name)
    leftover = set(GOLDEN_EXAMPLES) - set(KEPT)
    assert not stale and not leftover, f"rerun `{REGENERATE}`: changed {stale}, no longer in the guide {leftover}"


def test_after_examples_import_marin_exec_only_from_the_package_root():
    for block in EXECUTOR_BLOCKS:
        for node in ast.walk(ast.parse(block.source)):
            modules = [node.module] if isinstance(node, ast.ImportFrom) else []
            modules += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            deep = [m for m in modules if m and m.startswith("marin_exec.")]
            assert not deep, f"MIGRATION.md:{block.line} imports {deep}; examples import from marin_exec itself"


def test_library_modules_in_after_examples_never_import_marin_exec():
    library = [b for b in EXECUTOR_BLOCKS if b.role == "after" and (b.file or "").startswith("lab/lib/")]
    assert library, "the guide should show at least one library module"
    for block in library:
        assert "marin_exec" not in block.source, f"MIGRATION.md:{block.line}: library code imports the executor"


def test_every_name_the_examples_import_from_marin_exec_is_public():
    for block in EXECUTOR_BLOCKS:
        for node in ast.walk(ast.parse(block.source)):
            if isinstance(node, ast.ImportFrom) and node.module == "marin_exec":
                missing = [alias.name for alias in node.names if alias.name not in marin_exec.__all__]
                assert not missing, f"MIGRATION.md:{block.line} imports {missing}, not in marin_exec.__all__"


def test_hashed_paths_quoted_in_the_prose_are_the_ones_marin_computed():
    prose = "\n".join(line for line in _prose_lines())
    quoted = set(re.findall(r"`([\w./-]+-[0-9a-f]{6})`", prose))
    known = {path for entry in GOLDEN_EXAMPLES.values() for path in entry["paths"]}
    assert quoted and quoted <= known, f"paths quoted in MIGRATION.md that Marin did not compute: {quoted - known}"


def _prose_lines() -> list[str]:
    lines, inside = [], False
    for line in (ROOT / "MIGRATION.md").read_text().splitlines():
        if line.startswith("```"):
            inside = not inside
        elif not inside:
            lines.append(line)
    return lines


def test_shell_examples_use_only_flags_that_executor_main_accepts():
    flags = {f"--{field.name}" for field in dataclasses.fields(ExecutorMainConfig)}
    shell = [b for b in BLOCKS if b.role == "shell"]
    assert shell
    for block in shell:
        for line in block.source.splitlines():
            if line.strip().startswith("python "):
                used = {word for word in shlex.split(line.split("|")[0]) if word.startswith("--")}
                assert used <= flags, f"MIGRATION.md:{block.line}: unknown flags {used - flags}"


# -- the examples ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", KEPT_PATHS)
def test_after_example_compiles_to_the_output_paths_marin_gave_the_before_example(name, tmp_path):
    paths = _compile(parser.side_files(EXAMPLES, name, "after"), tmp_path)
    assert paths == GOLDEN_EXAMPLES[name]["paths"]


@pytest.mark.parametrize("name", KEPT_PATHS)
def test_after_example_dry_run_plans_exactly_the_marin_paths_and_writes_nothing(name, tmp_path, capsys):
    prefix = tmp_path / "prefix"
    out = _dry_run(parser.side_files(EXAMPLES, name, "after"), tmp_path, str(prefix), capsys)
    planned, marin = set(_plan_paths(out)), set(GOLDEN_EXAMPLES[name]["paths"])
    read_only = {name for line in re.findall(r"reads \(not waited for\): (.+)", out) for name in line.split(", ")}
    assert planned <= marin
    assert {path.rsplit("-", 1)[0] for path in marin - planned} <= read_only  # hashed, never scheduled
    assert not prefix.exists()


def test_run_only_on_the_nonblocking_example_plans_the_reader_without_the_step_it_reads(tmp_path, capsys):
    files = parser.side_files(EXAMPLES, "nonblocking", "after")
    prefix = str(tmp_path / "prefix")
    with parser.materialized(files, tmp_path / "src") as script:
        with parser.argv([str(script), "--prefix", prefix, "--run_only", "peek", "--dry_run", "true"]):
            capsys.readouterr()
            runpy.run_path(str(script), run_name="__main__")
    planned = {path.rsplit("-", 1)[0] for path in _plan_paths(capsys.readouterr().out)}
    assert planned == {"raw/verse", "tokenized/verse", "eval/verse-k0.1-peek"}


@pytest.mark.parametrize("name", NEW_PATHS)
def test_after_example_that_drops_a_set_gets_new_paths_for_the_same_steps(name, tmp_path):
    marin = GOLDEN_EXAMPLES[name]["paths"]
    paths = _compile(parser.side_files(EXAMPLES, name, "after"), tmp_path)
    assert [p.rsplit("-", 1)[0] for p in paths] == [p.rsplit("-", 1)[0] for p in marin]
    assert not set(paths) & set(marin)


@pytest.mark.parametrize("block", DIFFERS_BLOCKS, ids=_block_id)
def test_differs_example_compiles_but_loses_the_marin_paths(block, tmp_path):
    paths = _compile(parser.side_files(EXAMPLES, block.name, "differs", extra=block), tmp_path)
    marin = GOLDEN_EXAMPLES[block.name]["paths"]
    assert paths != marin and len(paths) == len(marin)


@pytest.mark.parametrize("block", ERROR_BLOCKS, ids=_block_id)
def test_error_example_raises_the_error_the_guide_names(block, tmp_path):
    [error_name] = [arg for arg in block.args if "=" not in arg]
    error = getattr(marin_exec, error_name)
    with pytest.raises(error, match=block.option("match")):
        _compile(parser.side_files(EXAMPLES, block.name, "raises", extra=block), tmp_path)


def test_complete_example_runs_and_its_dry_run_then_reads_as_the_guide_shows(tmp_path, capsys):
    files = parser.side_files(EXAMPLES, "tiny_lm", "after")
    prefix = str(tmp_path / "prefix")
    _run(files, tmp_path, prefix)
    out = _dry_run(files, tmp_path, prefix, capsys).replace(prefix, "gs://my-bucket/marin")  # the guide's prefix
    [shown] = [b for b in BLOCKS if b.name == "tiny_lm" and b.role == "dry-run"]
    assert _lines(out) == _lines(shown.source), f"MIGRATION.md:{shown.line} shows another plan than:\n{out}"
    [report] = [path for path in GOLDEN_EXAMPLES["tiny_lm"]["paths"] if path.startswith("reports/")]
    assert (tmp_path / "prefix" / report / "report.md").exists()


def _lines(text: str) -> list[str]:
    """Non-blank lines with runs of spaces collapsed (column widths are not the point)."""
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]
