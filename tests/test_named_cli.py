"""Versions from the command line (issue 19): ``--version`` for steps with ``version=RUN_VERSION``, repeatable
``--override NAME=VERSION``, the dry run's "Resolved versions" list, and ``dev`` outputs rebuilt on every run."""

from __future__ import annotations

import dataclasses
import pathlib

import pytest

from marin_exec import RUN_VERSION, StepRef, deferred, executor_main, output, parse_experiment_args, step
from marin_exec.run.cli import parse_args, run_executor


def _append(out: str, line: str, inp: str | None = None) -> str:
    pathlib.Path(out).mkdir(parents=True, exist_ok=True)
    with open(pathlib.Path(out).parent / "calls.txt", "a") as f:
        f.write(line + "\n")
    return line


append = deferred(_append)


@step(name="data/{label}", version=RUN_VERSION)
def data(label: str = "web"):
    return append(output(), label)


@step(name="model", version="dev")
def model(inp: StepRef):
    return append(output(), "model", inp)


@step(name="fixed", version="2026.12.06")
def fixed():
    return append(output(), "fixed")


def test_version_and_repeated_overrides_parse():
    config = parse_args(["--version", "2026.12.06", "--override", "a=dev", "--override=b/c=2026.01.02.1"])
    assert (config.version, config.override) == ("2026.12.06", ["a=dev", "b/c=2026.01.02.1"])


def test_the_dry_run_resolves_versions_and_flags_mutable_ones(tmp_path, capsys):
    flags = ["--prefix", str(tmp_path), "--dry_run", "--version", "2026.12.06", "--override", "data/code=dev"]
    config = parse_args(flags)
    run_executor([model(data()), data(label="code"), fixed()], config)
    out = capsys.readouterr().out
    resolved = out[out.index("Resolved versions:") :].splitlines()
    assert resolved == [
        "Resolved versions:",
        "  data/web@2026.12.06",
        "  model@dev  (mutable: rebuilds every run)",
        "  data/code@dev  (mutable: rebuilds every run)",
        "  fixed@2026.12.06",
    ]
    assert not any(tmp_path.iterdir())


def test_an_override_that_applies_to_nothing_exits_2_with_one_line(tmp_path, capsys):
    config = parse_args(["--prefix", str(tmp_path), "--version", "dev", "--override", "fixed=dev"])
    with pytest.raises(SystemExit) as exit:
        executor_main(steps=[fixed(), data()], config=config)
    assert exit.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--override fixed: applies to no step" in err[0]


def test_a_deferring_step_without_version_says_to_pass_one(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit:
        executor_main(steps=[data()], config=parse_args(["--prefix", str(tmp_path)]))
    assert exit.value.code == 1
    assert "pass --version" in capsys.readouterr().err


def test_dev_outputs_rebuild_on_every_run_and_fixed_ones_do_not(tmp_path):
    config = parse_args(["--prefix", str(tmp_path), "--version", "2026.12.06"])
    for _ in range(2):
        run_executor([model(data()), fixed()], config)
    assert (tmp_path / "model/calls.txt").read_text().splitlines() == ["model", "model"]
    assert (tmp_path / "fixed/calls.txt").read_text().splitlines() == ["fixed"]
    assert (tmp_path / "data/web/calls.txt").read_text().splitlines() == ["web"]


@dataclasses.dataclass
class Experiment:
    version: str | None = None
    width: int = 4


def test_an_experiment_field_named_version_shares_the_runs_version():
    experiment, executor = parse_experiment_args(Experiment, ["--version", "2026.12.06", "--width", "8"])
    assert (experiment.version, experiment.width, executor.version) == ("2026.12.06", 8, "2026.12.06")
