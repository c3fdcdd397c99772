"""``RunStop`` obeyed by the runner: a drain starts nothing new and waits for the running steps; ``now`` returns at
once, leaving a blocked step's thread behind; the report says what was interrupted or never started.

Requests come from another thread here (the CLI's signal handler makes the same calls; tests/test_interrupts.py
sends real signals). Steps are real functions on local disk that block on events.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Sequence
from typing import Any

from marin_exec import Artifact, StepRunner, StepSpec
from marin_exec.run.run_report import StepState
from marin_exec.run.stop import RunStop
from marin_exec.runtime.heartbeat import release_all
from tests.hooked_store import PROTOCOL, hooked_store
from tests.test_distributed_lock import WAIT


class Blocking:
    """A step function that announces it started and returns only once ``resume`` is set."""

    def __init__(self, limit: float = WAIT) -> None:
        self.entered, self.resume = threading.Event(), threading.Event()
        self.limit = limit

    def __call__(self, output_path: str) -> dict[str, int]:
        self.entered.set()
        assert self.resume.wait(self.limit)
        return {"value": 1}


def _never(output_path: str) -> None:
    raise AssertionError("a stopped run started a new step")


def _pipeline(prefix: str, blocking: Blocking) -> tuple[StepSpec, StepSpec, StepSpec]:
    first = StepSpec(name="stop/first", fn=blocking, output_path_prefix=prefix)
    dependent = StepSpec(name="stop/dependent", fn=_never, deps=[first], output_path_prefix=prefix)
    queued = StepSpec(name="stop/queued", fn=_never, output_path_prefix=prefix)  # waits for the one free slot
    return first, dependent, queued


def _run_in_thread(steps: list[StepSpec], stop: RunStop) -> tuple[threading.Thread, dict[str, Any]]:
    result: dict[str, Any] = {}

    def run() -> None:  # as a generator: each step is asked for, in this order (a list would start from its ends)
        result["report"] = StepRunner().run(iter(steps), max_concurrent=1, stop=stop)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def test_a_drain_names_the_running_steps_lets_them_finish_and_starts_nothing_new(prefix: str) -> None:
    blocking = Blocking()
    said: list[Sequence[str]] = []
    drained = threading.Event()
    stop = RunStop(on_drain=lambda running: (said.append(list(running)), drained.set()))
    first, dependent, queued = _pipeline(prefix, blocking)
    thread, result = _run_in_thread([first, dependent, queued], stop)
    assert blocking.entered.wait(WAIT)

    stop.drain()
    assert drained.wait(WAIT)
    blocking.resume.set()
    thread.join(WAIT)

    assert said == [[first.name_with_hash]]
    states = {path: outcome.state for path, outcome in result["report"].outcomes.items()}
    assert states == {
        first.output_path: StepState.RAN,
        dependent.output_path: StepState.NOT_STARTED,
        queued.output_path: StepState.NOT_STARTED,
    }
    assert first.read_status() == "SUCCESS" and dependent.read_status() is None and queued.read_status() is None


def test_stopping_now_returns_while_a_step_is_blocked_and_reports_it_interrupted(prefix: str) -> None:
    blocking = Blocking()
    stop = RunStop()
    first, dependent, queued = _pipeline(prefix, blocking)
    before = time.monotonic()
    thread, result = _run_in_thread([first, dependent, queued], stop)
    assert blocking.entered.wait(WAIT)

    stop.drain()
    stop.now()
    thread.join(WAIT)
    try:
        assert not thread.is_alive()  # returned although the step is still blocked
        report = result["report"]
        assert [o.spec.name for o in report.by_state(StepState.INTERRUPTED)] == ["stop/first"]
        (interrupted,) = report.by_state(StepState.INTERRUPTED)  # the summary says how long it ran before the stop
        assert interrupted.seconds is not None and 0 < interrupted.seconds <= time.monotonic() - before
        assert {o.spec.name for o in report.by_state(StepState.NOT_STARTED)} == {"stop/dependent", "stop/queued"}
    finally:
        blocking.resume.set()


def test_a_stop_asked_before_the_run_starts_nothing_and_returns(prefix: str) -> None:
    blocking = Blocking()
    stop = RunStop()
    stop.drain()
    report = StepRunner().run(list(_pipeline(prefix, blocking)), stop=stop)
    assert not blocking.entered.is_set()
    assert all(o.state == StepState.NOT_STARTED for o in report.outcomes.values())  # the input may not be read


def test_a_failure_while_draining_is_reported_not_raised(prefix: str) -> None:
    entered, resume = threading.Event(), threading.Event()

    def fails(output_path: str) -> None:
        entered.set()
        assert resume.wait(WAIT)
        raise ValueError("bad data")

    stop = RunStop()
    step = StepSpec(name="stop/fails", fn=fails, output_path_prefix=prefix)
    thread, result = _run_in_thread([step], stop)
    assert entered.wait(WAIT)
    stop.drain()
    resume.set()
    thread.join(WAIT)
    (outcome,) = result["report"].outcomes.values()
    assert outcome.state == StepState.FAILED and isinstance(outcome.error, ValueError)


def test_a_step_abandoned_by_stopping_now_commits_nothing_once_its_lease_is_released(prefix: str) -> None:
    # What executor_main does on a second Ctrl-C or SIGTERM: stop now, release every lease, leave the thread.
    blocking = Blocking(limit=120)  # release_all also gives up leases earlier tests left, which may take a while
    stop = RunStop()
    step = StepSpec(name="stop/abandoned", fn=blocking, output_path_prefix=prefix)
    thread, result = _run_in_thread([step], stop)
    assert blocking.entered.wait(WAIT)
    stop.now()
    thread.join(WAIT)
    step_threads = [t for t in threading.enumerate() if t.name.startswith("marin-step_")]

    assert step.output_path in release_all()
    blocking.resume.set()  # the abandoned step returns and tries to commit
    for step_thread in step_threads:
        step_thread.join(WAIT)

    assert result["report"].count(StepState.INTERRUPTED) == 1
    assert step.read_status() == "RUNNING" and not Artifact.exists(step.output_path)  # every commit write refused


def test_after_a_drain_a_step_pruned_below_a_built_one_is_reported_pruned_not_not_started(prefix: str) -> None:
    # Regression (review): a stop marked every pending step "not started" before the pruned ones were marked, so the
    # summary's "not started" list named steps the run would never have run.
    def writes(output_path: str) -> dict[str, int]:
        return {"value": 1}

    stop = RunStop()
    raw = StepSpec(name="stop/raw", fn=writes, output_path_prefix=prefix)
    tok = StepSpec(name="stop/tok", fn=writes, deps=[raw], output_path_prefix=prefix)
    StepRunner().run([raw, tok])
    shutil.rmtree(raw.output_path)  # tok is built: raw is not needed

    def drains(output_path: str) -> dict[str, int]:
        stop.drain()  # Ctrl-C while train runs
        return {"value": 1}

    train = StepSpec(name="stop/train", fn=drains, deps=[tok], output_path_prefix=prefix)
    evaluate = StepSpec(name="stop/eval", fn=_never, deps=[train], output_path_prefix=prefix)
    report = StepRunner().run([raw, tok, train, evaluate], stop=stop, max_concurrent=1)

    states = {outcome.spec.name: outcome.state for outcome in report.outcomes.values()}
    assert states == {
        "stop/raw": StepState.PRUNED,
        "stop/tok": StepState.CACHED,
        "stop/train": StepState.RAN,
        "stop/eval": StepState.NOT_STARTED,
    }
    assert "stop/tok, which needs it, is already built" in report.outcomes[raw.output_path].reason


def test_a_step_below_one_whose_status_a_stop_left_unjudged_is_not_started_not_pruned(tmp_path) -> None:
    # "pruned" says a step that needs it was found built; a stop during the status reads judged nothing built.
    store = hooked_store()
    stop = RunStop()
    store.on_read[".executor_status"] = stop.drain  # Ctrl-C while the run reads its first statuses
    raw = StepSpec(name="stop/raw", fn=_never, output_path_prefix=f"{PROTOCOL}://{tmp_path}")
    tok = StepSpec(name="stop/tok", fn=_never, deps=[raw], output_path_prefix=f"{PROTOCOL}://{tmp_path}")

    report = StepRunner().run([raw, tok], stop=stop)

    assert {o.spec.name: o.state for o in report.outcomes.values()} == {
        "stop/raw": StepState.NOT_STARTED,
        "stop/tok": StepState.NOT_STARTED,
    }
