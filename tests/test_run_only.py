"""``--run_only`` selection (``run.run_only``): the matching steps and what they need that is not done yet."""

from __future__ import annotations

from marin_exec import StepRunner, StepSpec
from tests.test_runner import Recorder


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


def test_run_only_runs_the_matches_and_what_they_need(prefix):
    r = Recorder()
    a = r.step("data/a")
    b = r.step("train/b", [a])
    c = r.step("eval/c", [b])
    unrelated = r.step("data/z")
    report = StepRunner().run([c, unrelated], run_only=["^train/", "nomatch"])
    assert sorted(r.calls) == ["data/a", "train/b"]
    assert report.unmatched_patterns == ["nomatch"]
