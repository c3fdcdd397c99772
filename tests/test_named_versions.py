"""Named versions in the tracer and compiler (issue 19, DESIGN §4b): ``@step(version=...)`` lives at
``{prefix}/{name}/{version}``, mixes with hashed steps both ways, refuses a fixed version built from a ``dev`` one,
takes ``RUN_VERSION`` from the run, and records Marin's fingerprint of its config."""

from __future__ import annotations

import dataclasses
import json
import pathlib

import pytest

from marin_exec import RUN_VERSION, StepRef, deferred, output, runtime_arg, step, versioned
from marin_exec.compile.compiler import compile_graph
from marin_exec.errors import FingerprintMismatchError, StepDefinitionError, TracingError
from marin_exec.named_versions import RunVersions, run_versions
from marin_exec.run.runner import StepRunner


@dataclasses.dataclass(frozen=True)
class Cfg:
    source: str
    out: str
    lr: float = 0.1
    tpu: str = "cpu"


def _write(cfg: Cfg) -> dict:
    pathlib.Path(cfg.out).mkdir(parents=True, exist_ok=True)
    (pathlib.Path(cfg.out) / "data.txt").write_text(f"{cfg.source} {cfg.lr} {cfg.tpu}")
    return {"source": cfg.source}


write = deferred(_write)


@step(name="raw/corpus", version="2026.12.06")
def raw(url: str = "https://example.org/c.txt"):
    return write(Cfg(source=url, out=output()))


@step(name="hashed/tok")
def tok(data: StepRef, lr: float = 0.1):
    return write(Cfg(source=data / "data.txt", out=output(), lr=versioned(lr)))


@step(name="named/train", version="{version}")
def train(data: StepRef, version: str = "2026.12.06.1", tpu: str = "v4-8"):
    return write(Cfg(source=data, out=output("ckpt"), tpu=runtime_arg(tpu)))


@step(name="dev/raw", version="dev")
def dev_raw():
    return write(Cfg(source="x", out=output()))


@step(name="fixed/on-dev", version="2026.12.06")
def fixed(data: StepRef):
    return write(Cfg(source=data, out=output()))


def _specs(*refs, prefix="/p"):
    plan = compile_graph(list(refs), prefix=prefix)
    return {spec.name: spec for spec in plan.spec_of.values()}


def test_a_named_step_lives_at_prefix_name_version():
    specs = _specs(raw())
    assert specs["raw/corpus"].output_path == "/p/raw/corpus/2026.12.06"
    assert specs["raw/corpus"].identity == "raw/corpus@2026.12.06"


@pytest.mark.parametrize("version", ["dev", "tok-dev", "2026.12.06.3", "2026.01.31"])
def test_every_kind_of_version_marin_accepts_is_accepted(version):
    specs = _specs(train(StepRef.hardcoded("raw/x"), version=version))
    assert specs["named/train"].output_path == f"/p/named/train/{version}"


@pytest.mark.parametrize("bad", ["v1", "2026-12-06", "", "1.0", "a/dev", 3])
def test_anything_else_is_refused_when_the_step_is_defined(bad):
    with pytest.raises(StepDefinitionError, match="version"):

        @step(name="x", version=bad)
        def s():
            return write(Cfg(source="a", out=output()))


def test_a_placeholder_version_is_checked_when_filled():
    with pytest.raises(StepDefinitionError, match="'v2' is neither a calendar version"):
        train(StepRef.hardcoded("raw/x"), version="v2")


def test_a_hashed_step_on_a_named_one_versions_its_name_at_version():
    specs = _specs(tok(raw()))
    assert specs["hashed/tok"].version["dependencies"] == ["raw/corpus@2026.12.06"]
    assert specs["hashed/tok"].version_str == json.dumps(specs["hashed/tok"].version, sort_keys=True)
    assert specs["hashed/tok"].output_path.startswith("/p/hashed/tok-")


def test_a_named_step_may_depend_on_a_hashed_one_and_reads_its_path():
    specs = _specs(train(tok(raw())))
    trained = specs["named/train"]
    assert trained.output_path == "/p/named/train/2026.12.06.1"
    assert trained.fn.args[0].source == specs["hashed/tok"].output_path


def test_the_fingerprint_payload_follows_marins_placeholders():
    specs = _specs(train(tok(raw())))
    payload = json.loads(specs["named/train"].recipe_payload)
    assert payload == {
        "source": specs["hashed/tok"].identity,
        "out": "<output_path>/ckpt",
        "lr": 0.1,
        "tpu": "<tpu>",
    }
    assert json.loads(specs["hashed/tok"].recipe_payload)["source"] == "raw/corpus@2026.12.06/data.txt"
    assert len(specs["named/train"].fingerprint) == 8


def test_the_fingerprint_ignores_the_prefix_and_runtime_args():
    a = _specs(train(tok(raw()), tpu="v4-8"), prefix="/one")["named/train"]
    b = _specs(train(tok(raw()), tpu="v5p-64"), prefix="gs://two")["named/train"]
    assert a.fingerprint == b.fingerprint
    assert b.fn.args[0].tpu == "v5p-64"  # the function still receives the real value


def test_a_fixed_version_may_not_depend_on_a_dev_one():
    with pytest.raises(StepDefinitionError, match=r"fixed/on-dev@2026.12.06.*mutable dev/raw@dev"):
        compile_graph([fixed(dev_raw())], prefix="/p")


def test_nor_through_a_hashed_step_built_from_a_dev_one():
    with pytest.raises(StepDefinitionError, match=r"mutable dev/raw@dev \(through hashed/tok-"):
        compile_graph([fixed(tok(dev_raw()))], prefix="/p")


def test_a_hashed_step_on_a_dev_one_is_mutable():
    plan = compile_graph([tok(dev_raw()), tok(raw(), lr=0.2)], prefix="/p")
    assert [(s.name, s.mutable) for s in plan.specs] == [
        ("dev/raw", True),
        ("hashed/tok", True),
        ("raw/corpus", False),
        ("hashed/tok", False),
    ]


@step(name="deferring", version=RUN_VERSION)
def deferring():
    return write(Cfg(source="a", out=output()))


def test_run_version_takes_the_runs_version_and_an_override_wins():
    with run_versions(RunVersions(default="2026.12.06")):
        assert _specs(deferring())["deferring"].output_path == "/p/deferring/2026.12.06"
    versions = RunVersions(default="2026.12.06", overrides={"deferring": "dev"})
    with run_versions(versions):
        assert _specs(deferring())["deferring"].output_path == "/p/deferring/dev"
    assert versions.unused() == []


def test_run_version_without_a_version_says_how_to_give_one():
    with pytest.raises(StepDefinitionError, match="pass --version"):
        compile_graph([deferring()], prefix="/p")


def test_an_explicit_version_wins_over_an_override_which_then_applies_to_nothing():
    versions = RunVersions(default="2026.12.06", overrides={"raw/corpus": "dev"})
    with run_versions(versions):
        assert _specs(raw())["raw/corpus"].output_path == "/p/raw/corpus/2026.12.06"
    assert versions.unused() == ["raw/corpus"]


@step(name="mine", version="{v}", user_namespace=True)
def mine(v: str = "dev"):
    return write(Cfg(source="a", out=output()))


def test_the_per_user_namespace_holds_mutable_versions_only(monkeypatch):
    monkeypatch.setenv("MARIN_PROVENANCE", json.dumps({"built_by": "Ada.Lovelace@example.org"}))
    assert _specs(mine())["users/ada-lovelace/mine"].output_path == "/p/users/ada-lovelace/mine/dev"
    assert _specs(mine(v="2026.12.06"))["mine"].output_path == "/p/mine/2026.12.06"


def test_expected_fingerprint_stops_the_run_before_anything_runs():
    fp = _specs(raw())["raw/corpus"].fingerprint

    @step(name="raw/corpus", version="2026.12.06", expected_fingerprint=fp)
    def pinned(url: str = "https://example.org/c.txt"):
        return write(Cfg(source=url, out=output()))

    assert _specs(pinned())["raw/corpus"].fingerprint == fp
    with pytest.raises(FingerprintMismatchError, match=f"pins {fp}"):
        compile_graph([pinned(url="https://example.org/other.txt")], prefix="/p")


def test_a_group_cannot_have_a_version():
    @step(name="g", version="dev")
    def group():
        raw()

    with pytest.raises(TracingError, match="version"):
        group()


def test_a_mixed_pipeline_runs_to_its_named_paths(tmp_path):
    plan = compile_graph([train(tok(raw()))], prefix=str(tmp_path))
    StepRunner().run(plan.specs)
    assert (tmp_path / "raw/corpus/2026.12.06/data.txt").read_text().startswith("https://example.org/c.txt")
    assert (tmp_path / "named/train/2026.12.06.1/ckpt/data.txt").exists()


@step(name="hashed/cache")
def cached_tok(data: StepRef):
    return write(Cfg(source=data, out=StepRef.under_prefix("cache/tok")))


def test_under_prefix_is_where_a_step_runs_not_what_it_is():
    one = _specs(cached_tok(StepRef.hardcoded("raw/x")), prefix="/one")["hashed/cache"]
    two = _specs(cached_tok(StepRef.hardcoded("raw/x")), prefix="gs://two")["hashed/cache"]
    assert one.hash_id == two.hash_id and one.fingerprint == two.fingerprint
    assert json.loads(one.recipe_payload)["out"] == "<prefix>/cache/tok"
    assert (one.fn.args[0].out, two.fn.args[0].out) == ("/one/cache/tok", "gs://two/cache/tok")
    assert repr(StepRef.under_prefix("cache") / "tok") == 'StepRef.under_prefix("cache/tok")'
