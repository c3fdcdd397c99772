"""A lazy handle inside a ``@step`` config (``marin_exec.lazy.in_config``): the handle is a dependency of the step,
lowered to its named StepSpec once per run (shared by every config and a top-level occurrence), it runs first and
once, and the function receives its path. Real files under tmp_path, real runs through ``run_executor`` and
``executor_main``; Marin's own handle class is shaped here (CI has no Marin; tests/test_lazy_in_config_peer.py
runs marin-core 0.2.227's)."""

from __future__ import annotations

import dataclasses
import os
import pathlib
from typing import Any

import pytest

pytest.importorskip("pydantic")

import marin_exec.lazy as lazy  # noqa: E402
from marin_exec import (  # noqa: E402
    ExecutorMainConfig,
    MarinExecError,
    deferred,
    executor_main,
    output,
    run_executor,
    step,
)
from marin_exec.legacy import ExecutorStep, this_output_path  # noqa: E402
from marin_exec.run.cli import compile_steps  # noqa: E402
from tests.marin_shaped_step import ArtifactStep  # noqa: E402

BUILT: list[str] = []  # each handle build, by output path
SEEN: list[Any] = []  # what each @step function received: (its data, whether the data existed then)


@pytest.fixture(autouse=True)
def _fresh() -> None:
    BUILT.clear()
    SEEN.clear()


def _write(out: str, text: str = "", **inputs: Any) -> None:
    BUILT.append(out)
    pathlib.Path(out).mkdir(parents=True, exist_ok=True)
    pathlib.Path(out, "data.txt").write_text(text)


def _tokenized(version: str = "2026.12.06", **options: Any) -> Any:
    return lazy.apply("tokenized/demo", _write, version=version, out=lazy.OUT, text="tokens", **options)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    data: Any
    out: Any
    lr: float = 0.1


@deferred
def _train(config: TrainConfig) -> None:
    data = config.data
    SEEN.append((data, isinstance(data, str) and os.path.exists(os.path.join(data, "data.txt"))))
    pathlib.Path(config.out).mkdir(parents=True, exist_ok=True)


@step(name="train/demo")
def train(data: Any, lr: float = 0.1) -> Any:
    return _train(TrainConfig(data=data, out=output(), lr=lr))


@step(name="eval/demo")
def evaluate(data: Any) -> Any:
    return _train(TrainConfig(data={"eval": [data]}, out=output()))


def _outcomes(report: Any) -> dict[str, str]:
    return {path: str(outcome.state) for path, outcome in report.outcomes.items()}


def test_the_step_receives_the_handles_path_after_the_handle_ran(prefix):
    report = run_executor([train(_tokenized())], ExecutorMainConfig())
    data = f"{prefix}/tokenized/demo/2026.12.06"
    assert SEEN == [(data, True)]  # a str, not the handle; built before the step ran
    assert BUILT == [data]
    assert _outcomes(report)[data] == "ran"
    assert lazy.read_record(data).name == "tokenized/demo"  # the handle's own record: lowered as at the top level
    [trained] = [o.spec for o in report.outcomes.values() if o.spec.name == "train/demo"]
    assert [dep.identity for dep in trained.deps] == ["tokenized/demo@2026.12.06"]
    assert trained.version["config"] == {"data": "DEP[0]"}


def test_one_handle_in_two_configs_and_at_the_top_level_is_one_step_that_runs_once(prefix):
    handle = _tokenized()
    report = run_executor([handle, train(handle), evaluate(handle)], ExecutorMainConfig())
    data = f"{prefix}/tokenized/demo/2026.12.06"
    assert BUILT == [data]
    assert sorted(SEEN, key=repr) == [(data, True), ({"eval": [data]}, False)]  # eval's sits in a dict: as is
    specs = {id(o.spec) for o in report.outcomes.values() if o.spec.name == "tokenized/demo"}
    trained = [o.spec for o in report.outcomes.values() if o.spec.name in ("train/demo", "eval/demo")]
    assert len(specs) == 1 and {id(spec.deps[0]) for spec in trained} == specs  # one StepSpec, shared
    compiled = compile_steps([handle, train(handle), evaluate(handle)], prefix).specs
    [lowered] = [spec for spec in compiled if spec.name == "tokenized/demo"]  # the top level's is the configs'
    assert all(spec.deps == [lowered] for spec in compiled if spec is not lowered)


def test_the_handles_deps_run_first_and_a_cached_rerun_runs_nothing(prefix):
    raw = lazy.apply("raw/demo", _write, version="2026.12.06", out=lazy.OUT, text="raw")
    tokenized = lazy.apply("tokenized/demo", _write, version="2026.12.06", out=lazy.OUT, text=lazy.OUT, up=raw)
    first = run_executor([train(tokenized)], ExecutorMainConfig())
    assert BUILT == [f"{prefix}/raw/demo/2026.12.06", f"{prefix}/tokenized/demo/2026.12.06"]
    assert sorted(_outcomes(first).values()) == ["ran"] * 3
    BUILT.clear()
    SEEN.clear()
    again = run_executor([train(tokenized)], ExecutorMainConfig())
    assert BUILT == [] and SEEN == []
    states = {path.removeprefix(prefix): state for path, state in _outcomes(again).items()}
    trained = next(path for path in states if path.startswith("/train/demo-"))
    assert states == {  # the built step does not visit its inputs (DESIGN §5b)
        trained: "cached",
        "/tokenized/demo/2026.12.06": "pruned",
        "/raw/demo/2026.12.06": "pruned",
    }


def test_the_steps_path_follows_the_handles_identity_and_is_stable(prefix):
    def path_of(handle: Any) -> str:
        report = run_executor([train(handle)], ExecutorMainConfig(dry_run=True))
        return next(o.spec.output_path for o in report.outcomes.values() if o.spec.name == "train/demo")

    first = path_of(_tokenized())
    assert path_of(_tokenized()) == first  # another handle object, another trace: the same identity
    assert path_of(_tokenized("2026.12.07")) != first
    assert path_of(_tokenized(pin="elsewhere/a")) == first  # name@version, as a native adopt() or named @step


def test_a_pinned_or_adopted_handle_gives_its_location(prefix, tmp_path):
    source = tmp_path / "old-cache"
    source.mkdir()
    adopted = lazy.ArtifactStep.adopt("tokenized/old", "2026.01.01", str(source))
    run_executor([train(adopted), evaluate(_tokenized(pin="pinned/tok"))], ExecutorMainConfig())
    assert sorted(SEEN, key=repr) == [(str(source), False), ({"eval": [f"{prefix}/pinned/tok"]}, False)]
    assert pathlib.Path(prefix, "tokenized/old/2026.01.01/.artifact.json").exists()  # the adoption's record


def test_the_dry_run_lists_the_handles_step_and_writes_nothing(tmp_path, capsys):
    prefix = tmp_path / "prefix"
    executor_main([train(_tokenized())], config=ExecutorMainConfig(prefix=str(prefix), dry_run=True))
    shown = capsys.readouterr().out
    line = next(line for line in shown.splitlines() if "tokenized/demo" in line)
    assert line.split() == ["[will", "run]", "tokenized/demo", "->", "tokenized/demo/2026.12.06"]
    assert f"2 step(s) under {prefix}" in shown and "tokenized/demo@2026.12.06" in shown.split("Resolved versions:")[1]
    assert not prefix.exists() and BUILT == [] and SEEN == []


def test_a_config_with_a_handle_and_an_executor_step_lowers_both(prefix):
    def legacy(config: dict[str, str]) -> None:
        BUILT.append(config["out"])
        pathlib.Path(config["out"]).mkdir(parents=True, exist_ok=True)

    old = ExecutorStep(name="legacy/raw", fn=legacy, config={"out": this_output_path()})
    run_executor([train({"new": _tokenized(), "old": old})], ExecutorMainConfig())
    [(data, _)] = SEEN
    assert data["new"] == f"{prefix}/tokenized/demo/2026.12.06" and data["old"].startswith(f"{prefix}/legacy/raw-")
    assert len(BUILT) == 2


@step(name="report/fixed", version="2026.12.06")
def fixed_report(data: Any) -> Any:
    return _train(TrainConfig(data=data, out=output()))


def test_a_fixed_step_on_a_dev_handle_is_refused_naming_both(prefix):
    with pytest.raises(MarinExecError) as refused:
        run_executor([fixed_report(_tokenized("dev"))], ExecutorMainConfig())
    message = str(refused.value)
    assert "\n" not in message and "report/fixed@2026.12.06" in message and "tokenized/demo@dev" in message
    assert BUILT == []


def test_a_handle_in_a_set_is_refused_in_one_line(prefix):
    @step(name="in/set")
    def in_set() -> Any:
        return _train(TrainConfig(data=frozenset({_tokenized()}), out=output()))

    with pytest.raises(MarinExecError, match=r"step 'in/set': config key 'data\.\[\?\]'") as refused:
        in_set()
    assert "\n" not in str(refused.value)


def test_marins_own_handle_is_recognised_by_shape(prefix):
    def marin_run(config: dict[str, str]) -> None:
        _write(config["out"], "theirs")

    theirs = ArtifactStep("data/theirs", "2026.12.07", lazy.Artifact, marin_run, lambda ctx: {"out": ctx.output_path})
    run_executor([train(theirs)], ExecutorMainConfig())
    data = f"{prefix}/data/theirs/2026.12.07"
    assert SEEN == [(data, True)] and BUILT == [data]
    assert lazy.read_record(data).fingerprint_payload == theirs.fingerprint_payload()  # Marin's own payload


def test_a_named_step_records_the_handle_as_a_named_dependency(prefix):
    run_executor([fixed_report(_tokenized())], ExecutorMainConfig())
    record = lazy.read_record(f"{prefix}/report/fixed/2026.12.06")
    assert record.deps == ["tokenized/demo@2026.12.06"]
    assert '"data": "tokenized/demo@2026.12.06"' in record.fingerprint_payload  # Marin's placeholder for a dep
    assert SEEN == [(f"{prefix}/tokenized/demo/2026.12.06", True)]


def test_a_hashed_step_on_a_dev_handle_rebuilds_with_it_every_run(prefix):
    for _ in range(2):
        report = run_executor([train(_tokenized("dev"))], ExecutorMainConfig())
        assert sorted(_outcomes(report).values()) == ["ran", "ran"]
    assert BUILT == [f"{prefix}/tokenized/demo/dev"] * 2 and len(SEEN) == 2


def test_a_subclass_of_the_handle_class_is_a_handle_too(prefix):
    class Tokenize(lazy.ArtifactStep):
        pass

    handle = _tokenized()
    subclassed = Tokenize(**{f.name: getattr(handle, f.name) for f in dataclasses.fields(handle)})
    run_executor([train(subclassed)], ExecutorMainConfig())
    assert SEEN == [(f"{prefix}/tokenized/demo/2026.12.06", True)]
