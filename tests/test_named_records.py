"""Records (issue 19, DESIGN §4b): every step marin_exec commits writes Marin's ``ArtifactRecord`` as
``.artifact.json``; marin_exec reads Marin's records and its own older result-only files (told apart by the marker in
``.executor_info``, never by the file's keys); a pinned named step writes none and is built on SUCCESS alone."""

from __future__ import annotations

import json
import pathlib

from marin_exec import StepSpec, deferred, output, step
from marin_exec.artifact_record import RECORD_FIELDS
from marin_exec.compile.compiler import compile_graph
from marin_exec.run.runner import StepRunner
from marin_exec.status.step_status import EXECUTOR_NAME
from tests.test_named_golden import HANDLES

CALLS: list[str] = []


def _numbers(out: str, n: int) -> list[int]:
    CALLS.append(out)
    return list(range(n))


numbers = deferred(_numbers)


@step(name="nums", version="2026.12.06")
def nums(n: int = 3):
    return numbers(output(), n)


@step(name="pinned", version="2026.12.06", override_output_path="pins/existing")
def pinned():
    return numbers(output(), 2)


def _spec(ref, prefix) -> StepSpec:
    return compile_graph([ref], prefix=str(prefix)).specs[-1]


def _finished(path: pathlib.Path, files: dict[str, str]) -> None:
    path.mkdir(parents=True)
    for name, text in files.items():
        (path / name).write_text(text)


def test_a_list_result_is_wrapped_in_the_record_and_loads_as_the_list(tmp_path):
    spec = _spec(nums(), tmp_path)
    assert spec.executable_fn(spec.output_path) == [0, 1, 2]
    record = json.loads(pathlib.Path(spec.output_path, ".artifact.json").read_text())
    assert list(record) == list(RECORD_FIELDS)
    assert record["result"] == {"marin_exec_value": [0, 1, 2]}
    assert (record["name"], record["version"], record["fingerprint"]) == ("nums", "2026.12.06", spec.fingerprint)
    assert record["config"] == {"out": spec.output_path, "n": 3}
    info = json.loads(pathlib.Path(spec.output_path, ".executor_info").read_text())
    assert info["artifact_record"] == 1
    CALLS.clear()
    assert _spec(nums(), tmp_path).executable_fn(spec.output_path) == [0, 1, 2]  # a hit, loaded from the record
    assert CALLS == []


def test_an_older_result_only_output_is_still_a_hit_and_loads_as_before(tmp_path):
    spec = _spec(nums(), tmp_path)
    old = {"name": "looks like a record", "result": None, "fingerprint": "x"}  # keys never decide
    info = {"executor_version": f"{EXECUTOR_NAME} 0.1.0", "name": "nums"}
    _finished(
        pathlib.Path(spec.output_path),
        {".executor_status": "SUCCESS", ".executor_info": json.dumps(info), ".artifact.json": json.dumps(old)},
    )
    assert StepSpec.read_statuses([spec]) == ["SUCCESS"]
    CALLS.clear()
    assert spec.executable_fn(spec.output_path) == old
    assert CALLS == []


def test_a_record_marin_wrote_is_read(tmp_path):
    stats = HANDLES["stats"]["files"]
    spec = StepSpec(name="stats", fn=lambda out: 1 / 0, named_version="2026.12.06", output_path_prefix=str(tmp_path))
    files = {name: text.replace("{prefix}", str(tmp_path)) for name, text in stats.items()}
    _finished(pathlib.Path(spec.output_path), files)
    assert StepSpec.read_statuses([spec]) == ["SUCCESS"]
    assert spec.executable_fn(spec.output_path) == json.loads(files[".artifact.json"])["result"]


def test_a_pinned_named_step_writes_no_record_and_is_built_on_success_alone(tmp_path):
    spec = _spec(pinned(), tmp_path)
    assert spec.output_path == f"{tmp_path}/pins/existing"
    StepRunner().run([spec])
    assert not pathlib.Path(spec.output_path, ".artifact.json").exists()
    assert StepSpec.read_statuses([spec]) == ["SUCCESS"]
    CALLS.clear()
    assert _spec(pinned(), tmp_path).executable_fn(spec.output_path) is None
    assert CALLS == []


def test_a_hand_built_spec_records_its_hash_attrs_and_dependencies_by_name_hash(tmp_path):
    up = StepSpec(name="up", fn=lambda out: {"a": 1}, hash_attrs={"x": 1}, output_path_prefix=str(tmp_path))
    down = StepSpec(name="down", fn=lambda out: None, deps=[up], hash_attrs={"y": 2}, output_path_prefix=str(tmp_path))
    StepRunner().run([down])
    record = json.loads(pathlib.Path(down.output_path, ".artifact.json").read_text())
    assert (record["version"], record["deps"], record["dep_paths"]) == ("", [up.identity], [up.output_path])
    assert (record["config"], record["result"]) == ({"y": 2}, None)
    assert json.loads(pathlib.Path(up.output_path, ".artifact.json").read_text())["result"] == {"a": 1}


@step(name="hashed/nums")
def hashed_nums(n: int = 2):
    return numbers(output(), n)


def test_a_hashed_step_records_its_fingerprint_too(tmp_path):
    spec = _spec(hashed_nums(), tmp_path)
    spec.executable_fn(spec.output_path)
    record = json.loads(pathlib.Path(spec.output_path, ".artifact.json").read_text())
    assert (record["version"], record["fingerprint"]) == ("", spec.fingerprint)
    assert json.loads(record["fingerprint_payload"]) == {"out": "<output_path>", "n": 2}
    info = json.loads(pathlib.Path(spec.output_path, ".executor_info").read_text())
    assert info["fingerprint"] == spec.fingerprint


def test_a_spec_whose_function_writes_its_own_record_keeps_it(tmp_path):
    def own(out: str) -> dict:
        pathlib.Path(out).mkdir(parents=True, exist_ok=True)
        pathlib.Path(out, ".artifact.json").write_text(json.dumps({"name": "own", "result": {"mine": True}}))
        return {"ignored": True}

    spec = StepSpec(name="own", fn=own, named_version="dev", writes_record=True, output_path_prefix=str(tmp_path))
    StepRunner().run([spec])
    assert json.loads(pathlib.Path(spec.output_path, ".artifact.json").read_text())["result"] == {"mine": True}
    assert StepSpec.read_statuses([spec]) == ["SUCCESS"]
