"""``executor_main`` takes Marin's spellings: the ``max_concurrent`` keyword (it wins over ``--max_concurrent``) and
the config passed first, ``executor_main(ExecutorMainConfig(...), steps)`` or ``(..., steps=steps)``, with
marin_exec's or Marin's class."""

from __future__ import annotations

import dataclasses
import pathlib
import sys
import threading
from typing import Any

import pytest

import marin_exec.legacy as legacy
from marin_exec import ExecutorMainConfig, MarinExecError, executor_main
from marin_exec.status.step_status import read_statuses

MEET: list[threading.Barrier] = []  # the barrier of the running test


def meet(config: Any) -> None:
    """Returns only when the other step is running at the same time (fails after 10 s alone)."""
    MEET[0].wait(timeout=10)


def _two_steps_that_must_overlap() -> list[legacy.ExecutorStep[Any]]:
    MEET[:] = [threading.Barrier(2)]
    return [legacy.ExecutorStep(name=f"overlap/{i}", fn=meet, config={"i": legacy.versioned(i)}) for i in range(2)]


@dataclasses.dataclass(frozen=True)
class ExecutorMainConfigOfMarin:
    """Marin's ExecutorMainConfig: its fields and defaults (``max_concurrent=None``: Marin's runner runs 8)."""

    prefix: str | None = None
    executor_info_base_path: str | None = None
    dry_run: bool = False
    force_run_failed: bool = True
    run_only: list[str] | None = None
    max_concurrent: int | None = None


ExecutorMainConfigOfMarin.__name__ = "ExecutorMainConfig"


def _paths(prefix: pathlib.Path, steps: list[legacy.ExecutorStep[Any]]) -> list[str]:
    executor = legacy.Executor(prefix=str(prefix), executor_info_base_path=str(prefix / "experiments"))
    for s in steps:
        executor.compute_version(s)
    return [executor.output_paths[s] for s in steps]


def test_the_max_concurrent_keyword_wins_over_the_flag(tmp_path: pathlib.Path) -> None:
    steps = _two_steps_that_must_overlap()
    executor_main(steps, config=ExecutorMainConfig(prefix=str(tmp_path), max_concurrent=1), max_concurrent=2)
    assert read_statuses(_paths(tmp_path, steps)) == ["SUCCESS", "SUCCESS"]


def test_the_max_concurrent_keyword_wins_over_the_flag_on_the_command_line(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["experiment.py", "--prefix", str(tmp_path), "--max_concurrent", "1"])
    steps = _two_steps_that_must_overlap()
    executor_main(steps, max_concurrent=2)
    assert read_statuses(_paths(tmp_path, steps)) == ["SUCCESS", "SUCCESS"]


def test_max_concurrent_below_one_is_refused_before_anything_runs(tmp_path: pathlib.Path) -> None:
    steps = _two_steps_that_must_overlap()
    with pytest.raises(MarinExecError, match=r"max_concurrent=0.*1 or more"):
        executor_main(steps, config=ExecutorMainConfig(prefix=str(tmp_path)), max_concurrent=0)
    assert not tmp_path.joinpath("overlap").exists()


def test_the_executor_refuses_max_concurrent_below_one_with_a_value_error(tmp_path: pathlib.Path) -> None:
    executor = legacy.Executor(prefix=str(tmp_path), executor_info_base_path=str(tmp_path / "experiments"))
    with pytest.raises(ValueError, match="positive integer, got 0"):
        executor.run(_two_steps_that_must_overlap(), max_concurrent=0)


@pytest.mark.parametrize("config_class", [ExecutorMainConfig, ExecutorMainConfigOfMarin])
def test_a_config_passed_first_is_the_runs_config_and_the_description_follows_the_steps(
    config_class: type[Any], tmp_path: pathlib.Path
) -> None:
    steps = _two_steps_that_must_overlap()  # Marin's max_concurrent=None runs 8 at once, as marin_exec's default
    executor_main(config_class(prefix=str(tmp_path), executor_info_base_path=str(tmp_path / "info")), steps, "both")
    assert read_statuses(_paths(tmp_path, steps)) == ["SUCCESS", "SUCCESS"]
    assert [p.name for p in (tmp_path / "info").iterdir()]  # the run-level info went where the config said


@pytest.mark.parametrize("config_class", [ExecutorMainConfig, ExecutorMainConfigOfMarin])
def test_a_config_passed_first_with_the_steps_by_keyword_is_marins_spelling_too(
    config_class: type[Any], tmp_path: pathlib.Path
) -> None:
    """``executor_main(config, steps=...)``, as Marin's integration tests call it (was a TypeError: steps twice)."""
    steps = _two_steps_that_must_overlap()
    executor_main(config_class(prefix=str(tmp_path)), steps=steps, description="both")
    assert read_statuses(_paths(tmp_path, steps)) == ["SUCCESS", "SUCCESS"]


def test_steps_or_configs_given_twice_or_no_steps_are_refused_before_anything_runs(tmp_path: pathlib.Path) -> None:
    steps = _two_steps_that_must_overlap()
    with pytest.raises(TypeError, match="steps twice"):
        executor_main(steps, steps=steps, config=ExecutorMainConfig(prefix=str(tmp_path)))
    with pytest.raises(TypeError, match="needs the steps"):
        executor_main(config=ExecutorMainConfig(prefix=str(tmp_path)))
    with pytest.raises(TypeError, match="two configs"):
        executor_main(ExecutorMainConfig(), steps=steps, config=ExecutorMainConfig(prefix=str(tmp_path)))
    assert not tmp_path.joinpath("overlap").exists()


def test_a_marin_config_setting_a_field_marin_exec_lacks_is_refused_by_name(tmp_path: pathlib.Path) -> None:
    @dataclasses.dataclass(frozen=True)
    class ExecutorMainConfig:  # a later Marin's, with a flag marin_exec does not have
        prefix: str | None = None
        region: str | None = None

    with pytest.raises(ValueError, match=r"sets \['region'\]"):
        executor_main(ExecutorMainConfig(prefix=str(tmp_path), region="us-east5"), _two_steps_that_must_overlap())
