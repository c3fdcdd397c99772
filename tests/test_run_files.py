"""The files a run leaves (Marin's run-level info, one record per run) and the command that reruns it."""

from __future__ import annotations

import json
import pathlib
import sys

import pytest

from marin_exec import StepSpec
from marin_exec.run.run_files import json_text, rerun_command, write_run_record


@pytest.mark.parametrize(
    "argv",
    [
        ["exp.py", "--force_run_failed", "false"],
        ["exp.py", "--force_run_failed=false", "--dry_run"],
        ["exp.py", "--dry_run", "true", "--force_rerun", "tok/.*", "--force_run_failed", "true"],
    ],
)
def test_the_rerun_command_retries_failures_once_and_drops_dry_run_and_force_rerun(monkeypatch, argv):
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.setenv("MARIN_PREFIX", "/data/runs")

    assert rerun_command() == f"{sys.executable} exp.py --prefix /data/runs --force_run_failed true"


def test_the_rerun_command_keeps_a_prefix_given_on_the_command_line(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["exp.py", "--prefix", "/a", "--max_concurrent", "2"])
    monkeypatch.setenv("MARIN_PREFIX", "/b")

    assert rerun_command() == f"{sys.executable} exp.py --prefix /a --max_concurrent 2 --force_run_failed true"


def test_run_records_written_in_the_same_second_by_one_process_never_overwrite_each_other(tmp_path):
    spec = StepSpec(name="a", fn=lambda p: None, output_path_prefix=str(tmp_path))
    rows = [{"name": "a", "outcome": "ran here"}]
    first = write_run_record([spec], str(tmp_path), description="one", started=0.0, steps=rows)
    second = write_run_record([spec], str(tmp_path), description="two", started=0.0, steps=[])

    assert first != second
    assert json.loads(pathlib.Path(first).read_text())["steps"] == rows
    assert json.loads(pathlib.Path(second).read_text())["description"] == "two"


def test_run_files_are_json_with_one_line_per_step_and_unencodable_values_as_their_repr():
    class Opaque:
        def __repr__(self) -> str:
            return "Opaque()"

    record = {
        "description": "d",
        "empty": [],
        "nested": {"a": [1, 2]},
        "steps": [{"name": "a", "config": {"x": 1.5, "o": Opaque()}}, {"name": "b", "config": None}],
    }
    text = json_text(record).decode()

    assert json.loads(text) == {
        **record,
        "steps": [{"name": "a", "config": {"x": 1.5, "o": "Opaque()"}}, record["steps"][1]],
    }
    lines = text.splitlines()
    assert '    {"name": "a", "config": {"x": 1.5, "o": "Opaque()"}},' in lines
    assert '    {"name": "b", "config": null}' in lines
