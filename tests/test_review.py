"""Second review: each test pins a bug found in review and fails until it is fixed (see the review report)."""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Callable
from typing import Any

import pydantic
import pytest

from marin_exec import (
    PathCollisionError,
    StepRunner,
    StepSpec,
    TracingError,
    deferred,
    output,
    step,
    trace,
    versioned,
)
from marin_exec.run.cli import parse_args
from marin_exec.storage import store as storage_module
from marin_exec.storage.local_store import LocalStore

# -- a local store that lets a test act as another worker at one exact moment -----------------------------------


class _HookedLocalStore:
    """``hooked:///abs/path`` served by the local store; ``on_read[name]`` runs once, before a read of that file."""

    atomic = True
    conditional_delete = True

    def __init__(self) -> None:
        self._local = LocalStore()
        self.on_read: dict[str, Callable[[], None]] = {}

    def read(self, path: str) -> Any:
        hook = self.on_read.pop(os.path.basename(path), None)
        if hook is not None:
            hook()
        return self._local.read(_plain(path))

    def create(self, path: str, data: bytes) -> Any:
        return self._local.create(_plain(path), data)

    def swap(self, path: str, data: bytes, expected: Any) -> Any:
        return self._local.swap(_plain(path), data, expected)

    def delete_if(self, path: str, expected: Any) -> bool:
        return self._local.delete_if(_plain(path), expected)

    def write(self, path: str, data: bytes) -> None:
        self._local.write(_plain(path), data)

    def fenced(self, path: str, expected: Any) -> Any:
        return self._local.fenced(_plain(path), expected)


def _plain(path: str) -> str:
    return path.split("://", 1)[1]


@pytest.fixture
def hooked(monkeypatch: pytest.MonkeyPatch) -> _HookedLocalStore:
    store = _HookedLocalStore()
    monkeypatch.setitem(storage_module._FACTORIES, "hooked", lambda: store)
    monkeypatch.setitem(storage_module._STORES, "hooked", store)
    return store


def test_clearing_an_incomplete_commit_never_removes_the_success_another_worker_just_committed(tmp_path, hooked):
    # SUCCESS and this executor's info are there, the artifact is not: the step must run again, once.
    calls: list[str] = []

    def make(output_path: str) -> dict:
        calls.append(output_path)
        return {"by": "this worker"}

    spec = StepSpec(name="tok/x", fn=make, output_path_prefix=f"hooked://{tmp_path}")
    spec.executable_fn(spec.output_path)
    local = pathlib.Path(_plain(spec.output_path))
    (local / ".artifact.json").unlink()
    calls.clear()

    # Another worker saw the same incomplete commit a moment earlier, re-ran the step under the lease and committed
    # artifact + SUCCESS right after this worker looked for the artifact and found none.
    def other_worker_commits() -> None:
        (local / ".artifact.json").write_text(json.dumps({"by": "other worker"}))

    hooked.on_read[".executor_info"] = other_worker_commits
    result = spec.executable_fn(spec.output_path)

    assert calls == [], "the step ran a second time after another worker had already re-run and committed it"
    assert result == {"by": "other worker"}


# -- run_only -----------------------------------------------------------------------------------------------------


def test_run_only_does_not_run_what_a_done_step_needed(prefix):
    calls: list[str] = []

    def spec(name: str, deps: list[StepSpec]) -> StepSpec:
        return StepSpec(name=name, fn=lambda output_path: calls.append(name), deps=deps)

    raw = spec("raw/a", [])
    tokenized = spec("tok/b", [raw])
    trained = spec("train/c", [tokenized])
    tokenized.executable_fn(tokenized.output_path)  # done earlier; raw's outputs were cleaned up since
    calls.clear()

    StepRunner().run([trained], run_only=["train/c"])

    assert calls == ["train/c"], "run_only ran steps that a step already done needed (Marin does not)"


def test_run_only_accepts_a_single_regex_with_a_character_class_or_braces():
    assert parse_args(["--run_only", "tokenized/[a-z]+"]).run_only == ["tokenized/[a-z]+"]
    assert parse_args(["--run_only", "[ab]/train"]).run_only == ["[ab]/train"]
    assert parse_args(["--run_only", "eval-k0.[0-9]{2}"]).run_only == ["eval-k0.[0-9]{2}"]
    assert parse_args(["--run_only=eval/.*"]).run_only == ["eval/.*"]


# -- identity and provenance on wide DAGs -------------------------------------------------------------------------


def _lattice(root: pathlib.Path, width: int, levels: int) -> list[list[StepSpec]]:
    """``levels`` levels of ``width`` steps, each step depending on every step of the level below."""
    rows = [
        [StepSpec(name=f"l0/n{i}", fn=_noop, hash_attrs={"i": i}, output_path_prefix=str(root)) for i in range(width)]
    ]
    for level in range(1, levels):
        rows.append(
            [
                StepSpec(
                    name=f"l{level}/n{i}",
                    fn=_noop,
                    deps=list(rows[-1]),
                    hash_attrs={"i": i},
                    output_path_prefix=str(root),
                )
                for i in range(width)
            ]
        )
    return rows


def _noop(output_path: str) -> None:
    return None


def test_executor_info_of_a_step_in_a_wide_lattice_does_not_inline_every_ancestor_version(tmp_path):
    # At depth 5 with fan-in 4 the nested version holds 4**5 leaf versions (~60 kB of JSON; the hash needs it, as in
    # Marin). The .executor_info need not repeat it: with fan-in 10 it is 30 MB per step and a 10x8 lattice of no-op
    # steps writes 699 MB and takes 37 s.
    top = _lattice(tmp_path, width=4, levels=6)[-1][0]
    assert top.depth == 5
    top.executable_fn(top.output_path)
    size = os.path.getsize(os.path.join(top.output_path, ".executor_info"))
    assert size < 32_000, f".executor_info is {size} bytes for one no-op step"


# -- data flow ------------------------------------------------------------------------------------------------------


class _ModelConfig(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(arbitrary_types_allowed=True)
    input_path: Any
    output_path: Any


def _use(config: Any) -> Any:
    return config


use = deferred(_use)


@step(name="review/up")
def _up():
    return use({"out": output(), "v": versioned(1)})


def test_a_step_ref_inside_a_config_object_the_walk_does_not_enter_is_a_tracing_error():
    # Today it is dropped silently: no dependency, no hash entry, and the function gets a StepRef at run time.
    @step(name="review/down")
    def down():
        return use(_ModelConfig(input_path=_up(), output_path=output()))

    with pytest.raises(TracingError, match=r"review/down.*_ModelConfig"):
        trace(down)


# -- one path, one function -----------------------------------------------------------------------------------------


def _write_a(output_path: str) -> str:
    return "a"


def _write_b(output_path: str) -> str:
    return "b"


def test_two_different_functions_on_one_output_path_are_an_error_in_the_runner(prefix):
    one = StepSpec(name="same", fn=_write_a)
    two = StepSpec(name="same", fn=_write_b)
    with pytest.raises(PathCollisionError, match=r"_write_a.*_write_b"):
        StepRunner().run([one, two])
