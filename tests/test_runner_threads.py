"""Which threads a run starts: none for its input when the input is a list, none for status reads on a local or
``memory://`` store (read on the runner's own thread), a pool for object stores, the input thread for a generator.

A cached re-run of a small plan spent about a third of its time starting and handing work to those threads. The
threads are observed as they start (``threading.settrace`` runs in each new thread), nothing is replaced.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import pytest

from marin_exec import StepRunner, StepSpec
from marin_exec.run.run_report import StepState


class ThreadsStarted:
    """Names of the threads the ``threading`` module starts inside the ``with`` block."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def _seen(self, *args: object) -> None:
        self.names.append(threading.current_thread().name)
        sys.settrace(None)

    def __enter__(self) -> ThreadsStarted:
        threading.settrace(self._seen)  # type: ignore[arg-type]
        return self

    def __exit__(self, *exc: object) -> None:
        threading.settrace(None)  # type: ignore[arg-type]


CALLS: list[str] = []


def _record(output_path: str) -> None:
    CALLS.append(output_path)


def _chain(prefix: str, length: int) -> list[StepSpec]:
    steps: list[StepSpec] = []
    for i in range(length):
        steps.append(StepSpec(name=f"chain/s{i}", fn=_record, deps=steps[-1:], output_path_prefix=prefix))
    return steps


def _built_chain(prefix: str, length: int = 5) -> list[StepSpec]:
    CALLS.clear()
    steps = _chain(prefix, length)
    StepRunner().run(steps)
    assert len(CALLS) == length
    CALLS.clear()
    return steps


@pytest.mark.parametrize("store", ["local", "memory"])
def test_a_cached_rerun_of_a_list_starts_no_thread(tmp_path, store):
    prefix = str(tmp_path) if store == "local" else f"memory://{tmp_path.name}"
    steps = _built_chain(prefix)

    with ThreadsStarted() as started:
        report = StepRunner().run(steps)

    assert CALLS == []
    assert report.outcomes[steps[-1].output_path].state == StepState.CACHED
    assert report.count(StepState.PRUNED) == len(steps) - 1
    assert started.names == [], f"a cached re-run of a list started threads: {started.names}"


def test_a_generator_is_still_consumed_on_its_own_thread(tmp_path):
    steps = _built_chain(str(tmp_path))

    def given() -> Iterator:
        yield from steps

    with ThreadsStarted() as started:
        report = StepRunner().run(given())

    assert CALLS == []
    assert all(o.state == StepState.CACHED for o in report.outcomes.values())  # each step it yields is asked for
    assert started.names == ["marin-step-input"]


def test_a_fresh_list_runs_its_steps_on_worker_threads_only(tmp_path):
    CALLS.clear()
    steps = _chain(str(tmp_path), 2)

    with ThreadsStarted() as started:
        StepRunner().run(steps)

    assert CALLS == [step.output_path for step in steps]
    CALLS.clear()
    workers = [name for name in started.names if name.startswith("marin-step_")]  # the lease heartbeat has its own
    assert workers and not any(name.startswith(("marin-status", "marin-step-input")) for name in started.names)


def test_an_object_store_is_read_on_a_reader_pool(gcs_bucket):
    steps = _built_chain(gcs_bucket, length=2)

    with ThreadsStarted() as started:
        StepRunner().run(steps)

    assert CALLS == []
    assert any(name.startswith("marin-status") for name in started.names), started.names
