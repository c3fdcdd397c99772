"""StepRunner: order, de-duplication, laziness, failures, settings in worker threads, deep graphs.

The dry-run plan is tested in tests/test_plan.py, run_only in tests/test_run_only.py, collisions and cycles in
tests/test_step_graph.py.
"""

from __future__ import annotations

import contextvars
import os
import pathlib
import threading

import pytest

from marin_exec import (
    StepRunner,
    StepsFailed,
    StepSpec,
    run_settings,
)


class Recorder:
    """Step functions that log the order in which they run (thread-safe)."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def step(self, name: str, deps=(), fail: bool = False, **attrs) -> StepSpec:
        def fn(output_path: str) -> dict:
            with self._lock:
                self.calls.append(name)
            if fail:
                raise ValueError(f"boom in {name}")
            pathlib.Path(output_path, "out.txt").write_text(name)
            return {"name": name}

        return StepSpec(name=name, fn=fn, deps=list(deps), hash_attrs=attrs)


def snapshot(root: str) -> dict[str, bytes]:
    files = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            files[os.path.join(dirpath, d) + "/"] = b""
        for f in filenames:
            files[os.path.join(dirpath, f)] = pathlib.Path(dirpath, f).read_bytes()
    return files


def test_steps_run_after_their_dependencies(prefix):
    r = Recorder()
    a = r.step("a")
    b = r.step("b", [a])
    c = r.step("c", [a])
    d = r.step("d", [b, c])
    StepRunner().run([d])
    assert r.calls[0] == "a" and r.calls[-1] == "d" and set(r.calls) == {"a", "b", "c", "d"}


def test_the_same_output_path_runs_once(prefix):
    r = Recorder()
    a1, a2 = r.step("a", x=1), r.step("a", x=1)
    report = StepRunner().run([r.step("b", [a1]), r.step("c", [a2])])
    assert r.calls.count("a") == 1
    assert len(report.outcomes) == 3


def test_cached_steps_are_skipped_without_being_called(prefix):
    r = Recorder()
    chain = [r.step("a")]
    chain.append(r.step("b", [chain[0]]))
    StepRunner().run(chain)
    r.calls.clear()
    report = StepRunner().run(chain)
    assert r.calls == []
    assert report.count("cached") == 1 and report.count("pruned") == 1  # b is built: a is not needed (§5b)


def test_a_generator_is_consumed_lazily_and_steps_start_before_it_ends(prefix):
    r = Recorder()
    started = threading.Event()

    def first(output_path: str) -> None:
        started.set()

    def steps():
        yield StepSpec(name="first", fn=first)
        # The runner must already be running "first" while we are still producing steps.
        assert started.wait(timeout=30), "the first step did not start before the generator was exhausted"
        yield r.step("second")

    report = StepRunner().run(steps())
    assert report.count("ran") == 2


def test_an_unbounded_generator_is_pulled_only_a_bounded_distance_ahead(prefix):
    # A generator that stops once a step it yielded runs: pulled without limit, it was read 16,000-77,000 steps
    # ahead before the first step started (and a truly endless one never let the run finish).
    ran = threading.Event()
    pulled = 0

    def first(output_path: str) -> None:
        ran.set()

    def endless():
        nonlocal pulled
        yield StepSpec(name="first", fn=first)
        while not ran.is_set():
            pulled += 1
            yield StepSpec(name=f"later/{pulled}", fn=lambda p: None)
            if pulled > 5_000:
                raise AssertionError("the runner read the input without limit")

    report = StepRunner().run(endless())
    assert ran.is_set()
    assert pulled <= 1024, f"pulled {pulled} steps ahead"
    assert report.count("ran") == pulled + 1


def test_a_failure_stops_its_dependents_but_not_independent_branches(prefix):
    r = Recorder()
    bad = r.step("bad", fail=True)
    child = r.step("child", [bad])
    grandchild = r.step("grandchild", [child])
    other = r.step("other")
    with pytest.raises(RuntimeError) as info:  # Marin's callers catch RuntimeError: StepsFailed is one
        StepRunner().run([grandchild, other])
    assert isinstance(info.value, StepsFailed)
    assert sorted(r.calls) == ["bad", "other"]
    assert str(info.value) == f"1 step(s) failed: bad-{bad.hash_id}"
    assert info.value.dep_failed == [f"child-{child.hash_id}", f"grandchild-{grandchild.hash_id}"]
    assert isinstance(info.value.__cause__, ValueError)
    assert not os.path.exists(child.output_path) and not os.path.exists(grandchild.output_path)
    assert bad.read_status() == "FAILED"


def test_a_step_added_after_its_dependency_failed_is_not_run(prefix):
    r = Recorder()
    bad = r.step("bad", fail=True)

    def steps():
        yield bad
        yield r.step("late", [bad])

    with pytest.raises(StepsFailed) as info:
        StepRunner().run(steps())
    assert len(info.value.dep_failed) == 1
    assert r.calls == ["bad"]


def test_context_variables_and_run_settings_reach_worker_threads(prefix):
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    seen = {}

    def fn(output_path: str) -> None:
        from marin_exec import current_run_settings

        seen["var"] = var.get()
        seen["lease_timeout"] = current_run_settings().lease_timeout

    var.set("from caller")
    StepRunner().run([StepSpec(name="ctx", fn=fn)], lease_timeout=7.5)
    assert seen == {"var": "from caller", "lease_timeout": 7.5}


def test_previous_failure_without_force_fails_the_step(prefix):
    r = Recorder()
    bad = r.step("bad", fail=True)
    with pytest.raises(StepsFailed):
        StepRunner().run([bad])
    with pytest.raises(StepsFailed) as info:
        StepRunner().run([bad], force_run_failed=False)
    assert "--force_run_failed" in str(info.value.__cause__)
    assert r.calls == ["bad"]


def test_ten_thousand_step_chain_runs_without_recursion_error(tmp_path):
    specs: list[StepSpec] = []
    for i in range(10_000):
        specs.append(
            StepSpec(
                name=f"c/s{i}",
                fn=_noop,
                deps=specs[-1:],
                hash_attrs={"i": i},
                output_path_prefix=f"memory://{tmp_path.name}",
            )
        )
    with run_settings(heartbeat_interval=60):
        report = StepRunner().run([specs[-1]])
    assert report.count("ran") == 10_000


def _noop(output_path: str) -> None:
    return None


def test_a_heartbeat_not_shorter_than_the_lease_timeout_is_warned_about(prefix, caplog):
    StepRunner().run([StepSpec(name="hb", fn=_noop)], heartbeat_interval=5.5, lease_timeout=5.5)
    assert "--heartbeat_interval well below --lease_timeout" in caplog.text


def test_a_backend_without_atomic_writes_runs_steps_with_one_warning_naming_it(caplog):
    import fsspec
    from fsspec.implementations.memory import MemoryFileSystem

    class PlainMemory(MemoryFileSystem):  # an fsspec backend marin_exec has no atomic store for
        protocol = "plainmem"

    fsspec.register_implementation("plainmem", PlainMemory, clobber=True)
    specs = [
        StepSpec(name=f"plain/s{i}", fn=_noop, hash_attrs={"i": i}, output_path_prefix="plainmem://r") for i in range(3)
    ]
    report = StepRunner().run(specs)
    again = StepRunner().run(specs)
    assert report.count("ran") == 3 and again.count("cached") == 3
    warnings = [r.message for r in caplog.records if "plainmem://" in r.getMessage() and r.levelname == "WARNING"]
    assert len(warnings) == 1 and "best" in warnings[0]


def test_statuses_read_in_batches_reach_the_right_steps(prefix):
    """Hundreds of steps, a scattered third of them already done or failed: each gets its own status."""
    import random

    rec = Recorder()
    specs = [rec.step(f"batch/s{i}", i=i) for i in range(500)]
    rng = random.Random(7)
    done = set(rng.sample(range(500), 170))
    failed_before = set(rng.sample(sorted(set(range(500)) - done), 40))
    for i in done:
        specs[i].executable_fn(specs[i].output_path)
    for i in failed_before:
        os.makedirs(specs[i].output_path)
        pathlib.Path(specs[i].output_path, ".executor_status").write_text("FAILED")
    rec.calls.clear()

    plan = StepRunner().run(specs, dry_run=True, force_run_failed=False)
    assert {i for i, s in enumerate(specs) if plan.outcomes[s.output_path].state == "done"} == done
    assert {i for i, s in enumerate(specs) if plan.outcomes[s.output_path].state == "failed before"} == failed_before

    report = StepRunner().run(specs)
    assert {i for i, s in enumerate(specs) if report.outcomes[s.output_path].state == "cached"} == done
    assert sorted(rec.calls) == sorted(f"batch/s{i}" for i in range(500) if i not in done)


def test_a_status_that_cannot_be_read_fails_only_its_own_step(prefix):
    rec = Recorder()
    specs = [rec.step(f"unreadable/s{i}", i=i) for i in range(10)]
    for spec in specs[:5]:
        spec.executable_fn(spec.output_path)
    os.makedirs(os.path.join(specs[7].output_path, ".executor_status"))  # reading it raises IsADirectoryError
    rec.calls.clear()
    with pytest.raises(StepsFailed) as info:
        StepRunner().run(specs)
    assert info.value.failed == [specs[7].name_with_hash]
    assert sorted(rec.calls) == ["unreadable/s5", "unreadable/s6", "unreadable/s8", "unreadable/s9"]
