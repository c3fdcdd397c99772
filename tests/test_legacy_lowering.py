"""Two ExecutorSteps with one version are one step, as in Marin: the first one Marin's executor versions keeps its
function and config (the later ones' never run) and a warning says so; this holds within one run only."""

from __future__ import annotations

import logging
import pathlib
from typing import Any

import pytest

import marin_exec.legacy as legacy
from marin_exec import ExecutorMainConfig, run_executor

RAN: list[str] = []


def first_fn(config: Any) -> None:
    RAN.append("first_fn")


def second_fn(config: Any) -> None:
    RAN.append("second_fn")


def user(config: Any) -> None:
    RAN.append("user")


@pytest.fixture(autouse=True)
def _clear() -> None:
    RAN.clear()


def _twins() -> list[legacy.ExecutorStep[Any]]:
    return [legacy.ExecutorStep(name="twin", fn=fn, config={"n": legacy.versioned(1)}) for fn in (first_fn, second_fn)]


def test_the_first_of_two_steps_with_one_version_runs_and_a_warning_names_both_functions(
    tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = _twins()
    after = legacy.ExecutorStep(name="after", fn=user, config={"input": second})
    with caplog.at_level(logging.WARNING):
        run_executor([first, after], ExecutorMainConfig(prefix=str(tmp_path)))
    assert RAN == ["first_fn", "user"]
    [warning] = [r.getMessage() for r in caplog.records if "same version" in r.getMessage()]
    assert "first_fn" in warning and "second_fn" in warning


def test_among_references_the_first_in_the_config_is_the_one_kept(tmp_path: pathlib.Path) -> None:
    first, second = _twins()
    after = legacy.ExecutorStep(name="after", fn=user, config={"a": first, "b": second})
    run_executor([after], ExecutorMainConfig(prefix=str(tmp_path)))
    assert RAN == ["first_fn", "user"]


def test_a_blocking_reference_is_versioned_before_a_nonblocking_one_as_in_marin(tmp_path: pathlib.Path) -> None:
    first, second = _twins()
    after = legacy.ExecutorStep(name="after", fn=user, config={"a": second.as_input_name().nonblocking(), "b": first})
    run_executor([after], ExecutorMainConfig(prefix=str(tmp_path)))
    assert RAN == ["first_fn", "user"]


def test_separate_runs_do_not_share_steps_of_one_version(tmp_path: pathlib.Path) -> None:
    first, second = _twins()
    run_executor([first], ExecutorMainConfig(prefix=str(tmp_path / "one")))
    run_executor([second], ExecutorMainConfig(prefix=str(tmp_path / "two")))
    assert RAN == ["first_fn", "second_fn"]


@pytest.mark.parametrize("values", [(0.0, -0.0), (1, 1.0), (1, True)])
def test_values_equal_in_python_but_not_as_versions_are_two_steps(
    values: tuple[Any, Any], tmp_path: pathlib.Path
) -> None:
    steps = [legacy.ExecutorStep(name="twin", fn=user, config={"n": legacy.versioned(v)}) for v in values]
    report = run_executor(steps, ExecutorMainConfig(prefix=str(tmp_path)))
    assert len({o.spec.output_path for o in report.outcomes.values()}) == 2 and RAN == ["user", "user"]
