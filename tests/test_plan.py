"""Dry-run classification (``run.plan``): done, will run, failed before, blocked, running elsewhere; nothing written."""

from __future__ import annotations

import pytest

from marin_exec import StepRunner, StepsFailed, StepSpec
from marin_exec.run.run_report import StepState
from tests.test_runner import Recorder, snapshot


def test_dry_run_writes_nothing_and_reports_what_would_run(prefix):
    r = Recorder()
    a = r.step("a")
    b = r.step("b", [a])
    StepRunner().run([a])
    before = snapshot(prefix)
    report = StepRunner().run([b], dry_run=True)
    assert snapshot(prefix) == before
    assert r.calls == ["a"]
    assert report.outcomes[a.output_path].state == "done"
    assert report.outcomes[b.output_path].state == "will run"


def test_dry_run_shows_failed_before_and_blocks_dependents_without_force(prefix):
    r = Recorder()
    bad = r.step("bad", fail=True)
    with pytest.raises(StepsFailed):
        StepRunner().run([bad])
    child = r.step("child", [bad])
    report = StepRunner().run([child], dry_run=True, force_run_failed=False)
    assert report.outcomes[bad.output_path].state == "failed before"
    assert report.outcomes[child.output_path].state == "blocked"
    forced = StepRunner().run([child], dry_run=True, force_run_failed=True)
    assert forced.outcomes[bad.output_path].state == "will run"


def test_dry_run_shows_a_step_whose_lease_another_worker_holds(prefix):
    from marin_exec import Lease, StatusFile

    step = StepSpec(name="busy", fn=lambda p: None)
    Lease(step.output_path, timeout=60, owner="someone-else").try_acquire()
    StatusFile(step.output_path).write("RUNNING")  # what a holder writes right after taking the lease
    report = StepRunner().run([step], dry_run=True)
    assert report.outcomes[step.output_path].state == "running elsewhere"


def test_a_dry_run_on_a_registered_store_fsspec_cannot_list_still_says_each_step_will_run(tmp_path):
    from tests.hooked_store import PROTOCOL, hooked_store

    hooked_store()
    spec = StepSpec(name="models/x", fn=lambda path: None, output_path_prefix=f"{PROTOCOL}://{tmp_path}")

    report = StepRunner().run([spec], dry_run=True)

    [outcome] = report.outcomes.values()
    assert outcome.state == StepState.WILL_RUN
    assert outcome.reason.startswith("never ran at this version (earlier outputs could not be read: ")
