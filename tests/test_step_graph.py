"""The runner's step graph (``run.step_graph``): one node per output path; collisions and cycles are refused."""

from __future__ import annotations

import pytest

from marin_exec import CycleError, PathCollisionError, StepRunner, StepSpec
from tests.test_runner import Recorder


def _write_a(output_path: str) -> str:
    return "a"


def _write_b(output_path: str) -> str:
    return "b"


def test_two_different_functions_on_one_output_path_are_an_error_in_the_runner(prefix):
    one = StepSpec(name="same", fn=_write_a)
    two = StepSpec(name="same", fn=_write_b)
    with pytest.raises(PathCollisionError, match=r"_write_a.*_write_b"):
        StepRunner().run([one, two])


def test_the_same_step_given_twice_shares_one_node_and_runs_once(prefix):
    calls: list[str] = []

    def make(output_path: str) -> None:
        calls.append(output_path)

    one = StepSpec(name="same", fn=make)
    two = StepSpec(name="same", fn=make)
    report = StepRunner().run([one, two])
    assert calls == [one.output_path]
    assert list(report.outcomes) == [one.output_path]


def test_different_specs_on_one_output_path_are_an_error_naming_both(prefix):
    r = Recorder()
    one = StepSpec(name="a", fn=lambda p: None, override_output_path="pinned")
    two = StepSpec(name="b", fn=lambda p: None, override_output_path="pinned")
    with pytest.raises(PathCollisionError, match="'a' and 'b'"):
        StepRunner().run([one, two])
    assert r.calls == []


def test_a_cycle_is_reported_with_its_steps(prefix):
    a = StepSpec(name="a", fn=lambda p: None)
    b = StepSpec(name="b", fn=lambda p: None, deps=[a])
    a.deps.append(b)  # deps is a list: mutating it after construction is the only way to build a cycle
    with pytest.raises(CycleError, match="a -> b -> a|b -> a -> b"):
        StepRunner().run([b])
