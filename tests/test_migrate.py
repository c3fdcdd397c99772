"""``python -m marin_exec migrate``: the ExecutorStep examples of MIGRATION.md run unchanged on marin_exec.legacy
(one import line changed), ``migrate sketch`` turns each into @step code with Marin's paths, and ``migrate check``
reports each anti-pattern with file:line and its fix.

The before blocks and Marin's paths for them come from MIGRATION.md and tests/golden/migration_paths.json, read
with the helpers of tests/test_migration.py.
"""

from __future__ import annotations

import importlib.util
import os
import re
import runpy
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from marin_exec import compile_graph
from marin_exec.__main__ import main as cli_main
from marin_exec.legacy.lowering import lower_steps
from marin_exec.legacy.migrate_check import check_source
from marin_exec.legacy.migrate_sketch import sketch_file
from tests.golden_messages import assert_golden
from tests.test_migration import EXAMPLES, GOLDEN_EXAMPLES, KEPT, _steps_expression, parser

ROOT = Path(__file__).resolve().parents[1]
# A set versioned in Marin hashes its str(), which depends on PYTHONHASHSEED: those examples have no stable path.
BEFORE = [name for name in KEPT if name in GOLDEN_EXAMPLES and not GOLDEN_EXAMPLES[name].get("paths_change")]
_MARIN_IMPORT = re.compile(r"^from marin\.execution(\.executor|\.types)? import", re.MULTILINE)


def _on_marin_exec(files: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The before files with their one executor import line pointed at marin_exec.legacy."""
    return [(path, _MARIN_IMPORT.sub("from marin_exec.legacy import", source)) for path, source in files]


def _before_paths(name: str, work: Path) -> list[str]:
    prefix = str(work / "prefix")
    with parser.materialized(_on_marin_exec(parser.side_files(EXAMPLES, name, "before")), work / "src") as script:
        namespace = runpy.run_path(str(script), run_name="__example__")
        steps = eval(_steps_expression(script.read_text()), namespace)
        plan = compile_graph(lower_steps(steps), prefix=prefix)
    return sorted({parser.relative(spec.output_path, prefix) for spec in plan.spec_of.values()})


@pytest.mark.parametrize("name", BEFORE)
def test_a_marin_example_with_one_import_changed_gets_every_path_marin_gave_it(name: str, tmp_path: Path) -> None:
    assert _before_paths(name, tmp_path) == GOLDEN_EXAMPLES[name]["paths"]


@pytest.mark.parametrize("name", BEFORE)
def test_the_sketch_of_a_marin_example_plans_the_paths_marin_gave_it(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    files = _on_marin_exec(parser.side_files(EXAMPLES, name, "before"))
    with parser.materialized(files, tmp_path / "src") as script:
        monkeypatch.chdir(tmp_path / "src")
        sketch = sketch_file(str(script.relative_to(tmp_path / "src")))
        sketched = tmp_path / "src" / "sketched.py"
        sketched.write_text(sketch)
        namespace = runpy.run_path(str(sketched), run_name="__sketch__")
        plan = compile_graph([namespace["pipeline"]()], prefix=str(tmp_path / "prefix"))
        with parser.argv([str(sketched), "--prefix", str(tmp_path / "prefix"), "--dry_run", "true"]):
            capsys.readouterr()
            runpy.run_path(str(sketched), run_name="__main__")
    paths = sorted({parser.relative(spec.output_path, str(tmp_path / "prefix")) for spec in plan.spec_of.values()})
    assert paths == GOLDEN_EXAMPLES[name]["paths"], sketch
    planned = set(re.findall(r"  ->  (\S+)", capsys.readouterr().out))
    assert planned and planned <= set(GOLDEN_EXAMPLES[name]["paths"])
    assert not (tmp_path / "prefix").exists()


AFTER_ONLY = [name for name, sides in EXAMPLES.items() if "after" in sides and "before" not in sides]


@pytest.mark.parametrize("name", AFTER_ONLY)
def test_the_guides_mixing_examples_dry_run_with_the_paths_marin_gave_their_steps(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The "Mix before you migrate" examples import Marin's classes; CI has no Marin, so they run on
    marin_exec.legacy's (the same shapes)."""
    prefix = tmp_path / "prefix"
    with parser.materialized(_on_marin_exec(parser.side_files(EXAMPLES, name, "after")), tmp_path / "src") as script:
        with parser.argv([str(script), "--prefix", str(prefix), "--dry_run", "true"]):
            capsys.readouterr()
            runpy.run_path(str(script), run_name="__main__")
    planned = set(re.findall(r"  ->  (\S+)", capsys.readouterr().out))
    marin = {path.rsplit("-", 1)[0]: path for path in GOLDEN_EXAMPLES["tiny_lm"]["paths"]}
    assert planned and not prefix.exists()
    reused = {path for path in planned if path.rsplit("-", 1)[0] in marin}
    assert reused <= set(marin.values())
    assert name == "mirrored" or reused == planned  # the mixing examples plan tiny_lm steps only, at Marin's paths


def test_check_reports_each_anti_pattern_with_its_line_and_fix(tmp_path: Path) -> None:
    library = textwrap.dedent(
        """\
        import dataclasses
        from marin.execution import THIS_OUTPUT_PATH

        @dataclasses.dataclass
        class TokCfg:
            input_path: str
            output_path: str = THIS_OUTPUT_PATH
        """
    )
    experiment = textwrap.dedent(
        """\
        import numpy as np
        from marin.execution import ExecutorStep, executor_main, this_output_path, versioned
        from marin_exec import deferred, step
        from marin_exec.trace.step_ref import StepRef
        from lab.lib.tok import TokCfg, tok

        a = ExecutorStep(name="a", fn=tok, config=TokCfg("x", output_path=this_output_path()))
        b = ExecutorStep(name="b", fn=tok, config={"s": versioned({1, 2}), "f": versioned(np.float32(1))})
        t = deferred(tok)

        @step(name="c")
        def c():
            return t(TokCfg(input_path="y", output_path=this_output_path()))

        top = c()

        if __name__ == "__main__":
            executor_main(steps=[a, b, c()])
        """
    )
    found = {(f.line, f.code) for f in check_source(library, "lab/lib/tok.py")}
    assert found == {(2, "M1"), (7, "M2")}
    found = {(f.line, f.code) for f in check_source(experiment, "lab/exp.py")}
    assert found == {
        (4, "M5"),
        (7, "M3"),
        (7, "M6"),
        (8, "M3"),
        (8, "M6"),
        (8, "M7"),
        (8, "M8"),
        (13, "M9"),
        (15, "M6"),
        (18, "M4"),
    }
    assert all(f.fix for f in check_source(experiment, "lab/exp.py"))


def test_check_exits_1_with_findings_and_0_on_migrated_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from marin.execution import ExecutorStep\nx = ExecutorStep(name='x', fn=print, config=None)\n")
    assert cli_main(["migrate", "check", str(bad)]) == 1
    assert f"{bad}:2: M3" in capsys.readouterr().out
    assert cli_main(["migrate", "check", str(ROOT / "experiments")]) == 0


def test_the_module_runs_as_a_command_with_a_table_of_subcommands(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "marin_exec"], capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 2 and "migrate" in done.stderr


def test_sketch_refuses_a_value_it_cannot_write_as_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "opaque_exp.py").write_text(
        textwrap.dedent(
            """\
            from marin_exec.legacy import ExecutorStep, versioned

            class Blob:
                pass

            def work(config):
                pass

            s = ExecutorStep(name="s", fn=work, config={"blob": Blob()})
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    with pytest.raises(Exception, match="cannot write .*Blob"):
        sketch_file("opaque_exp.py")


def test_every_usage_error_of_migrate_is_one_line_with_exit_status_2(tmp_path: Path) -> None:
    # Regression (issue 20, item 16): a Marin file without Marin installed, a missing path, a directory given to
    # sketch: each printed a traceback, exit status 1.
    (tmp_path / "a_dir").mkdir()
    (tmp_path / "uses_marin.py").write_text(
        "from marin.execution.executor import ExecutorStep, executor_main\n"
        "step = ExecutorStep(name='a', fn=print, config=None)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    assert importlib.util.find_spec("marin") is None, "this test needs an environment without Marin"
    cases = [
        ["sketch", "uses_marin.py"],
        ["check", "no_dir"],
        ["sketch", "a_dir"],
        ["sketch", "no_file.py"],
        ["bogus"],
        [],
    ]
    shown = []
    for args in cases:
        proc = subprocess.run(
            [sys.executable, "-m", "marin_exec", "migrate", *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
        )
        assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1, (args, proc.stderr)
        shown.append(f"migrate {' '.join(args)}: {proc.stderr}")
    assert_golden("migrate_usage", "".join(shown))


def test_migrate_help_is_text_not_restructuredtext() -> None:
    proc = subprocess.run([sys.executable, "-m", "marin_exec", "migrate", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "check PATH..." in proc.stdout and "``" not in proc.stdout
