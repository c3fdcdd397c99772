"""A current Marin experiment (experiments/lazy_marin.py: click ``build_options``, ``apply``, a value artifact, a
deferred version) on marin_exec with one import changed: the plan is marin_exec's dry run with "Resolved versions",
``--run`` builds, a stray ``--override`` is a usage error. Slow part: the same file run by marin-core 0.2.227 (its
imports swapped back) lands on the same paths and fingerprints, and each executor then calls no function."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

pytest.importorskip("pydantic")
pytest.importorskip("click")

EXPERIMENT = pathlib.Path(__file__).resolve().parents[1] / "experiments" / "lazy_marin.py"
OUR_IMPORT = "from marin_exec.lazy import OUT, Artifact, apply, build_options\n"
MARIN_IMPORTS = (
    "from marin.execution.artifact import Artifact\n"
    "from marin.execution.lazy import OUT, apply\n"
    "from marin.experiment.cli import build_options\n"
)
PEER = pathlib.Path("/work/peer-227/bin/python")
OUTPUTS = ["corpus/2026.12.06", "stats/2026.12.06", "report/2026.12.06"]


def _run(python: str, script: pathlib.Path, prefix: pathlib.Path, calls: pathlib.Path, *args: str):
    env = {**os.environ, "MARIN_PREFIX": str(prefix), "LAZY_EXPERIMENT_CALLS": str(calls)}
    return subprocess.run([python, str(script), *args], capture_output=True, text=True, env=env, cwd=prefix.parent)


def _calls(path: pathlib.Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def dirs(tmp_path):
    (tmp_path / "prefix").mkdir()
    return tmp_path / "prefix", tmp_path / "calls.log"


def test_the_plan_is_a_dry_run_with_statuses_why_lines_and_resolved_versions(dirs):
    prefix, calls = dirs
    done = _run(sys.executable, EXPERIMENT, prefix, calls, "--version", "dev")
    assert done.returncode == 0, done.stderr
    assert "[will run]  stats  ->  stats/dev" in done.stdout and "why: never ran" in done.stdout
    assert "Resolved versions:\n  corpus@dev  (mutable" in done.stdout and "  report@2026.12.06\n" in done.stdout
    assert _calls(calls) == [] and not (prefix / "corpus").exists()


def test_run_builds_once_and_a_second_run_calls_nothing(dirs):
    prefix, calls = dirs
    for _ in range(2):
        done = _run(sys.executable, EXPERIMENT, prefix, calls, "--version", "2026.12.06", "--run")
        assert done.returncode == 0, done.stderr
    assert sorted(line.split()[0] for line in _calls(calls)) == ["corpus", "corpus", "stats"]  # report: same writer
    record = json.loads((prefix / "stats/2026.12.06/.artifact.json").read_text())
    assert record["result"] == {"words": 24, "distinct": 9} and record["result_type"] == "__main__.WordStats"
    assert record["deps"] == ["corpus@2026.12.06"]


def test_an_override_that_applies_to_nothing_and_a_missing_version_are_usage_errors(dirs):
    prefix, calls = dirs
    stray = _run(sys.executable, EXPERIMENT, prefix, calls, "--version", "dev", "--override", "nope=dev")
    assert stray.returncode == 2 and "applies to no artifact: ['nope']" in stray.stderr
    missing = _run(sys.executable, EXPERIMENT, prefix, calls)
    assert missing.returncode == 2 and "--version" in missing.stderr


@pytest.mark.slow(reason="runs marin-core 0.2.227 in a subprocess: its import alone takes 6-16 s")
@pytest.mark.skipif(not PEER.exists(), reason=f"marin-core 0.2.227 venv absent ({PEER})")
@pytest.mark.parametrize("first", ["marin", "marin_exec"])
def test_marin_and_marin_exec_land_on_the_same_outputs_and_reuse_each_others(tmp_path, first):
    source = EXPERIMENT.read_text()
    assert OUR_IMPORT in source  # the one import this test changes back
    on_marin = tmp_path / "lazy_marin_on_marin.py"
    on_marin.write_text(source.replace(OUR_IMPORT, MARIN_IMPORTS))
    runs = {"marin": (str(PEER), on_marin), "marin_exec": (sys.executable, EXPERIMENT)}
    second = "marin_exec" if first == "marin" else "marin"
    prefix, calls = tmp_path / "prefix", tmp_path / "calls.log"
    prefix.mkdir()
    built = _run(*runs[first], prefix, calls, "--version", "2026.12.06", "--run")
    assert built.returncode == 0, built.stderr[-3000:]
    records = {out: json.loads((prefix / out / ".artifact.json").read_text()) for out in OUTPUTS}
    calls.unlink()
    again = _run(*runs[second], prefix, calls, "--version", "2026.12.06", "--run")
    assert again.returncode == 0, again.stderr[-3000:]
    assert _calls(calls) == []  # everything found built: no function called
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    other = _run(*runs[second], fresh, tmp_path / "fresh.log", "--version", "2026.12.06", "--run")
    assert other.returncode == 0, other.stderr[-3000:]
    for out, record in records.items():  # the other executor, from scratch: the same record but for the launch
        theirs = json.loads((fresh / out / ".artifact.json").read_text())
        for key in ("name", "version", "fingerprint", "fingerprint_payload", "result_type", "deps", "result"):
            assert theirs[key] == record[key], (out, key)
        assert json.dumps(theirs["config"]).replace(str(fresh), "P") == json.dumps(record["config"]).replace(
            str(prefix), "P"
        )
