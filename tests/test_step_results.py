"""What a step returns, through a real run of a script (a subprocess): NumPy scalars and sets are saved, so the
step is done and a rerun computes nothing; a value with no JSON form fails the step with one message naming the
step, the user's function and where the value is, its traceback ending at the user's ``return`` line, with none of
marin_exec's frames shown (a golden file pins the text)."""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

from marin_exec.artifact_record import record_value

SCRIPT = pathlib.Path(__file__).parent / "cli_scripts" / "step_results.py"
GOLDEN = pathlib.Path(__file__).parent / "golden" / "unsaveable_result.txt"


def _run(tmp_path: pathlib.Path, kind: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CALLS": str(tmp_path / "calls")}
    argv = [sys.executable, str(SCRIPT), kind, "--prefix", str(tmp_path / "out")]
    return subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, env=env)


@pytest.mark.parametrize(
    ("kind", "saved"),
    [("numpy", {"loss": 0.5, "steps": 100, "best": 0.25}), ("set", ["a", "b"])],
)
def test_a_step_returning_numpy_scalars_or_a_set_is_done_and_not_computed_again(tmp_path, kind, saved):
    first = _run(tmp_path, kind)
    second = _run(tmp_path, kind)

    assert (first.returncode, second.returncode) == (0, 0), first.stderr
    assert "0 ran here, 1 cached" in second.stdout
    assert (tmp_path / "calls").read_text() == f"{kind}\n"  # the work ran once
    [artifact] = (tmp_path / "out" / "models").glob(f"{kind}-*/.artifact.json")
    assert record_value(json.loads(artifact.read_text())) == saved  # the value inside Marin's record


def test_a_result_with_no_json_form_is_one_message_at_the_user_s_return_line(tmp_path):
    proc = _run(tmp_path, "object")

    assert proc.returncode == 1
    block = proc.stderr.split("models/object: failed:\n", 1)[1].split("UnsaveableResult: ", 1)
    block = block[0] + "UnsaveableResult: " + block[1].splitlines()[0]
    frames = [line for line in block.splitlines() if line.startswith("  File ")]
    assert frames == [f'  File "{SCRIPT}", line 22, in _train'], block  # the user's return line, nothing of ours
    text = re.sub(r"\d+ marin_exec frame", "N marin_exec frame", block.replace(str(SCRIPT), "SCRIPT")) + "\n"
    if os.environ.get("MARIN_EXEC_UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text(), "unsaveable_result.txt changed; rerun with MARIN_EXEC_UPDATE_GOLDEN=1"


def _two_returns(flag: bool) -> object:
    if flag:
        return object()
    return {"x": object()}


def test_with_several_returns_the_traceback_ends_at_the_function_s_def_line():
    import traceback

    from marin_exec.errors import UnsaveableResult
    from marin_exec.runtime.unsaveable import raise_unsaveable
    from marin_exec.storage.artifact import UnsaveableValue

    with pytest.raises(UnsaveableResult) as caught:
        raise_unsaveable("s/x", _two_returns, UnsaveableValue(object(), ".x"))

    last = traceback.extract_tb(caught.value.__traceback__)[-1]
    assert (last.filename, last.lineno, last.name) == (__file__, _two_returns.__code__.co_firstlineno, "_two_returns")
    assert str(caught.value).startswith("s/x: _two_returns returned result.x, an object, which cannot be saved")
