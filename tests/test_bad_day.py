"""A user's bad day on the command line (issue 20, items 13, 15, 18, 19): each message is one line naming what is
wrong and what to do, with the right exit status and no marin_exec frames. Real scripts in real processes; the
message texts are golden files (tests/golden/messages/)."""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys
import time

from tests.golden_messages import assert_golden, without_log_times

ROOT = pathlib.Path(__file__).parent.parent

_STEPS = """
import os
import sys

from marin_exec import StepSpec, executor_main


def table(output_path):
    if os.path.exists("break"):
        raise KeyError("train")
    return 1


def fit(output_path):
    return 2


first = StepSpec(name="data/table", fn=table, hash_attrs={"v": 1})
second = StepSpec(name="models/fit", fn=fit, deps=[first], hash_attrs={"in": "DEP[0]"})
if __name__ == "__main__":
    executor_main([second])
"""


def _run(tmp_path: pathlib.Path, *flags: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "exp.py"
    if not script.exists():
        script.write_text(_STEPS)
    env = {k: v for k, v in os.environ.items() if k != "MARIN_PREFIX"}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "exp.py", *flags], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120
    )


def _stable(text: str, tmp_path: pathlib.Path) -> str:
    text = without_log_times(text).replace(str(tmp_path), "TMP").replace(sys.executable, "PYTHON")
    text = re.sub(r"\d+\.\d\d s\b", "N.NN s", text)
    text = re.sub(r"exp-[0-9a-f]{6}\.json", "exp-HASH.json", text)  # the run's hash covers absolute output paths
    return "\n".join(line.split(" run record: ")[0] for line in text.splitlines()) + "\n"


def test_an_unwritable_prefix_is_one_line_naming_the_path_and_the_os_error_and_the_dry_run_warns(tmp_path):
    (tmp_path / "a_file").write_text("not a directory")
    prefix = str(tmp_path / "a_file" / "runs")

    dry = _run(tmp_path, "--prefix", prefix, "--dry_run")
    run = _run(tmp_path, "--prefix", prefix)

    assert dry.returncode == 0 and dry.stderr.startswith("warning: a run could not write under")
    assert run.returncode == 1 and "Traceback" not in run.stderr
    [error] = [line for line in run.stderr.splitlines() if "error" in line]
    assert f"{tmp_path}/a_file is not a directory" in error and "Not a directory" in error
    assert not (tmp_path / "a_file").is_dir()
    assert_golden("unwritable_prefix", _stable(dry.stderr + run.stderr, tmp_path))


def test_a_refused_failed_step_is_one_line_with_its_original_error_and_counts_as_refused(tmp_path):
    (tmp_path / "break").touch()
    assert _run(tmp_path, "--prefix", "out").returncode == 1

    refused = _run(tmp_path, "--prefix", "out", "--force_run_failed", "false")

    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr and "PreviousStepFailed" not in refused.stdout + refused.stderr
    assert "1 refused" in refused.stdout and "failed" not in refused.stdout.splitlines()[0]
    assert "data/table: refused: failed previously (KeyError: 'train')" in refused.stderr
    assert_golden("refused", _stable(refused.stdout + refused.stderr, tmp_path))
    record = sorted((tmp_path / "out" / "experiments" / "runs").glob("exp-*.json"), key=os.path.getmtime)[-1]
    outcomes = [step["outcome"] for step in json.loads(record.read_text())["steps"]]
    assert outcomes == ["refused", "blocked"]


def test_a_relative_prefix_is_recorded_absolute_and_shown_as_the_user_typed_it(tmp_path):
    dry = _run(tmp_path, "--prefix", "rel_out", "--dry_run")
    run = _run(tmp_path, "--prefix", "rel_out")

    assert "  2 step(s) under ./rel_out\n" in dry.stdout
    assert run.returncode == 0, run.stderr
    [info] = (tmp_path / "rel_out" / "experiments").glob("exp-*.json")
    recorded = json.loads(info.read_text())
    assert recorded["prefix"] == str(tmp_path / "rel_out")
    assert all(step["output_path"].startswith(f"{tmp_path}/rel_out/") for step in recorded["steps"])
    [step_info] = (tmp_path / "rel_out" / "data").glob("table-*/.executor_info")
    assert json.loads(step_info.read_text())["output_path"].startswith(f"{tmp_path}/rel_out/data/table-")


def test_the_traceback_on_screen_hides_as_many_frames_as_the_error_record_says(tmp_path):
    (tmp_path / "break").touch()
    run = _run(tmp_path, "--prefix", "out")

    [record] = (tmp_path / "out" / "data").glob("table-*/.executor_error")
    recorded = json.loads(record.read_text())["traceback"]
    assert "frame(s) hidden" in recorded
    assert recorded in run.stderr


def test_unlock_force_tells_the_run_that_loses_its_lease_who_removed_it(tmp_path):
    signals = tmp_path / "signals"
    signals.mkdir()
    env = {**os.environ, "INTERRUPT_SIGNALS": str(signals), "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "tests.interrupt_pipeline", "--prefix", str(tmp_path / "out")]
    run = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while not (signals / "started-hold").exists() and run.poll() is None:
            time.sleep(0.02)
        unlock = subprocess.run(
            [sys.executable, "-m", "marin_exec", "unlock", str(tmp_path / "out"), "--force"],
            capture_output=True,
            text=True,
            env=env,
        )
        assert unlock.returncode == 0 and "removed the live lease" in unlock.stdout
        (signals / "resume").touch()
        out, err = run.communicate(timeout=120)
    finally:
        run.kill()
    assert run.returncode == 1
    assert "was removed by unlock --force (" in out and "nobody holds it now" not in out + err
