"""``--force_rerun REGEX``: done steps whose names match rerun, with everything downstream, through the command line."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

from marin_exec import StepSpec
from marin_exec.status.status import Lease, StatusFile
from marin_exec.status.step_status import clear_done

_CHAIN = """
import pathlib
from marin_exec import deferred, executor_main, output, step

LOG = pathlib.Path(__file__).parent / "calls.log"


def work(path, name, upstream=None):
    with LOG.open("a") as log:
        log.write(name + "\\n")
    return {"name": name}


@step(name="data/a")
def a():
    return deferred(work)(output(), "a")


@step(name="tok/b")
def b(data):
    return deferred(work)(output(), "b", data)


@step(name="model/c")
def c(tokens):
    return deferred(work)(output(), "c", tokens)


@step(name="other/d")
def d():
    return deferred(work)(output(), "d")


@step(name="pipeline")
def pipeline():
    c(tokens=b(data=a()))
    d()


if __name__ == "__main__":
    executor_main(steps=[pipeline()])
"""


def _run(tmp_path: pathlib.Path, *flags: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "exp.py"
    if not script.exists():
        script.write_text(_CHAIN)
    command = [sys.executable, str(script), "--prefix", str(tmp_path / "out"), *flags]
    proc = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    return proc


def _calls(tmp_path: pathlib.Path) -> list[str]:
    return (tmp_path / "calls.log").read_text().split()


def test_force_rerun_reruns_the_matching_done_step_and_everything_downstream_of_it(tmp_path):
    _run(tmp_path)
    proc = _run(tmp_path, "--force_rerun", "tok/b")

    assert sorted(_calls(tmp_path)[4:]) == ["b", "c"]
    assert "Summary: 2 ran here, 2 cached in" in proc.stdout


def test_a_dry_run_with_force_rerun_shows_why_each_step_will_run_and_clears_nothing(tmp_path):
    _run(tmp_path)
    statuses = sorted(p.read_text() for p in (tmp_path / "out").glob("*/*/.executor_status"))
    proc = _run(tmp_path, "--force_rerun", "tok/b", "--dry_run")

    lines = proc.stdout.splitlines()
    assert any(line.startswith("  [will run]") and "tok/b" in line for line in lines)
    assert "why: --force_rerun matches it" in proc.stdout
    assert "why: downstream of tok/b, which --force_rerun reruns" in proc.stdout
    assert any(line.startswith("  [done]") and "other/d" in line for line in lines)
    assert sorted(p.read_text() for p in (tmp_path / "out").glob("*/*/.executor_status")) == statuses
    assert len(_calls(tmp_path)) == 4


def test_a_forced_rerun_is_recorded_as_ran_here_not_cached(tmp_path):
    _run(tmp_path)
    _run(tmp_path, "--force_rerun", "model/c")

    runs = sorted((tmp_path / "out" / "experiments" / "runs").glob("exp-*.json"))
    rows = {row["name"].rsplit("-", 1)[0]: row["outcome"] for row in json.loads(runs[-1].read_text())["steps"]}
    assert rows == {"data/a": "pruned", "tok/b": "cached", "model/c": "ran here", "other/d": "cached"}


def _done(output_path: str) -> dict:
    return {}


def test_clear_done_removes_a_success_under_the_lease_and_leaves_the_lease_free(prefix):
    spec = StepSpec(name="x/done", fn=_done)
    spec.executable_fn(spec.output_path)

    assert clear_done(spec.output_path) is True
    assert StatusFile(spec.output_path).read() is None
    assert Lease(spec.output_path, timeout=1).holder() is None
    assert clear_done(spec.output_path) is False  # nothing left to clear


def test_with_run_only_force_rerun_takes_out_of_the_cache_only_steps_the_run_will_consider(tmp_path):
    _run(tmp_path)
    proc = _run(tmp_path, "--force_rerun", "tok/b", "--run_only", "tok/b")

    assert _calls(tmp_path)[4:] == ["b"]
    assert "Summary: 1 ran here, 1 cached in" in proc.stdout  # data/a, which tok/b needs
    [c_status] = (tmp_path / "out" / "model").glob("c-*/.executor_status")
    assert c_status.read_text() == "SUCCESS"  # downstream, but not part of this run: left in the cache
