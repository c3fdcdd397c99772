"""A step that returns a value of Marin's own ``Artifact`` subclass gets that class back: when it is cached, when a
downstream step loads it, from ``Artifact.load(path)``; recorded as Marin records it, refused as Marin refuses a
record of another artifact type, and plain data (with a warning) when its class cannot be imported any more.

Marin's ``Artifact`` here is ``marin_exec.lazy``'s (the ``[lazy]`` extra: Marin's signatures and loader rules, no
marin-core needed); tests/test_artifact_class_peer.py does the same with marin-core 0.2.227's own class.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
import pathlib
import sys
from typing import Any

import pytest

pytest.importorskip("pydantic")

import marin_exec.legacy as legacy  # noqa: E402
from marin_exec import Artifact, StepRef, StepRunner, StepSpec, adopt, compile_graph, deferred, output, step, trace  # noqa: E402
from marin_exec.artifact_record import build_record, record_text  # noqa: E402
from marin_exec.errors import MarinExecError  # noqa: E402
from marin_exec.lazy import Artifact as MarinArtifact  # noqa: E402
from marin_exec.lazy import ArtifactTypeMismatchError  # noqa: E402
from marin_exec.legacy.lowering import lower_steps  # noqa: E402

HERE = __name__  # the module these classes are recorded under: tests.test_artifact_class


class TokenizedData(MarinArtifact):
    n_tokens: int = 0
    tokenizer: str = ""


class EvalScores(MarinArtifact):
    accuracy: float = 0.0


CALLS: list[str] = []
SEEN: list[Any] = []


@pytest.fixture(autouse=True)
def _clear() -> None:
    CALLS.clear()
    SEEN.clear()


def _tokenize(out):  # no return annotation: the value's own class is what the record names
    CALLS.append(out)
    return TokenizedData(n_tokens=12, tokenizer="bytes")


def _count(tokenized: str, out: str) -> dict:
    loaded = Artifact.load(tokenized)  # what a downstream step's library code does with the path it receives
    SEEN.append(loaded)
    return {"tokens": loaded.n_tokens}


tokenize = deferred(_tokenize)
count = deferred(_count)


@step(name="tokenized/{name}")
def tokenized(name: str) -> Any:
    return tokenize(out=output())


@step(name="counted")
def counted(tok: StepRef) -> Any:
    return count(tokenized=tok, out=output())


def _built(tmp_path: pathlib.Path) -> StepSpec:
    spec = StepSpec(name="tok", fn=_tokenize, output_path_prefix=str(tmp_path))
    spec.executable_fn(spec.output_path)
    return spec


def _write_record(path: pathlib.Path, result_type: str, result: Any) -> str:
    path.mkdir(parents=True)
    record = build_record(name="x", output_path=str(path), result_type=result_type, result=result)
    (path / ".artifact.json").write_text(record_text(record))
    return str(path)


def test_a_cached_step_returning_a_marin_artifact_gives_back_that_class_with_its_fields(tmp_path):
    spec = StepSpec(name="tok", fn=_tokenize, output_path_prefix=str(tmp_path))
    spec.executable_fn(spec.output_path)

    again = spec.executable_fn(spec.output_path)  # a cache hit: loaded from the record

    assert CALLS == [spec.output_path]
    assert type(again) is TokenizedData
    assert again == TokenizedData(path=spec.output_path, n_tokens=12, tokenizer="bytes")  # path: as raw_load sets it


def test_the_record_holds_the_declared_fields_and_class_so_marins_loader_reads_it(tmp_path):
    spec = _built(tmp_path)
    record = json.loads(pathlib.Path(spec.output_path, ".artifact.json").read_text())

    assert record["result_type"] == f"{HERE}.TokenizedData"
    assert record["result"] == {"n_tokens": 12, "tokenizer": "bytes"}  # result_payload(): no path, not wrapped
    assert TokenizedData.raw_load(spec.output_path) == TokenizedData(
        path=spec.output_path, n_tokens=12, tokenizer="bytes"
    )


def test_artifact_load_without_a_type_gives_the_recorded_class(tmp_path):
    spec = _built(tmp_path)

    assert Artifact.load(spec.output_path) == TokenizedData.raw_load(spec.output_path)
    assert type(Artifact.load(spec.output_path)) is TokenizedData


def test_artifact_save_records_a_marin_artifact_as_marin_does_and_load_gives_it_back(tmp_path):
    Artifact.save(EvalScores(accuracy=0.5), str(tmp_path))

    assert json.loads((tmp_path / ".artifact.json").read_text())["result"] == {"accuracy": 0.5}
    assert Artifact.load(str(tmp_path)) == EvalScores(path=str(tmp_path), accuracy=0.5)


class Checkpoint(MarinArtifact):
    step: int = 0

    @classmethod
    def raw_load(cls, source: str) -> Checkpoint:  # a class that loads itself its own way (Marin allows overriding)
        loaded = super().raw_load(source)
        loaded.step += 1000
        return loaded


def test_a_class_that_overrides_raw_load_is_loaded_by_it(tmp_path):
    Artifact.save(Checkpoint(step=5), str(tmp_path))

    assert (
        Artifact.load(str(tmp_path)) == Checkpoint(path=str(tmp_path), step=1005) == Checkpoint.raw_load(str(tmp_path))
    )


def test_a_downstream_step_loads_the_typed_artifact_of_a_traced_step(tmp_path):
    def entry() -> None:
        counted(tok=tokenized(name="shakespeare"))

    plan = compile_graph(trace(entry), prefix=str(tmp_path))
    StepRunner().run(plan.specs)
    tok = next(spec for spec in plan.specs if spec.name == "tokenized/shakespeare")

    assert SEEN == [TokenizedData(path=tok.output_path, n_tokens=12, tokenizer="bytes")]
    assert type(tok.executable_fn(tok.output_path)) is TokenizedData  # and the traced step's own cached value
    assert CALLS == [tok.output_path]


@dataclasses.dataclass(frozen=True)
class TokCfg:
    output_path: Any = None


def _tokenize_config(config: TokCfg):
    return _tokenize(config.output_path)


def test_an_executor_step_returning_a_marin_artifact_is_cached_as_that_class(tmp_path):
    old = legacy.ExecutorStep(name="old/tok", fn=_tokenize_config, config=TokCfg(output_path=legacy.THIS_OUTPUT_PATH))
    [spec] = compile_graph(lower_steps([old]), prefix=str(tmp_path)).specs
    StepRunner().run([spec])

    again = spec.executable_fn(spec.output_path)

    assert again == TokenizedData(path=spec.output_path, n_tokens=12, tokenizer="bytes")
    assert len(CALLS) == 1


def test_a_requested_artifact_type_unrelated_to_the_recorded_one_is_refused_as_marin_refuses_it(tmp_path):
    path = _built(tmp_path).output_path

    with pytest.raises(ArtifactTypeMismatchError, match=f"{path}: built as {HERE}.TokenizedData, loaded as "):
        EvalScores.raw_load(path)  # Marin's own loader
    with pytest.raises(ArtifactTypeMismatchError) as refused:
        Artifact.load(path, EvalScores)

    assert isinstance(refused.value, MarinExecError)
    assert str(refused.value) == (
        f"{path}: built as {HERE}.TokenizedData, loaded as {HERE}.EvalScores, an unrelated artifact class; load it "
        "as TokenizedData (Artifact.load(path, TokenizedData), or without a type), or rebuild it with --force_rerun "
        "if its step now returns EvalScores"
    )


def test_a_record_of_a_subclass_loads_as_that_subclass_when_the_base_is_asked_for(tmp_path):
    path = _built(tmp_path).output_path

    # Marin's raw_load compares names and refuses; a subclass is a base's value: nothing that loaded before raises
    assert Artifact.load(path, MarinArtifact) == TokenizedData(path=path, n_tokens=12, tokenizer="bytes")


def test_an_explicit_type_that_is_not_an_artifact_class_still_wins(tmp_path):
    path = _built(tmp_path).output_path

    assert Artifact.load(path, dict) == {"n_tokens": 12, "tokenizer": "bytes"}
    assert Artifact.load(path, TokenizedData | None) == TokenizedData(path=path, n_tokens=12, tokenizer="bytes")


def _tokenize_as_base(out) -> MarinArtifact:
    return TokenizedData(n_tokens=3, tokenizer="bytes")


def test_a_step_annotated_with_marins_base_artifact_is_recorded_and_loaded_as_declared(tmp_path):
    spec = StepSpec(name="tok", fn=_tokenize_as_base, output_path_prefix=str(tmp_path))
    spec.executable_fn(spec.output_path)

    again = spec.executable_fn(spec.output_path)

    # as Marin records a handle's declared artifact_type, whatever its run returned: no mismatch with the annotation
    assert json.loads(pathlib.Path(spec.output_path, ".artifact.json").read_text())["result_type"] == (
        "marin.execution.artifact.Artifact"
    )
    assert type(again) is MarinArtifact and again.path == spec.output_path and again.n_tokens == 3


def test_a_record_written_before_values_were_recorded_as_marin_does_still_loads_typed(tmp_path):
    # what marin_exec wrote until now: the whole model_dump (path too), wrapped because it has a path key
    older = {"path": "/where/it/was/built", "n_tokens": 7, "tokenizer": "gpt2"}
    path = _write_record(tmp_path / "older", f"{HERE}.TokenizedData", older)

    assert Artifact.load(path) == TokenizedData(path=path, n_tokens=7, tokenizer="gpt2")


@pytest.mark.parametrize(
    ("result_type", "why"),
    [
        ("no_such_module_anywhere.Shards", "no_such_module_anywhere is neither imported here nor an installed package"),
        (f"{HERE}.OldName", f"{HERE} has no OldName (renamed or removed?)"),
        ("collections.OrderedDict", "collections.OrderedDict is not a subclass of Marin's Artifact here"),
        (f"{HERE}.make.<locals>.Local", "defined inside a function"),
    ],
)
def test_a_recorded_class_that_cannot_be_used_gives_plain_data_and_one_warning(tmp_path, caplog, result_type, why):
    path = _write_record(tmp_path / "out", result_type, {"count": 4})

    with caplog.at_level(logging.WARNING, logger="marin_exec"):
        assert Artifact.load(path) == {"count": 4}
        assert Artifact.load(path) == {"count": 4}

    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.startswith(f"{path}: its value was built as {result_type}, which cannot be loaded here")
    assert why in warning and "Artifact.load(path, SomeArtifactClass)" in warning


def test_a_step_whose_artifact_module_is_gone_loads_its_fields_as_plain_data(tmp_path, monkeypatch, caplog):
    (tmp_path / "shard_types.py").write_text(
        "from marin_exec.lazy import Artifact\n\nclass Shards(Artifact):\n    count: int = 0\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    shard_types = importlib.import_module("shard_types")
    spec = StepSpec(name="shards", fn=lambda out: shard_types.Shards(count=4), output_path_prefix=str(tmp_path / "o"))
    spec.executable_fn(spec.output_path)
    assert type(spec.executable_fn(spec.output_path)) is shard_types.Shards

    (tmp_path / "shard_types.py").unlink()  # the module is gone (deleted, renamed, another checkout)
    del sys.modules["shard_types"]
    importlib.invalidate_caches()
    with caplog.at_level(logging.WARNING, logger="marin_exec"):
        again = spec.executable_fn(spec.output_path)

    assert again == {"count": 4}
    assert f"{spec.output_path}: its value was built as shard_types.Shards" in caplog.text


def test_an_adopted_step_of_a_marin_artifact_kind_loads_with_its_source_as_path(tmp_path):
    source = tmp_path / "existing"
    source.mkdir()

    def entry() -> None:
        adopt("corpus", "2026.12.06", str(source), kind=TokenizedData)

    [spec] = compile_graph(trace(entry), prefix=str(tmp_path / "p")).specs
    StepRunner().run([spec])

    assert spec.executable_fn(spec.output_path) == TokenizedData(path=str(source))  # as Marin's run(adopted)
