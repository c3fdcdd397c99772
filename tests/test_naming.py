"""A step name is any relative path: ``,``, ``:``, spaces, ``#?[]*``, backslashes and non-ASCII letters are kept in
the output path and work on every backend; what no backend can hold as a path is refused when the step is defined."""

from __future__ import annotations

import pathlib

import pytest

from marin_exec import ExecutorMainConfig, StepDefinitionError, StepSpec, deferred, output, run_executor, step
from marin_exec.naming import validate_step_name
from marin_exec.storage.store import store_for

ODD = "sweep/lr=3e-4,wd=0.1 llama:7b #2?[a]*é\\x"


def _write_marker(path: str) -> None:
    store_for(f"{path}/marker").write(f"{path}/marker", b"done")


def test_an_odd_name_runs_and_is_found_done_again_on_every_backend(store_root: str) -> None:
    first = StepSpec(name=ODD, fn=_write_marker)

    def read_marker(path: str) -> None:
        found = store_for(f"{first.output_path}/marker").read(f"{first.output_path}/marker")
        assert found is not None and found[0] == b"done"

    second = StepSpec(name=f"{ODD}/next", fn=read_marker, deps=[first])
    ran = run_executor([second], ExecutorMainConfig(prefix=store_root))
    again = run_executor([second], ExecutorMainConfig(prefix=store_root))
    assert sorted(o.state.value for o in ran.outcomes.values()) == ["ran", "ran"]
    assert sorted(o.state.value for o in again.outcomes.values()) == ["cached", "pruned"]  # second is built
    alone = run_executor([first], ExecutorMainConfig(prefix=store_root))  # asked for itself, its status is read
    assert [o.state.value for o in alone.outcomes.values()] == ["cached"]
    assert first.output_path == f"{store_root}/{ODD}-{first.hash_id}"


def _noop(path: str) -> None:
    pass


@step(name="eval/llama:7b,{size}")
def evaluated(size: int):
    return deferred(_noop)(output())


def test_a_step_name_template_may_hold_commas_and_colons(tmp_path: pathlib.Path) -> None:
    report = run_executor([evaluated(3)], ExecutorMainConfig(prefix=str(tmp_path)))
    [outcome] = report.outcomes.values()
    assert outcome.spec.output_path.startswith(f"{tmp_path}/eval/llama:7b,3-")


@pytest.mark.parametrize(
    ("name", "problem"),
    [("a\rb", "control characters"), ("a\x7fb", "control characters"), ("a\ud800", "not valid Unicode")],
)
def test_what_no_backend_keeps_as_a_path_is_refused_naming_the_problem(name: str, problem: str) -> None:
    with pytest.raises(StepDefinitionError, match=problem):
        validate_step_name(name)
