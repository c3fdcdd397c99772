"""The step job (``runtime.step_job``): what runs for one step — disk_cached(distributed_lock(fn)), the commit
that saves the artifact then ``.executor_info``, and the re-run of an incomplete commit."""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import threading

import pytest

from marin_exec import Artifact, LeaseLostError, StatusFile, StepRunner, StepSpec
from marin_exec.runtime.commit import scope_for
from marin_exec.status.status import LOCK_FILENAME
from marin_exec.status.step_status import clear_done
from tests.fault_store import FaultyStore, faulty_root
from tests.hooked_store import PROTOCOL, hooked_store, local_path
from tests.test_distributed_lock import lease_holder, write_lease

__all__ = ["faulty_root"]  # the fixture, used by name


def _noop(output_path: str) -> None:
    return None


def test_clearing_an_incomplete_commit_never_removes_the_success_another_worker_just_committed(tmp_path):
    store = hooked_store()
    # SUCCESS and this executor's info are there, the artifact is not: the step must run again, once.
    calls: list[str] = []

    def make(output_path: str) -> dict:
        calls.append(output_path)
        return {"by": "this worker"}

    spec = StepSpec(name="tok/x", fn=make, output_path_prefix=f"{PROTOCOL}://{tmp_path}")
    spec.executable_fn(spec.output_path)
    local = pathlib.Path(local_path(spec.output_path))
    (local / ".artifact.json").unlink()
    calls.clear()

    # Another worker saw the same incomplete commit a moment earlier, re-ran the step under the lease and committed
    # artifact + SUCCESS right after this worker looked for the artifact and found none.
    def other_worker_commits() -> None:
        del store.on_read[".executor_info"]
        (local / ".artifact.json").write_text(json.dumps({"by": "other worker"}))

    store.on_read[".executor_info"] = other_worker_commits
    result = spec.executable_fn(spec.output_path)

    assert calls == [], "the step ran a second time after another worker had already re-run and committed it"
    assert result == {"by": "other worker"}


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


def test_executor_info_of_a_step_in_a_wide_lattice_does_not_inline_every_ancestor_version(tmp_path):
    # At depth 5 with fan-in 4 the nested version holds 4**5 leaf versions (~60 kB of JSON; the hash needs it, as in
    # Marin). The .executor_info need not repeat it: with fan-in 10 it is 30 MB per step and a 10x8 lattice of no-op
    # steps writes 699 MB and takes 37 s.
    top = _lattice(tmp_path, width=4, levels=6)[-1][0]
    assert top.depth == 5
    top.executable_fn(top.output_path)
    size = os.path.getsize(os.path.join(top.output_path, ".executor_info"))
    assert size < 32_000, f".executor_info is {size} bytes for one no-op step"


@dataclasses.dataclass(frozen=True)
class Stats:
    tokens: int
    names: list[str]


def _count(output_path: str) -> Stats:
    with open(os.path.join(output_path, "data.txt"), "w") as f:
        f.write("hello")
    return Stats(tokens=5, names=["a"])


def test_executable_fn_commits_outputs_artifact_info_and_success(prefix):
    spec = StepSpec(name="tok/x", fn=_count, info={"description": "count tokens"})
    result = spec.executable_fn(spec.output_path)
    assert result == Stats(tokens=5, names=["a"])
    assert Artifact.load(spec.output_path, Stats) == result
    info = json.loads(pathlib.Path(spec.output_path, ".executor_info").read_text())
    assert info["executor_version"].startswith("marin_exec ")
    assert info["name"] == "tok/x"
    assert info["description"] == "count tokens"
    assert info["fn_name"].endswith("_count")
    assert info["output_path"] == spec.output_path
    assert spec.read_status() == "SUCCESS"


def test_cached_step_loads_its_artifact_typed_by_the_return_annotation(prefix):
    spec = StepSpec(name="tok/x", fn=_count)
    spec.executable_fn(spec.output_path)
    again = StepSpec(name="tok/x", fn=_count)
    assert again.executable_fn(again.output_path) == Stats(tokens=5, names=["a"])


def test_success_without_its_artifact_is_not_a_cache_hit(prefix):
    calls = []

    def make(output_path: str) -> dict:
        calls.append(output_path)
        return {"n": len(calls)}

    spec = StepSpec(name="tok/y", fn=make)
    spec.executable_fn(spec.output_path)
    os.remove(os.path.join(spec.output_path, ".artifact.json"))
    assert spec.executable_fn(spec.output_path) == {"n": 2}
    assert Artifact.load(spec.output_path) == {"n": 2}


def test_success_of_an_older_executor_is_a_hit_that_loads_none(prefix):
    calls = []
    spec = StepSpec(name="old/step", fn=lambda p: calls.append(p))
    os.makedirs(spec.output_path)
    pathlib.Path(spec.output_path, ".executor_status").write_text("SUCCESS")
    assert spec.executable_fn(spec.output_path) is None
    assert calls == []
    assert StepRunner().run([spec]).count("cached") == 1


def _fails_then_succeeds(output_path: str) -> dict:
    marker = pathlib.Path(output_path, "tried")
    if not marker.exists():
        marker.write_text("once")
        raise KeyError("train")
    return {"ok": True}


def test_a_failed_step_leaves_an_error_record_with_its_traceback_worker_and_attempt(prefix):
    spec = StepSpec(name="fail/once", fn=_fails_then_succeeds)
    try:
        spec.executable_fn(spec.output_path)
    except KeyError:
        pass
    record = json.loads(pathlib.Path(spec.output_path, ".executor_error").read_text())
    assert record["type"] == "builtins.KeyError" and record["message"] == "'train'"
    assert "_fails_then_succeeds" in record["traceback"] and "marin_exec frame(s) hidden" in record["traceback"]
    assert record["attempt"] == 1 and record["worker"] and record["time"]
    assert spec.read_status() == "FAILED"


def test_a_retry_that_succeeds_keeps_the_failed_attempts_in_executor_info(prefix):
    spec = StepSpec(name="fail/once", fn=_fails_then_succeeds)
    try:
        spec.executable_fn(spec.output_path)
    except KeyError:
        pass
    assert spec.executable_fn(spec.output_path) == {"ok": True}
    info = json.loads(pathlib.Path(spec.output_path, ".executor_info").read_text())
    [attempt] = info["attempts"]
    assert attempt["attempt"] == 1 and attempt["type"] == "builtins.KeyError"


def test_a_retry_after_an_interrupted_attempt_still_keeps_the_failure_before_it(prefix):
    spec = StepSpec(name="fail/once", fn=_fails_then_succeeds)
    with pytest.raises(KeyError):
        spec.executable_fn(spec.output_path)
    StatusFile(spec.output_path).write("RUNNING")  # a second attempt whose worker was killed (its lease gone)
    assert spec.executable_fn(spec.output_path) == {"ok": True}
    info = json.loads(pathlib.Path(spec.output_path, ".executor_info").read_text())
    assert [attempt["attempt"] for attempt in info["attempts"]] == [1]


def test_a_step_rerun_after_its_success_was_cleared_lists_no_attempts_from_before_that_success(prefix):
    # The attempts in .executor_info are the failures since the step last had no status; the failures before a
    # cleared SUCCESS (--force_rerun) stay in .executor_error, and a fresh step reads no .executor_error at all.
    spec = StepSpec(name="fail/once", fn=_fails_then_succeeds)
    with pytest.raises(KeyError):
        spec.executable_fn(spec.output_path)
    spec.executable_fn(spec.output_path)
    assert clear_done(spec.output_path)
    assert spec.executable_fn(spec.output_path) == {"ok": True}
    info = json.loads(pathlib.Path(spec.output_path, ".executor_info").read_text())
    assert "attempts" not in info
    assert json.loads(pathlib.Path(spec.output_path, ".executor_error").read_text())["attempt"] == 1


def test_a_step_that_succeeds_at_once_has_no_attempts_and_no_error_record(prefix):
    spec = StepSpec(name="tok/x", fn=_count)
    spec.executable_fn(spec.output_path)
    info = json.loads(pathlib.Path(spec.output_path, ".executor_info").read_text())
    assert "attempts" not in info
    assert not pathlib.Path(spec.output_path, ".executor_error").exists()


def test_a_fresh_step_makes_only_the_store_calls_its_commit_needs(faulty_root: tuple[str, FaultyStore]) -> None:
    # Issue 12: a fresh step's overhead stays under 1 ms on tmpfs. One lease check per commit write (RUNNING,
    # artifact, info, SUCCESS) and no more: the save's first fenced write is its check on entry.
    root, store = faulty_root
    store.before[("fenced", LOCK_FILENAME)] = lambda path: store.calls.append(("fenced", LOCK_FILENAME))
    spec = StepSpec(name="tok/x", fn=_noop, output_path_prefix=root)
    spec.executable_fn(spec.output_path)
    fence = ("fenced", LOCK_FILENAME)
    assert store.calls == [
        ("read", ".executor_status"),  # disk_cached: done already? (also the lock's look before acquiring)
        ("read", LOCK_FILENAME),
        ("create", LOCK_FILENAME),
        ("read", ".executor_status"),  # after acquiring: did a holder finish in between?
        fence,
        ("write", ".executor_status"),  # RUNNING
        fence,
        ("write", ".artifact.json"),
        fence,
        ("write", ".executor_info"),
        fence,
        ("write", ".executor_status"),  # SUCCESS
        ("delete_if", LOCK_FILENAME),
    ]


def test_a_step_whose_lease_was_taken_over_before_it_saved_writes_no_artifact_or_info(prefix):
    # The step job's save has no separate lease check before it: its first write, the artifact, is fenced and is
    # that check. Default run settings: the heartbeat does not beat during this test, so only the fence can notice.
    def taken_over_while_running(output_path: str) -> dict:
        write_lease(output_path, "new-holder")
        return {"n": 1}

    spec = StepSpec(name="tok/x", fn=taken_over_while_running)
    with pytest.raises(LeaseLostError):
        spec.executable_fn(spec.output_path)
    assert not pathlib.Path(spec.output_path, ".artifact.json").exists()
    assert not pathlib.Path(spec.output_path, ".executor_info").exists()
    assert spec.read_status() == "RUNNING"
    assert lease_holder(spec.output_path) == "new-holder"


class _RefreshesWhileDumped:
    """A pydantic-like return value whose ``model_dump`` (user code, run to save the artifact) has another thread
    refresh the step's lease, as the heartbeat would, and notes whether that refresh could finish meanwhile."""

    def __init__(self, output_path: str) -> None:
        self.output_path = output_path
        self.refreshed: bool | None = None

    def model_dump(self, mode: str) -> dict:
        scope = scope_for(self.output_path)
        assert scope is not None and scope.lease is not None
        refresh = threading.Thread(target=scope.lease.refresh)
        refresh.start()
        refresh.join(timeout=10)  # reached only when the refresh is blocked, i.e. when this test fails
        self.refreshed = not refresh.is_alive()
        return {"ok": True}


def test_the_heartbeat_can_refresh_the_lease_while_the_artifact_is_encoded(prefix):
    # Regression: the artifact was encoded inside its fence, so a model's model_dump (user code, however slow)
    # ran holding the lease's mutex and the directory lock, and the heartbeat could not refresh meanwhile.
    spec = StepSpec(name="tok/x", fn=_RefreshesWhileDumped)
    result = spec.executable_fn(spec.output_path)
    assert result.refreshed is True
    assert Artifact.load(spec.output_path) == {"ok": True}
