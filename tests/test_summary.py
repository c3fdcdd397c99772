"""Truthful summaries: every kind of outcome counted apart, waits kept out of step time, whom a step waited for."""

from __future__ import annotations

import json

import pytest

from marin_exec.run.summary import (
    BLOCKED,
    CACHED,
    FAILED,
    FINISHED_ELSEWHERE,
    INTERRUPTED,
    RAN_HERE,
    StepResult,
    run_record,
    summarize,
)

MIXED = [
    StepResult("raw/a-111111", CACHED),
    StepResult("tok/b-222222", RAN_HERE, seconds=2.0, worker="me"),
    StepResult("tok/c-333333", FINISHED_ELSEWHERE, waited_seconds=30.0, waited_for="host-b-77"),
    StepResult("models/d-444444", FAILED, seconds=1.5, error="KeyError: 'train'", worker="me"),
    StepResult("evals/e-555555", BLOCKED, blocked_by="models/d-444444"),
]


def test_the_summary_line_counts_each_outcome_apart_and_keeps_waits_out_of_step_time():
    summary = summarize(MIXED, wall_seconds=34.0)

    assert summary.lines[0] == (
        "Summary: 1 ran here, 1 finished by another worker while we waited, 1 cached, 1 failed, 1 blocked "
        "in 34.00 s (steps 3.50 s, waiting 30.00 s)."
    )
    assert (summary.step_seconds, summary.wait_seconds) == (3.5, 30.0)


def test_failed_blocked_and_waiting_steps_each_get_a_line_naming_the_cause_or_the_holder():
    lines = summarize(MIXED, wall_seconds=34.0).lines[1:]

    assert lines == [
        "  failed: models/d-444444: KeyError: 'train'",
        "  blocked: evals/e-555555: needs models/d-444444, which failed",
        "  waited: tok/c-333333: 30.00 s for host-b-77 (it finished there)",
    ]


def test_a_clean_run_says_so_and_offers_no_rerun():
    summary = summarize([StepResult("a-111111", RAN_HERE, seconds=0.5), StepResult("b-2", CACHED)], 0.6)

    assert summary.text == "Summary: 1 ran here, 1 cached in 0.60 s (steps 0.50 s)."
    assert not summary.rerun_helps


@pytest.mark.parametrize("outcome", [FAILED, BLOCKED, INTERRUPTED])
def test_a_rerun_is_offered_only_when_something_failed_was_blocked_or_was_interrupted(outcome):
    assert summarize([StepResult("a-111111", outcome)], 1.0).rerun_helps
    assert not summarize([StepResult("a-111111", outcome)], 1.0, dry_run=True).rerun_helps


def test_an_interrupted_step_says_how_long_it_had_run():
    summary = summarize([StepResult("train/x-abcdef", INTERRUPTED, seconds=125.0)], 130.0)

    assert summary.lines == [
        "Summary: 0 ran here, 0 cached, 1 interrupted in 2 min 10 s (steps 2 min 05 s).",
        "  interrupted: train/x-abcdef after 2 min 05 s",
    ]


def test_a_step_that_waited_and_then_ran_here_says_so():
    result = StepResult("a-111111", RAN_HERE, seconds=1.0, waited_seconds=5.0, waited_for="host-c-1")

    assert summarize([result], 6.0).lines[-1] == "  waited: a-111111: 5.00 s for host-c-1 (then ran here)"


def test_the_run_record_has_one_json_row_per_step():
    rows = json.loads(json.dumps(run_record(MIXED)))

    assert [r["outcome"] for r in rows] == [CACHED, RAN_HERE, FINISHED_ELSEWHERE, FAILED, BLOCKED]
    assert rows[3]["error"] == "KeyError: 'train'" and rows[2]["waited_for"] == "host-b-77"


def test_an_unknown_outcome_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="ran here"):
        StepResult("a-111111", "ran")


def _interrupted(output_path: str) -> None:
    raise KeyboardInterrupt


def _fails(output_path: str) -> None:
    raise KeyError("train")


def test_a_real_run_reports_a_failure_with_its_error_line_and_an_interrupt_as_interrupted(prefix):
    from marin_exec import StepRunner, StepsFailed, StepSpec
    from marin_exec.run.summary import step_results

    failing = StepSpec(name="a/fails", fn=_fails)
    stopped = StepSpec(name="b/stopped", fn=_interrupted)
    below = StepSpec(name="c/below", fn=_fails, deps=[failing], hash_attrs={"in": "DEP[0]"})
    with pytest.raises(StepsFailed) as caught:
        StepRunner().run([failing, stopped, below], max_concurrent=1)

    results = {r.name.rsplit("-", 1)[0]: r for r in step_results(caught.value.report)}
    assert (results["a/fails"].outcome, results["a/fails"].error) == (FAILED, "KeyError: 'train'")
    assert results["b/stopped"].outcome == INTERRUPTED
    assert (results["c/below"].outcome, results["c/below"].blocked_by) == (BLOCKED, failing.name_with_hash)
