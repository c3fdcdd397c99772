"""The command line's grammar: descriptions and defaults in --help, bare booleans, one-line usage errors (exit 2)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from marin_exec.run.cli import parse_args


def _parse_in_a_process(*argv: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from marin_exec.run.cli import parse_args; print(parse_args(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True)


def test_help_shows_each_flag_with_its_description_and_default():
    proc = _parse_in_a_process("--help")
    text = " ".join(proc.stdout.split())  # argparse wraps lines

    assert proc.returncode == 0
    assert "--dry_run bool print the plan with each step's status; run and write nothing" in text
    assert "--max_concurrent int steps running at once in this process (default: 8)" in text
    assert "--force_rerun" in text and "rerun these done steps and all downstream of them" in text
    assert "(default: True)" in text


def test_a_bare_boolean_flag_means_true_at_the_end_or_before_another_flag():
    assert parse_args(["--dry_run"]).dry_run is True
    config = parse_args(["--dry_run", "--force_run_failed", "--run_only", "a"])
    assert (config.dry_run, config.force_run_failed, config.run_only) == (True, True, ["a"])
    assert parse_args(["--force_run_failed", "false"]).force_run_failed is False


def test_a_bad_value_is_one_line_naming_the_flag_with_exit_status_2():
    proc = _parse_in_a_process("--max_concurrent", "many")

    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: --max_concurrent: Couldn't parse 'many' into an int (see --help)"
    ]


@pytest.mark.parametrize("flag", ["--run_only", "--force_rerun"])
def test_an_invalid_regex_is_one_line_naming_the_flag_with_exit_status_2(flag):
    proc = _parse_in_a_process(flag, "train/[a-")

    assert proc.returncode == 2
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith(f"error: {flag}: 'train/[a-' is not a valid regular expression (")


def test_force_rerun_accepts_a_single_regex_or_a_list():
    assert parse_args(["--force_rerun", "tok/[a-z]+"]).force_rerun == ["tok/[a-z]+"]
    assert parse_args(["--force_rerun=a", "--dry_run"]).force_rerun == ["a"]
    assert parse_args(["--force_rerun", "[a, b]"]).force_rerun == ["a", "b"]


def test_an_experiment_s_own_boolean_flags_may_be_bare_too():
    import dataclasses

    from marin_exec.run.cli import parse_experiment_args

    @dataclasses.dataclass(frozen=True)
    class Sweep:
        smoothing: float = 0.1
        verbose: bool = False

    sweep, executor = parse_experiment_args(Sweep, ["--dry_run", "--verbose", "--smoothing", "0.5"])
    assert (sweep, executor.dry_run) == (Sweep(smoothing=0.5, verbose=True), True)
