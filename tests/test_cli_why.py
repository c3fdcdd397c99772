"""Why a step will run, drift, and the plan as a graph, through the command line of a real experiment script run
as a subprocess: golden files pin the dry-run "why" text and the JSON plan."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

from marin_exec.status.status import STATUS_FAILED, STATUS_RUNNING
from tests.golden_messages import assert_golden

SCRIPT = pathlib.Path(__file__).parent / "cli_scripts" / "why_experiment.py"
GOLDEN = pathlib.Path(__file__).parent / "golden"
RAW, MODEL = "raw/corpus-8688bf", "models/x-cf32e9"  # the script's two steps at its default hyperparameters


def _run(prefix: str, *flags: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--prefix", prefix, *flags], capture_output=True, text=True, cwd=prefix
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("MARIN_EXEC_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"{name} changed; if on purpose, rerun with MARIN_EXEC_UPDATE_GOLDEN=1"


def test_every_will_run_line_says_why_and_a_done_step_shows_its_drift(prefix):
    dry = ["--dry_run", "true"]
    shown = ["# a fresh prefix", _run(prefix, *dry).stdout]
    _run(prefix)
    shown += ["# lr and url changed", _run(prefix, *dry, "--lr", "0.2", "--url", "https://example.org/b.txt").stdout]
    shown += ["# only the unversioned batch_size changed", _run(prefix, *dry, "--batch_size", "64").stdout]
    pathlib.Path(prefix, RAW, ".executor_status").write_text(STATUS_FAILED)
    pathlib.Path(prefix, MODEL, ".executor_status").write_text(STATUS_RUNNING)  # its worker died, lease gone
    shown += ["# raw failed before, the model's worker was interrupted", _run(prefix, *dry).stdout]
    shown += ["# ... and without --force_run_failed", _run(prefix, *dry, "--force_run_failed", "false").stdout]

    _golden("dry_run_why.txt", "\n".join(shown).replace(prefix, "PREFIX"))


def test_a_real_run_warns_about_a_cached_step_whose_unversioned_config_drifted(prefix):
    _run(prefix)

    proc = _run(prefix, "--batch_size", "64")

    assert f"models/x: cached, but its unversioned config differs: batch_size 32 \u2192 64 ({prefix}/{MODEL})" in (
        proc.stderr
    )
    assert "raw/corpus: cached, but" not in proc.stderr


def test_the_json_plan_on_stdout_lists_each_step_with_status_why_and_dependencies(prefix):
    _run(prefix)

    proc = _run(prefix, "--dry_run", "true", "--plan", "json", "--lr", "0.2", "--batch_size", "64")

    plan = json.loads(proc.stdout)  # stdout is the plan alone; logs go to stderr
    _golden("plan_cli.json", json.dumps(plan, indent=2).replace(prefix, "PREFIX") + "\n")
    assert [(s["name"], s["status"]) for s in plan["steps"]] == [("raw/corpus", "done"), ("models/x", "will run")]


def test_mermaid_and_dot_plans_draw_the_dependency(prefix):
    mermaid = _run(prefix, "--dry_run", "true", "--plan", "mermaid").stdout
    dot = _run(prefix, "--dry_run", "true", "--plan", "dot").stdout

    assert mermaid.startswith("flowchart LR") and "s0 --> s1" in mermaid
    assert dot.startswith("digraph plan {") and "s0 -> s1;" in dot


def test_a_plan_format_without_a_dry_run_or_unknown_is_one_usage_error_line_saying_what_is_wrong(prefix):
    # Regression (issue 20, item 16): `--plan json` alone read as if json were invalid, and both exited 1.
    shown = []
    for flags in (["--plan", "json"], ["--dry_run", "true", "--plan", "yaml"]):
        proc = subprocess.run(
            [sys.executable, str(SCRIPT), "--prefix", prefix, *flags], capture_output=True, text=True, cwd=prefix
        )
        assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1, proc.stderr
        shown.append(proc.stderr)
    assert "add --dry_run true" in shown[0] and "unknown format 'yaml'; use one of json, mermaid, dot" in shown[1]
    assert not pathlib.Path(prefix, RAW).exists()
    assert_golden("plan_flag", "".join(shown))


def test_an_unchanged_pipeline_rerun_in_new_processes_shows_no_drift(prefix):
    """Issue 20 item 6: a set of strings was recorded in its iteration order (it differs with the string-hash seed
    of each process) and an object by its default repr (its memory address differs): every rerun drifted."""
    script = str(SCRIPT.parent / "rerun_experiment.py")

    def rerun(seed: str, *flags: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run(
            [sys.executable, script, "--prefix", prefix, *flags], capture_output=True, text=True, cwd=prefix, env=env
        )
        assert proc.returncode == 0, proc.stderr
        return proc

    rerun("1")
    [info] = pathlib.Path(prefix).glob("models/stable-*/.executor_info")
    assert "object at 0x" in json.loads(info.read_text())["config"]["tokenizer"]

    dry, real = rerun("2", "--dry_run", "true"), rerun("3")

    assert "[done]" in dry.stdout and "drift" not in dry.stdout
    assert "1 cached" in real.stdout and "cached, but" not in real.stderr


def _warnings(stderr: str) -> list[str]:
    return [line.split(" WARNING ", 1)[1] for line in stderr.splitlines() if " WARNING " in line]


def test_a_sweep_whose_steps_share_a_name_is_warned_about_and_each_point_is_compared_with_its_own_earlier_output(
    prefix,
):
    """Issue 20 item 7: three steps named models/sweep (lr left out of the name) got no warning, and every
    why-line compared with whichever earlier output ended last (``lr: 0.3 → 0.1``), a sibling's."""
    script = str(SCRIPT.parent / "sweep_experiment.py")

    def sweep(*flags: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, script, "--prefix", prefix, *flags], capture_output=True, text=True, cwd=prefix
        )
        assert proc.returncode == 0, proc.stderr
        return proc

    ran = sweep()
    dry = sweep("--dry_run", "true", "--epochs", "2")

    shown = ["# the sweep ran at epochs 1; a dry run at epochs 2", *_warnings(dry.stderr)]
    _golden("dry_run_sweep.txt", "\n".join([*shown, dry.stdout]).replace(prefix, "PREFIX"))
    assert _warnings(ran.stderr) == [
        "models/sweep: 3 steps of this plan share the name (hashes 5e2d6c, b489f7, d3b0cf) and differ in lr: the "
        "plan, logs and why-lines cannot tell them apart; put what differs in each step's name"
    ]
