"""Errors raised while tracing read like JAX's: no marin_exec frames, a missing deferred() named, cycles named."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import traceback

import pytest

from marin_exec import StepRef, TracingError, deferred, output, step, trace, versioned
from marin_exec.status.failure import is_internal
from marin_exec.trace.context import Frame, run_in_frame
from marin_exec.trace.trace_errors import explain_trace_error, filter_traceback, find_cycle, step_names_on_stack


def _make_batches(count: int, path: str) -> list[str]:
    return [f"{path}/{i}" for i in range(count)]


def _read_lines(path: str) -> str:
    return path.lower()


def _train(config: dict) -> dict:
    return config


train = deferred(_train)


@step(name="data/batches")
def batches_without_deferred(count: int = 3):
    return train({"batches": _make_batches(versioned(count), output())})


@step(name="data/raw")
def raw():
    return train({"out": output()})


@step(name="data/lines")
def lines_without_deferred():
    return train({"text": _read_lines(raw())})


@step(name="data/typo")
def typo():
    return train({"n": int("three")})


@step(name="loop/self")
def calls_itself():
    return calls_itself()


@step(name="loop/a")
def loop_a():
    loop_b()


@step(name="loop/b")
def loop_b():
    loop_a()


@step(name="outer")
def outer():
    inner()


@step(name="inner")
def inner():
    raise KeyError("config")


def _explained(entry) -> BaseException:
    with pytest.raises(BaseException) as caught:
        trace(entry)
    return explain_trace_error(caught.value)


def _frame_files(exc: BaseException) -> list[str]:
    return [frame.filename for frame in traceback.extract_tb(exc.__traceback__)]


def test_a_versioned_value_reaching_a_library_function_is_a_tracing_error_naming_deferred():
    error = _explained(batches_without_deferred)

    assert isinstance(error, TracingError)
    message = str(error)
    assert "step 'data/batches'" in message
    assert "_make_batches(...) is not wrapped with deferred(), so it ran while tracing and received count = " in message
    assert "received count = versioned(3), a versioned() marker" in message
    assert "TypeError" in message and "deferred()" in message
    assert error.__suppress_context__


def test_the_missing_deferred_error_keeps_the_user_frames_that_led_to_it():
    error = _explained(batches_without_deferred)

    files = _frame_files(error)
    assert files and all(not is_internal(f) for f in files)
    assert any(f.endswith("test_trace_errors.py") for f in files)


def test_a_step_ref_reaching_a_library_function_is_a_tracing_error_naming_the_step_ref():
    error = _explained(lines_without_deferred)

    assert isinstance(error, TracingError)
    assert "_read_lines(...) is not wrapped with deferred(), so it ran while tracing and received path = data/raw" in (
        str(error)
    )
    assert "AttributeError" in str(error)
    assert "exists only when the step runs" in str(error)


def test_an_unrelated_error_in_a_step_body_stays_itself_without_marin_exec_frames():
    error = _explained(typo)

    assert isinstance(error, ValueError)
    files = _frame_files(error)
    assert files and not any(is_internal(f) for f in files)


def test_a_step_that_calls_itself_is_a_tracing_error_naming_the_cycle():
    error = _explained(calls_itself)

    assert isinstance(error, TracingError)
    assert "loop/self -> loop/self" in str(error)
    assert error.__suppress_context__


def test_steps_that_call_each_other_are_a_tracing_error_naming_the_cycle():
    error = _explained(loop_a)

    assert isinstance(error, TracingError)
    assert "loop/a -> loop/b -> loop/a" in str(error)


def test_step_names_on_stack_lists_the_bodies_being_traced_outermost_first():
    with pytest.raises(KeyError) as caught:
        trace(lambda: run_in_frame(Frame("outer", "outer", is_step=True), _raise_in_inner, (), {}))

    assert step_names_on_stack(caught.value.__traceback__) == ["outer", "inner"]


def _raise_in_inner() -> None:
    run_in_frame(Frame("inner", "inner", is_step=True), inner.__wrapped__, (), {})


def test_an_error_in_nested_step_bodies_surfaces_from_the_outermost_step_call_with_only_user_frames_below_it():
    with pytest.raises(KeyError) as caught:
        trace(outer)

    frames = traceback.extract_tb(caught.value.__traceback__)
    below = [f for f in frames[[f.name for f in frames].index("outer") :]]
    assert [f.name for f in below] == ["outer", "inner"]


def test_find_cycle_returns_the_first_repeated_stretch_closed():
    assert find_cycle(["entry", "x", "a", "b", "a", "b", "a"]) == ["a", "b", "a"]
    assert find_cycle(["a", "a"]) == ["a", "a"]


def test_find_cycle_finds_nothing_in_a_stack_without_repeats():
    assert find_cycle(["entry", "a", "b"]) is None
    assert find_cycle([]) is None


def test_filter_traceback_keeps_the_raising_frame_when_every_frame_is_marin_exec_own():
    with pytest.raises(TracingError) as caught:
        StepRef.hardcoded("raw/data").__bool__()
    error = caught.value
    error.__traceback__ = error.__traceback__.tb_next  # drop this test's own frame: only marin_exec's remain

    files = _frame_files(filter_traceback(error))

    assert len(files) == 1 and is_internal(files[0])


# -- through a real script: what the user sees ---------------------------------------------------------------

SCRIPT = pathlib.Path(__file__).parent / "cli_scripts" / "missing_deferred.py"
GOLDEN = pathlib.Path(__file__).parent / "golden" / "missing_deferred.txt"


def test_a_missing_deferred_names_the_function_and_the_value_it_touched_not_another_in_the_config(tmp_path):
    shown = []
    for case in ("versioned", "fspath", "bool"):
        argv = [sys.executable, str(SCRIPT), case, "--prefix", str(tmp_path / "out")]
        proc = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path)
        assert proc.returncode == 1, proc.stderr
        assert "marin_exec/" not in proc.stderr  # only the user's frames
        shown.append(f"$ missing_deferred.py {case}\n{proc.stderr.strip().splitlines()[-1]}\n")
    text = "".join(shown)
    if os.environ.get("MARIN_EXEC_UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text(), "missing_deferred.txt changed; rerun with MARIN_EXEC_UPDATE_GOLDEN=1"
    assert not (tmp_path / "out").exists()
