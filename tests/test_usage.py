"""Usage errors of an experiment script, run as a user would (a subprocess): one line each, exit status 2, no
traceback; a golden file pins the lines. Also its --help: every flag's description, default and real type."""

from __future__ import annotations

import dataclasses
import os
import pathlib
import subprocess
import sys

import pytest

from marin_exec.run.cli import parse_experiment_args

SCRIPTS = pathlib.Path(__file__).parent / "cli_scripts"
GOLDEN = pathlib.Path(__file__).parent / "golden" / "usage_errors.txt"
REPO = pathlib.Path(__file__).parent.parent
BAD_COMMAND_LINES = [
    [],
    ["--steps", "5"],
    ["--dataset"],
    ["--dataset", "x", "--lr", "0.1"],
    ["--dataset", "x", "--dry"],
    ["--dataset", "x", "--lrs", "0.1"],
    ["--dataset", "x", "--lrs", "[0.1, fast]"],
    ["--dataset", "x", "--steps", "many"],
    ["--dataset", "x", "--lease_timeout", "soon"],
    ["--dataset", "[web"],
    ["--dataset=x", "--steps=[1"],
    ["--dataset", "x", "--config_path", "no_such_file.yaml"],
]


def _script(script: pathlib.Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "100"}  # argparse wraps --help to the terminal's width
    return subprocess.run([sys.executable, str(script), *argv], capture_output=True, text=True, env=env)


def test_a_hyperparameter_without_a_default_is_a_required_flag():
    proc = _script(SCRIPTS / "sweep_flags.py", "--dataset", "web", "--dry_run")

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "Sweep(lrs=[0.1], dataset='web', steps=10, holdout=0.1) True"


def test_a_required_field_may_follow_defaults_in_a_plain_dataclass_too():
    @dataclasses.dataclass(frozen=True)
    class Plain:
        dataset: str
        steps: int = 10

    sweep, executor = parse_experiment_args(Plain, ["--steps", "3", "--dataset", "web", "--max_concurrent", "2"])

    assert (sweep, executor.max_concurrent) == (Plain(dataset="web", steps=3), 2)


def test_each_bad_command_line_is_one_line_with_exit_status_2():
    lines = []
    for argv in BAD_COMMAND_LINES:
        proc = _script(SCRIPTS / "sweep_flags.py", *argv)
        assert proc.returncode == 2, (argv, proc.stderr)
        [line] = proc.stderr.strip().splitlines()  # no usage block, no traceback
        lines.append(f"$ sweep_flags.py {' '.join(argv)}\n{line}\n")
    text = "".join(lines)
    if os.environ.get("MARIN_EXEC_UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text(), "usage_errors.txt changed; if on purpose, rerun with MARIN_EXEC_UPDATE_GOLDEN=1"


def test_help_of_an_experiment_shows_descriptions_defaults_and_types_of_both_kinds_of_flags():
    proc = _script(REPO / "experiments" / "tiny_lm.py", "--help")
    text = " ".join(proc.stdout.split())  # argparse wraps lines

    assert proc.returncode == 0, proc.stderr
    assert "--max_concurrent int steps running at once in this process (default: 8)" in text  # the executor's
    assert "--dry_run bool print the plan with each step's status; run and write nothing" in text
    assert "--order int n-gram order of every model (default: 2)" in text  # the experiment's own
    assert "--smoothings list[float] one model per value (default: [0.01, 0.1, 1.0])" in text
    assert "[--lease_timeout float]" in text and "[--prefix str]" in text  # the usage: real types, None left out


def test_help_marks_a_required_flag_and_shows_a_default_even_without_a_comment():
    text = " ".join(_script(SCRIPTS / "sweep_flags.py", "--help").stdout.split())

    assert "--dataset str which dataset to train on (required)" in text
    assert "--steps int (default: 10)" in text
    assert "--holdout float share of the data held out (10%) (default: 0.1)" in text  # a % in a comment


@dataclasses.dataclass(frozen=True)
class _Optimizer:
    lr: float
    beta: float = 0.9


def test_a_required_field_of_a_nested_config_is_required_by_its_dotted_flag_unless_the_config_has_a_default(capsys):
    @dataclasses.dataclass(frozen=True)
    class Needs:
        opt: _Optimizer

    @dataclasses.dataclass(frozen=True)
    class Defaulted:
        opt: _Optimizer = _Optimizer(lr=0.3)

    with pytest.raises(SystemExit) as exit_status:
        parse_experiment_args(Needs, ["--opt.beta", "0.5"])

    assert exit_status.value.code == 2
    assert capsys.readouterr().err == "error: --opt.lr is required (see --help)\n"
    assert parse_experiment_args(Needs, ["--opt.lr", "0.1"])[0] == Needs(_Optimizer(lr=0.1))
    assert parse_experiment_args(Defaulted, [])[0] == Defaulted()
