"""marin_exec.legacy's ExecutorStep vocabulary keeps Marin's rules, and loads only when it is used."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from typing import Any

import pytest

from marin_exec import MarinExecError
from marin_exec.legacy import (
    ExecutorStep,
    InputName,
    ensure_versioned,
    get_executor_step,
    output_path_of,
    this_output_path,
    unwrap_versioned_value,
    versioned,
)


@dataclasses.dataclass(frozen=True)
class Inner:
    a: Any


def test_import_marin_exec_does_not_load_the_legacy_package() -> None:
    code = "import sys, marin_exec; print(any(m.startswith('marin_exec.legacy') for m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize("bad", [versioned(1), InputName.hardcoded("x")])
def test_versioned_refuses_nesting_and_input_names_with_a_value_error(bad: Any) -> None:
    with pytest.raises(ValueError):
        versioned(bad)


def test_unwrap_versioned_value_unwraps_through_dataclasses_dicts_and_lists_but_not_placeholders() -> None:
    assert unwrap_versioned_value({"x": [versioned(1), Inner(a=versioned("b"))]}) == {"x": [1, Inner(a="b")]}
    with pytest.raises(ValueError, match="Cannot unwrap"):
        unwrap_versioned_value([this_output_path()])


def test_ensure_versioned_wraps_once() -> None:
    assert ensure_versioned(ensure_versioned(3)) == versioned(3)


def test_sub_paths_join_like_marins_and_a_hardcoded_input_has_no_step() -> None:
    step = ExecutorStep(name="s", fn=print, config=None)
    assert (step / "a" / "b") == output_path_of(step, "a/b") == step.cd("a").cd("b")
    assert get_executor_step(step / "a") is step
    with pytest.raises(MarinExecError, match="not part of the pipeline"):
        get_executor_step(InputName.hardcoded("raw/x"))
