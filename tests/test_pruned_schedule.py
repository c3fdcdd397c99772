"""The pruned schedule (DESIGN §5b): a built step does not schedule, or read the status of, what it needs.

Issue 19's measurement: after a finished raw -> tok chain, deleting ``raw/`` and running again downloaded raw again.
"""

from __future__ import annotations

import pathlib
import shutil

import pytest

from marin_exec import ExecutorMainConfig, StepRunner, StepsFailed, StepSpec, run_executor
from marin_exec.run.run_report import StepState
from tests.hooked_store import PROTOCOL, hooked_store
from tests.test_runner import Recorder


def _chain(r: Recorder) -> tuple[StepSpec, StepSpec, StepSpec]:
    raw = r.step("raw/corpus", url="https://example.org/corpus.txt")
    tok = r.step("tok/corpus", [raw], tokenizer="llama3")
    train = r.step("train/model", [tok], lr=3e-4)
    return raw, tok, train


def test_a_deleted_upstream_output_is_not_recomputed_when_what_needs_it_is_built(prefix):
    r = Recorder()
    raw = r.step("raw/corpus", url="https://example.org/corpus.txt")
    tok = r.step("tok/corpus", [raw], tokenizer="llama3")
    run_executor([raw, tok], ExecutorMainConfig(prefix=prefix))
    assert r.calls == ["raw/corpus", "tok/corpus"]
    shutil.rmtree(raw.output_path)  # the download is cleaned up once tokenized
    r.calls.clear()

    report = run_executor([raw, tok], ExecutorMainConfig(prefix=prefix))

    assert r.calls == [], "a built step's deleted input was computed again"
    assert report.outcomes[tok.output_path].state == StepState.CACHED
    pruned = report.outcomes[raw.output_path]
    assert pruned.state == StepState.PRUNED and "tok/corpus" in pruned.reason


def test_a_dry_run_shows_the_inputs_of_a_built_step_as_pruned_with_why(prefix, capsys):
    r = Recorder()
    raw, tok, train = _chain(r)
    StepRunner().run([tok])
    shutil.rmtree(raw.output_path)

    run_executor([raw, tok, train], ExecutorMainConfig(prefix=prefix, dry_run=True))

    text = capsys.readouterr().out
    assert "[pruned]" in text and "raw/corpus" in text
    assert "why: not needed: tok/corpus, which needs it, is already built" in text
    assert "1 pruned" in text and "1 will run" in text and "1 done" in text


def test_pruned_steps_have_their_status_never_read(tmp_path):
    store = hooked_store()
    reads: list[int] = []
    store.on_read[".executor_status"] = lambda: reads.append(1)
    r = Recorder()
    specs: list[StepSpec] = []
    for i in range(30):
        specs.append(
            StepSpec(name=f"chain/s{i}", fn=lambda p: 1, deps=specs[-1:], output_path_prefix=f"{PROTOCOL}://{tmp_path}")
        )
    StepRunner().run(specs)
    reads.clear()

    report = StepRunner().run(specs)

    assert len(reads) == 1, f"a cached re-run of a built chain read {len(reads)} statuses, not only its terminal's"
    assert report.count(StepState.CACHED) == 1 and report.count(StepState.PRUNED) == 29
    assert r.calls == []


def test_a_step_not_built_brings_its_inputs_back_into_the_walk(prefix):
    r = Recorder()
    raw, tok, train = _chain(r)
    StepRunner().run([train])
    shutil.rmtree(train.output_path)  # train reruns, so tok is needed (and built); raw is not
    shutil.rmtree(raw.output_path)
    r.calls.clear()

    report = StepRunner().run([raw, tok, train])

    assert r.calls == ["train/model"]
    assert report.outcomes[tok.output_path].state == StepState.CACHED
    assert report.outcomes[raw.output_path].state == StepState.PRUNED


def test_a_success_without_its_artifact_is_not_built_so_its_inputs_are_walked(prefix):
    r = Recorder()
    raw, tok, _ = _chain(r)
    StepRunner().run([tok])
    (__import__("pathlib").Path(tok.output_path) / ".artifact.json").unlink()  # the cache-hit test: not done
    shutil.rmtree(raw.output_path)
    r.calls.clear()

    StepRunner().run([tok])

    assert r.calls == ["raw/corpus", "tok/corpus"]


def test_a_mutable_step_is_never_built_so_its_inputs_are_always_walked(prefix):
    class Dev(StepSpec):
        @property
        def mutable(self) -> bool:
            return True

    r = Recorder()
    raw = r.step("raw/corpus")
    dev = Dev(name="tok/dev", fn=lambda p: r.calls.append("tok/dev"), deps=[raw])
    StepRunner().run([dev])
    shutil.rmtree(raw.output_path)
    r.calls.clear()

    StepRunner().run([dev])

    assert "raw/corpus" in r.calls


def test_a_dev_step_found_built_is_rebuilt_by_the_runner_alone_and_its_report_is_true(prefix):
    # Regression (review): outside executor_main the walk treated a dev step as not built (its deleted input was
    # recomputed), but its SUCCESS was left: the call served the old output while the report said "ran".
    r = Recorder()
    raw = r.step("raw/corpus")
    built: list[int] = []

    def stats(path: str) -> dict:
        r.calls.append("stats")
        built.append(len(built) + 1)
        pathlib.Path(path, "stats.txt").write_text(str(built[-1]))
        return {"build": built[-1]}

    dev = StepSpec(name="stats", fn=stats, deps=[raw], named_version="dev")
    StepRunner().run([raw, dev])
    shutil.rmtree(raw.output_path)
    r.calls.clear()

    report = StepRunner().run([raw, dev])

    assert r.calls == ["raw/corpus", "stats"], "the dev step was not rebuilt"
    assert report.outcomes[dev.output_path].state == StepState.RAN
    assert pathlib.Path(dev.output_path, "stats.txt").read_text() == "2"


def test_a_generator_step_yielded_before_what_needs_it_is_run_as_asked(prefix):
    r = Recorder()
    raw, tok, _ = _chain(r)
    StepRunner().run([tok])
    shutil.rmtree(raw.output_path)
    r.calls.clear()

    StepRunner().run(s for s in [tok, raw])  # raw is asked for by itself: the runner cannot know it is unneeded

    assert r.calls == ["raw/corpus"]


def test_run_only_walks_from_the_matches_and_prunes_below_built_steps(prefix):
    r = Recorder()
    raw, tok, train = _chain(r)
    StepRunner().run([tok])
    shutil.rmtree(raw.output_path)
    r.calls.clear()

    report = StepRunner().run([train], run_only=["^train/"])

    assert r.calls == ["train/model"]
    assert report.outcomes[raw.output_path].state == StepState.PRUNED


@pytest.mark.parametrize("dry_run", [True, False])
def test_force_rerun_reaches_a_step_below_a_built_one(prefix, dry_run, capsys):
    r = Recorder()
    raw, tok, train = _chain(r)
    StepRunner().run([train])
    r.calls.clear()

    report = run_executor([train], ExecutorMainConfig(prefix=prefix, force_rerun=["^raw/"], dry_run=dry_run))

    if dry_run:
        states = {o.spec.name: o.state for o in report.outcomes.values()}
        assert states == {"raw/corpus": "will run", "tok/corpus": "will run", "train/model": "will run"}
    else:
        assert r.calls == ["raw/corpus", "tok/corpus", "train/model"]


def test_a_built_step_whose_output_goes_before_its_dependent_runs_fails_saying_rerun(prefix):
    r = Recorder()
    raw, tok, _ = _chain(r)
    StepRunner().run([tok])
    shutil.rmtree(raw.output_path)
    r.calls.clear()

    def cleans_up(output_path: str) -> None:  # runs while tok is cached and raw pruned: tok's output disappears
        shutil.rmtree(tok.output_path)

    other = StepSpec(name="other/slow", fn=cleans_up)
    train = r.step("train/model", [tok, other])

    with pytest.raises(StepsFailed) as raised:
        StepRunner().run([train], max_concurrent=1)

    report = raised.value.report
    gone = report.outcomes[tok.output_path]
    assert gone.state == StepState.FAILED and "rerun to rebuild it and its inputs" in str(gone.error)
    assert "tok/corpus" in str(gone.error) and "status None" in str(gone.error)
    assert report.outcomes[train.output_path].state == StepState.DEP_FAILED
    assert r.calls == [], "a step ran on an input that is no longer built"


def test_steps_read_in_one_batch_are_each_judged_before_any_of_them_starts(prefix):
    r = Recorder()
    raw, tok, _ = _chain(r)
    StepRunner().run([tok])

    report = StepRunner().run(s for s in [raw, tok])  # both asked for: read together, raw judged first

    assert [o.state for o in report.outcomes.values()] == [StepState.CACHED, StepState.CACHED]


def _counted_chain(tmp_path, n: int) -> tuple[list[StepSpec], list[int]]:
    store = hooked_store()
    reads: list[int] = []
    store.on_read[".executor_status"] = lambda: reads.append(1)
    specs: list[StepSpec] = []
    for i in range(n):
        specs.append(
            StepSpec(name=f"chain/s{i}", fn=lambda p: 1, deps=specs[-1:], output_path_prefix=f"{PROTOCOL}://{tmp_path}")
        )
    return specs, reads


def test_a_walk_through_steps_not_built_reads_each_status_once(tmp_path):
    specs, reads = _counted_chain(tmp_path, 40)

    report = StepRunner().run(specs, dry_run=True)

    assert report.count(StepState.WILL_RUN) == 40 and len(reads) == 40


def test_reading_ahead_reads_no_more_built_steps_than_were_found_not_built(tmp_path):
    specs, reads = _counted_chain(tmp_path, 40)
    StepRunner().run(specs)
    top = StepSpec(name="eval/new", fn=lambda p: 1, deps=[specs[-1]], output_path_prefix=f"{PROTOCOL}://{tmp_path}")
    reads.clear()

    report = StepRunner().run([*specs, top], dry_run=True)

    # eval/new (not built), then s39 (needed: built) with one step below it read ahead, since one was not built.
    assert len(reads) == 3 and report.count(StepState.PRUNED) == 39
