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
    assert "Summary: 2 ran here" in capsys.readouterr().out


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


_FAILING = """
from marin_exec import deferred, executor_main, output, step


def load_table(path):
    table = {"eval": 1}
    return table["train"]


@step(name="data/table")
def table():
    return deferred(load_table)(output())


@step(name="models/fit")
def fit(data):
    return deferred(load_table)(data)


@step(name="pipeline")
def pipeline():
    fit(data=table())


if __name__ == "__main__":
    executor_main(steps=[pipeline()])
"""


def _script(tmp_path: pathlib.Path, text: str) -> pathlib.Path:
    script = tmp_path / "exp.py"
    script.write_text(text)
    return script


def test_a_failing_library_function_shows_its_traceback_once_under_the_step_name_with_marin_exec_folded(tmp_path):
    proc = _run_script(_script(tmp_path, _FAILING), tmp_path)

    assert proc.returncode == 1
    assert proc.stderr.count("Traceback") == 1
    under_name = proc.stderr.split("data/table: failed:\n", 1)[1]
    assert under_name.startswith("Traceback (most recent call last; ")
    assert "marin_exec frame(s) hidden" in under_name.splitlines()[0]
    assert 'exp.py", line 7, in load_table' in under_name
    assert "KeyError: 'train'" in under_name
    assert "marin_exec/" not in proc.stderr.split("caused by:")[0].split("data/table: failed:")[1]


def test_a_failed_step_leaves_its_error_record_and_the_run_its_own_record_with_each_outcome(tmp_path):
    _run_script(_script(tmp_path, _FAILING), tmp_path)

    [error_file] = (tmp_path / "out" / "data").glob("table-*/.executor_error")
    record = json.loads(error_file.read_text())
    assert (record["type"], record["message"], record["attempt"]) == ("builtins.KeyError", "'train'", 1)
    assert "load_table" in record["traceback"] and record["worker"]
    [run_file] = (tmp_path / "out" / "experiments" / "runs").glob("exp-*.json")
    rows = {row["name"].rsplit("-", 1)[0]: row for row in json.loads(run_file.read_text())["steps"]}
    assert rows["data/table"]["outcome"] == "failed" and rows["data/table"]["error"] == "KeyError: 'train'"
    assert rows["data/table"]["worker"]
    assert rows["models/fit"]["outcome"] == "blocked"


def test_a_failed_run_prints_its_summary_naming_the_failure_and_what_it_blocked(tmp_path):
    proc = _run_script(_script(tmp_path, _FAILING), tmp_path)

    assert "Summary: 0 ran here, 0 cached, 1 failed, 1 blocked in" in proc.stdout
    assert "failed: data/table-" in proc.stdout and ": KeyError: 'train'" in proc.stdout
    assert "blocked: models/fit-" in proc.stdout and "which failed" in proc.stdout


def test_each_run_keeps_its_own_record_and_the_marin_run_file_stays_one(tmp_path):
    script = _script(tmp_path, _FAILING)
    _run_script(script, tmp_path)
    _run_script(script, tmp_path)

    assert len(list((tmp_path / "out" / "experiments" / "runs").glob("exp-*.json"))) == 2
    assert len(list((tmp_path / "out" / "experiments").glob("exp-*.json"))) == 1


def test_the_rerun_hint_says_force_run_failed_true_once_and_never_false(tmp_path):
    script = _script(tmp_path, _FAILING)
    _run_script(script, tmp_path)
    proc = subprocess.run(
        [sys.executable, str(script), "--prefix", str(tmp_path / "out"), "--force_run_failed", "false"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )

    assert "failed previously" in proc.stderr or "failed in an earlier run" in proc.stderr
    [hint] = [line for line in proc.stderr.splitlines() if line.startswith("to rerun:")]
    assert hint.count("--force_run_failed") == 1 and hint.endswith("--force_run_failed true")


def test_a_set_up_error_gets_no_rerun_hint(tmp_path):
    script = _script(tmp_path, "from marin_exec import executor_main, StepSpec\nexecutor_main([StepSpec(name='a')])\n")
    env = {k: v for k, v in os.environ.items() if k != "MARIN_PREFIX"}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, cwd=tmp_path)

    assert proc.returncode == 1 and "MARIN_PREFIX" in proc.stderr
    assert "to rerun" not in proc.stderr


def test_a_clean_run_prints_its_summary_and_no_rerun_hint(tmp_path):
    script = _script(tmp_path, _FAILING.replace('table["train"]', 'table["eval"]'))
    first = _run_script(script, tmp_path)
    second = _run_script(script, tmp_path)

    assert first.returncode == 0, first.stderr
    assert "Summary: 2 ran here, 0 cached in" in first.stdout
    assert "Summary: 0 ran here, 1 cached, 1 pruned in" in second.stdout
    assert "to rerun" not in first.stderr + second.stderr


_MISSING_DEFERRED = """
from marin_exec import deferred, executor_main, output, step, versioned


def make_batches(count, path):
    return [f"{path}/{i}" for i in range(count)]


@step(name="data/batches")
def batches(count: int = 3):
    return deferred(print)(make_batches(versioned(count), output()))


@step(name="pipeline")
def pipeline():
    batches()


if __name__ == "__main__":
    executor_main(steps=ENTRY)
"""


@pytest.mark.parametrize("entry", ["[pipeline()]", "pipeline"])
def test_a_missing_deferred_reads_like_jax_in_both_entry_forms(tmp_path, entry):
    proc = _run_script(_script(tmp_path, _MISSING_DEFERRED.replace("ENTRY", entry)), tmp_path)

    assert proc.returncode == 1
    assert "marin_exec.errors.TracingError: step 'data/batches': __main__.make_batches(...) received" in proc.stderr
    assert "deferred()" in proc.stderr
    assert 'exp.py", line 11, in batches' in proc.stderr and 'exp.py", line 6, in make_batches' in proc.stderr
    assert "marin_exec/" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_a_step_that_calls_itself_is_a_short_tracing_error_naming_the_cycle(tmp_path):
    script = _script(
        tmp_path,
        "from marin_exec import executor_main, step\n"
        "@step(name='loop/a')\ndef a():\n    b()\n"
        "@step(name='loop/b')\ndef b():\n    a()\n"
        "executor_main(steps=[a()])\n",
    )
    proc = _run_script(script, tmp_path)

    assert proc.returncode == 1
    assert "TracingError: step 'loop/a' calls itself while tracing: loop/a -> loop/b -> loop/a" in proc.stderr
    assert len(proc.stderr.splitlines()) < 10


def test_a_return_annotation_that_cannot_be_saved_is_refused_before_any_step_runs(tmp_path):
    script = _script(
        tmp_path,
        "from marin_exec import deferred, executor_main, output, step\n"
        "def first(path) -> list[str]:\n    open(path + '.ran', 'w').close()\n    return []\n"
        "def names(path) -> set[str]:\n    return {'a'}\n"
        "@step(name='ok/first')\ndef ok():\n    return deferred(first)(output())\n"
        "@step(name='data/names')\ndef bad():\n    return deferred(names)(output())\n"
        "@step(name='pipeline')\ndef pipeline():\n    ok()\n    bad()\n"
        "executor_main(steps=[pipeline()])\n",
    )
    proc = _run_script(script, tmp_path)

    assert proc.returncode == 1
    assert "step 'data/names': __main__.names is annotated to return set[str]" in proc.stderr
    assert not (tmp_path / "out").exists()


_SLOW = """
import os, pathlib, time
from marin_exec import deferred, executor_main, output, step

GATE = pathlib.Path(os.environ["GATE"])


def slow(path):
    (GATE / "started").touch()
    while not (GATE / "go").exists():  # the test opens the gate once the other process waits
        time.sleep(0.01)
    return {"ok": True}


@step(name="data/slow")
def entry():
    return deferred(slow)(output())


if __name__ == "__main__":
    executor_main(steps=[entry()])
"""


def _wait_for(predicate, what: str) -> None:
    import time

    deadline = time.monotonic() + 60
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_a_step_finished_by_another_process_while_we_waited_is_counted_apart_with_its_holder(tmp_path):
    script = _script(tmp_path, _SLOW)
    gate = tmp_path / "gate"
    gate.mkdir()
    command = [sys.executable, str(script), "--prefix", str(tmp_path / "out"), "--heartbeat_interval", "0.1"]
    env = {**os.environ, "GATE": str(gate)}
    holder = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    _wait_for((gate / "started").exists, "the first process to start the step")
    waiter = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    seen: list[str] = []
    _wait_for(lambda: seen.append(waiter.stderr.readline()) or "which holds the lease" in seen[-1], "the wait")
    (gate / "go").touch()
    holder_out, _ = holder.communicate(timeout=60)
    waiter_out, _ = waiter.communicate(timeout=60)

    assert "Summary: 1 ran here, 0 cached in" in holder_out
    assert "Summary: 0 ran here, 1 finished by another worker while we waited, 0 cached in" in waiter_out
    assert "(steps 0.00 s, waiting " in waiter_out
    holder_id = seen[-1].split("waiting for ", 1)[1].split(",", 1)[0]
    assert "waited: data/slow-" in waiter_out and f"for {holder_id} (it finished there)" in waiter_out
    assert str(holder.pid) in holder_id


def test_the_clock_skew_allowance_flag_reaches_the_steps_run_settings(prefix):
    from marin_exec import current_run_settings, run_executor

    seen = []
    step_spec = StepSpec(name="skew/probe", fn=lambda p: seen.append(current_run_settings().clock_skew_allowance))
    run_executor([step_spec], parse_args(["--prefix", prefix, "--clock_skew_allowance", "7"]))
    assert seen == [7.0]
