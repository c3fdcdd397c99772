"""executor_main: flags, dry-run output, clean errors, run info, rerun command."""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import pathlib
import subprocess
import sys

import pytest

from marin_exec import StepSpec, executor_main
from marin_exec.run.cli import ExecutorMainConfig, parse_args, parse_experiment_args

from .test_runner import snapshot


def _write(output_path: str) -> dict:
    pathlib.Path(output_path, "x.txt").write_text("x")
    return {"ok": True}


def _boom(output_path: str) -> None:
    raise RuntimeError("the data is bad")


def _chain(prefix: str) -> list[StepSpec]:
    a = StepSpec(name="data/a", fn=_write, hash_attrs={"v": 1}, output_path_prefix=prefix)
    b = StepSpec(name="train/b", fn=_write, deps=[a], hash_attrs={"v": 2, "in": "DEP[0]"}, output_path_prefix=prefix)
    return [a, b]


def test_dry_run_prints_every_step_with_status_and_writes_nothing(prefix, capsys):
    steps = _chain(prefix)
    executor_main(steps[:1], config=ExecutorMainConfig(prefix=prefix))
    capsys.readouterr()
    before = snapshot(prefix)
    executor_main(steps, description="two steps", config=ExecutorMainConfig(prefix=prefix, dry_run=True))
    out = capsys.readouterr().out
    assert snapshot(prefix) == before
    assert "[done]" in out and "[will run]" in out
    assert f"train/b  ->  train/b-{steps[1].hash_id}" in out
    assert "needs: data/a (done)" in out
    assert "Summary: 1 done, 1 will run, 0 running elsewhere, 0 failed before, 0 blocked" in out


def test_run_info_lists_the_requested_step_then_the_dependency_it_needed(prefix, capsys):
    data, train = _chain(prefix)
    executor_main([train], description="two steps", config=ExecutorMainConfig(prefix=prefix))
    [info_path] = glob.glob(f"{prefix}/experiments/*.json")
    record = json.loads(pathlib.Path(info_path).read_text())
    assert record["description"] == "two steps"
    assert [(s["name"], s["output_path"]) for s in record["steps"]] == [
        ("train/b", train.output_path),
        ("data/a", data.output_path),
    ]
    assert record["steps"][0]["version"]["dependencies"] == [data.name_with_hash]
    assert "Summary: 2 ran" in capsys.readouterr().out


def test_missing_prefix_exits_1_with_a_message_and_no_traceback(tmp_path):
    script = tmp_path / "exp.py"
    script.write_text(
        "from marin_exec import StepSpec, executor_main\nexecutor_main([StepSpec(name='a', fn=lambda p: None)])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MARIN_PREFIX"}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 1
    assert "MARIN_PREFIX" in proc.stderr and "--prefix" in proc.stderr
    assert "Traceback" not in proc.stderr


def _run_script(script: pathlib.Path, tmp_path: pathlib.Path) -> subprocess.CompletedProcess[str]:
    """Run an experiment script as a user would, with ``--prefix`` under ``tmp_path``."""
    return subprocess.run(
        [sys.executable, str(script), "--prefix", str(tmp_path / "out")], capture_output=True, text=True, cwd=tmp_path
    )


def test_a_failed_run_exits_1_and_prints_the_rerun_command(tmp_path):
    script = tmp_path / "exp.py"
    script.write_text(
        "from marin_exec import StepSpec, executor_main\n"
        "def boom(p):\n    raise RuntimeError('the data is bad')\n"
        "executor_main([StepSpec(name='bad', fn=boom)])\n"
    )
    proc = _run_script(script, tmp_path)
    assert proc.returncode == 1
    assert "1 step(s) failed: bad-" in proc.stderr
    assert "RuntimeError: the data is bad" in proc.stderr
    assert "to rerun:" in proc.stderr and "--force_run_failed true" in proc.stderr


def test_help_lists_the_flags():
    proc = subprocess.run(
        [sys.executable, "-c", "from marin_exec.run.cli import parse_args; parse_args(['--help'])"],
        capture_output=True,
        text=True,
    )
    for flag in (
        "--prefix",
        "--dry_run",
        "--force_run_failed",
        "--run_only",
        "--max_concurrent",
        "--executor_info_base_path",
    ):
        assert flag in proc.stdout


def test_run_only_accepts_a_single_regex_or_a_list():
    assert parse_args(["--run_only", "train/.*"]).run_only == ["train/.*"]
    assert parse_args(["--run_only", "[a, b]"]).run_only == ["a", "b"]


@dataclasses.dataclass(frozen=True)
class Sweep:
    smoothing: float = 0.1
    tokenizer: str = "bytes"


def test_experiment_flags_and_executor_flags_parse_from_one_command_line():
    sweep, executor = parse_experiment_args(Sweep, ["--smoothing", "0.5", "--dry_run", "true"])
    assert sweep == Sweep(smoothing=0.5)
    assert executor.dry_run is True


def test_run_only_with_an_unknown_pattern_warns_in_the_plan(prefix, capsys):
    executor_main(_chain(prefix), config=ExecutorMainConfig(prefix=prefix, dry_run=True, run_only=["nothing"]))
    assert "matched no step: nothing" in capsys.readouterr().out


@pytest.mark.parametrize("flag", ["--lease_timeout", "--heartbeat_interval"])
def test_lease_timings_are_flags(flag):
    config = parse_args([flag, "0.25"])
    assert getattr(config, flag[2:]) == 0.25


def test_an_entry_point_given_itself_reports_a_tracing_error_with_the_user_frames_only(tmp_path):
    script = tmp_path / "exp.py"
    script.write_text(
        "from marin_exec import executor_main, output, step\n"
        "@step(name='bad/entry')\n"
        "def entry():\n"
        "    return None\n"
        "def pipeline():\n"
        "    output()  # outside any step body: a TracingError while tracing\n"
        "    return entry()\n"
        "executor_main(steps=pipeline)\n"
    )
    proc = _run_script(script, tmp_path)
    assert proc.returncode == 1
    assert "TracingError: output() was called outside a @step function body" in proc.stderr
    assert 'exp.py", line 6, in pipeline' in proc.stderr
    assert "marin_exec/" not in proc.stderr


def test_an_entry_point_given_itself_is_traced_and_run(tmp_path):
    script = tmp_path / "exp.py"
    script.write_text(
        "from marin_exec import deferred, executor_main, output, step\n"
        "def write(path):\n"
        "    open(path + '.txt', 'w').write('hi')\n"
        "@step(name='ok/one')\n"
        "def one():\n"
        "    return deferred(write)(output())\n"
        "executor_main(steps=one)\n"
    )
    proc = _run_script(script, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "1 ran here" in proc.stdout
    assert list((tmp_path / "out" / "ok").glob("one-*.txt"))


def test_run_only_accepts_a_single_regex_with_a_character_class_or_braces():
    assert parse_args(["--run_only", "tokenized/[a-z]+"]).run_only == ["tokenized/[a-z]+"]
    assert parse_args(["--run_only", "[ab]/train"]).run_only == ["[ab]/train"]
    assert parse_args(["--run_only", "eval-k0.[0-9]{2}"]).run_only == ["eval-k0.[0-9]{2}"]
    assert parse_args(["--run_only=eval/.*"]).run_only == ["eval/.*"]


def test_run_executor_leaves_the_garbage_collector_as_it_found_it(prefix):
    # run_executor froze every object alive at compile time and never unfroze them: a long-lived process calling
    # it leaked every cycle alive at that moment (150 MB held in one reproduction).
    import gc

    from marin_exec import run_executor

    assert gc.get_freeze_count() == 0
    run_executor([StepSpec(name="gc/probe", fn=lambda p: None)], ExecutorMainConfig(prefix=prefix))
    assert gc.get_freeze_count() == 0
    assert gc.isenabled()
