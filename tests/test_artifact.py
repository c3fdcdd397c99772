"""Artifact (DESIGN §6): a step's return value saved as JSON at {path}/.artifact.json and loaded back as plain JSON
or as the type asked for; the legacy .artifact name is read; nothing is ever pickled.

Not covered here: how StepSpec picks the type from the function's return annotation (tests/test_step_spec.py).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import pathlib
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pydantic
import pytest

from marin_exec import Artifact
from marin_exec.artifact_record import RECORD_FIELDS, record_value

if TYPE_CHECKING:
    from collections.abc import Sequence


@dataclasses.dataclass(frozen=True)
class Metrics:
    loss: float
    steps: int


@dataclasses.dataclass(frozen=True)
class TrainResult:
    name: str
    final: Metrics
    history: list[Metrics]
    best: Metrics | None = None


class Split(enum.Enum):
    TRAIN = "train"
    VALIDATION = "validation"


@dataclasses.dataclass(frozen=True)
class Shard:
    split: Split
    path: pathlib.Path


class EvalReport(pydantic.BaseModel):
    accuracy: float
    tasks: list[str]


@dataclasses.dataclass(frozen=True)
class TokenizedStats:
    # A library module may import types for annotations only (ORIGINS.md: TYPE_CHECKING guards).
    num_tokens: int
    shard_sizes: Sequence[int]


class Opaque:
    """Neither a dataclass nor a pydantic model: it has no JSON form."""


TRAIN_RESULT = TrainResult(
    name="tiny-bigram",
    final=Metrics(loss=1.5, steps=200),
    history=[Metrics(loss=3.0, steps=100), Metrics(loss=1.5, steps=200)],
    best=Metrics(loss=1.5, steps=200),
)


def test_a_nested_dataclass_round_trips_when_its_type_is_given(tmp_path: Path) -> None:
    Artifact.save(TRAIN_RESULT, str(tmp_path))
    assert Artifact.load(str(tmp_path), type=TrainResult) == TRAIN_RESULT


def test_a_dataclass_with_enum_and_path_fields_round_trips(tmp_path: Path) -> None:
    shard = Shard(split=Split.VALIDATION, path=pathlib.Path("shards/00001.jsonl"))
    Artifact.save(shard, str(tmp_path))
    assert Artifact.load(str(tmp_path), type=Shard) == shard


def test_a_pydantic_model_round_trips(tmp_path: Path) -> None:
    report = EvalReport(accuracy=0.75, tasks=["hellaswag", "piqa"])
    Artifact.save(report, str(tmp_path))
    assert Artifact.load(str(tmp_path), type=EvalReport) == report


@pytest.mark.parametrize(
    "value",
    [{"loss": 0.5, "files": ["a.txt", "b.txt"], "done": True}, [1, "two", None, {"k": 3.5}], 42, 0.125, "text", False],
)
def test_dicts_lists_and_scalars_round_trip_without_a_type(tmp_path: Path, value: Any) -> None:
    Artifact.save(value, str(tmp_path))
    assert Artifact.load(str(tmp_path)) == value


def test_loading_without_a_type_gives_the_plain_json_value(tmp_path: Path) -> None:
    Artifact.save(TRAIN_RESULT, str(tmp_path))
    assert Artifact.load(str(tmp_path)) == dataclasses.asdict(TRAIN_RESULT)


def test_the_artifact_file_is_marins_minimal_record_holding_the_value(tmp_path: Path) -> None:
    Artifact.save(TRAIN_RESULT, str(tmp_path))
    record = json.loads((tmp_path / ".artifact.json").read_text())
    assert list(record) == list(RECORD_FIELDS)  # Marin's ArtifactRecord, as its write_artifact writes one
    assert (record["output_path"], record["result"]) == (str(tmp_path), dataclasses.asdict(TRAIN_RESULT))


def test_a_value_with_record_field_names_still_loads_whole(tmp_path: Path) -> None:
    value = {"name": "x", "result": [1], "fingerprint": "f"}  # the file's keys never decide what it holds
    Artifact.save(value, str(tmp_path))
    assert Artifact.load(str(tmp_path)) == value


def test_the_legacy_artifact_file_name_is_read(tmp_path: Path) -> None:
    (tmp_path / ".artifact").write_text(json.dumps({"loss": 1.5, "steps": 200}))
    assert Artifact.load(str(tmp_path), type=Metrics) == Metrics(loss=1.5, steps=200)


def test_loading_where_no_artifact_was_saved_gives_none(tmp_path: Path) -> None:
    assert Artifact.load(str(tmp_path / "never-ran")) is None


def test_saving_an_object_without_a_json_form_names_where_it_is_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"result.runs\[1\].model is an Opaque, .*dataclass, pydantic model, dict"):
        Artifact.save({"runs": [{}, {"model": Opaque()}]}, str(tmp_path))
    assert not (tmp_path / ".artifact.json").exists()


def test_numpy_scalars_zero_d_and_small_arrays_save_as_numbers(tmp_path: Path) -> None:
    import numpy as np

    result = {"loss": np.float32(0.25), "steps": np.int64(3), "best": np.array(1.5), "ok": np.bool_(True)}
    Artifact.save({**result, "curve": np.array([[1, 2], [3, 4]], dtype=np.int16)}, str(tmp_path))

    saved = record_value(json.loads((tmp_path / ".artifact.json").read_text()))  # the value inside Marin's record
    assert saved == {"loss": 0.25, "steps": 3, "best": 1.5, "ok": True, "curve": [[1, 2], [3, 4]]}
    assert [type(saved[k]) for k in ("loss", "steps", "ok")] == [float, int, bool]


def test_a_set_saves_as_a_sorted_list_and_loads_as_a_set_when_annotated(tmp_path: Path) -> None:
    Artifact.save({"tags": {"web", "books", "code"}, "mixed": frozenset({2, "a", 1.5})}, str(tmp_path))

    saved = record_value(json.loads((tmp_path / ".artifact.json").read_text()))
    assert saved == {"tags": ["books", "code", "web"], "mixed": ["a", 1.5, 2]}  # mixed: by JSON text ("a" first)
    assert Artifact.load(str(tmp_path), type=dict[str, set[Any]])["tags"] == {"web", "books", "code"}


def test_encoding_a_result_without_numpy_values_does_not_import_numpy() -> None:
    code = (
        "import sys\nfrom marin_exec import Artifact\n"
        "Artifact.encode({'a': {1, 2}, 'b': [1.5, 'x'], 'c': (None,)})\nprint('numpy' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "False"


def test_a_dataclass_annotated_with_type_checking_only_imports_loads_with_plain_field_values(
    tmp_path: Path,
) -> None:
    Artifact.save(TokenizedStats(num_tokens=1000, shard_sizes=[600, 400]), str(tmp_path))
    assert Artifact.load(str(tmp_path), type=TokenizedStats) == TokenizedStats(num_tokens=1000, shard_sizes=[600, 400])
