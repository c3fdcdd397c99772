"""StepSpec identity (golden hashes of DESIGN §4), validation, and batched status reads.

What ``executable_fn`` runs and writes (the step job) is tested in tests/test_step_job.py.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import pathlib
import sys

import pytest

from marin_exec import (
    MissingPrefixError,
    StepDefinitionError,
    StepSpec,
    VersioningError,
)


def _noop(output_path: str) -> None:
    return None


def _deep_chain(prefix: str, n: int) -> list[StepSpec]:
    chain: list[StepSpec] = []
    for i in range(n):
        deps = chain[-1:]
        attrs = {"a": i, "inp": "DEP[0]"} if deps else {"a": i}
        chain.append(StepSpec(name=f"deep/s{i}", fn=_noop, deps=deps, hash_attrs=attrs, output_path_prefix=prefix))
    return chain


def test_worked_example_raw_corpus_hash_matches_marin(prefix):
    spec = StepSpec(name="raw/corpus", fn=_noop, hash_attrs={"url": "https://example.org/corpus.txt"})
    assert spec.version_str == (
        '{"config": {"url": "https://example.org/corpus.txt"}, "dependencies": [], "name": "raw/corpus"}'
    )
    assert spec.output_path == f"{prefix}/raw/corpus-ed8966"


def test_worked_example_deep_chain_switches_to_name_hash_past_depth_four(prefix):
    chain = _deep_chain(prefix, 8)
    assert chain[5].hash_id == "63b757"
    assert chain[6].version_str == (
        '{"config": {"a": 6, "inp": "DEP[0]"}, "dependencies": ["deep/s5-63b757"], "name": "deep/s6"}'
    )
    assert chain[6].hash_id == "cb9cfc"


def test_dependency_at_depth_four_is_nested_in_full(prefix):
    chain = _deep_chain(prefix, 6)
    assert chain[4].depth == 4
    assert chain[5].version["dependencies"] == [chain[4].version]


def test_pseudo_dependencies_appear_only_when_present(prefix):
    upstream = StepSpec(name="train/run", fn=_noop)
    plain = StepSpec(name="eval/a", fn=_noop, hash_attrs={"x": 1})
    watching = StepSpec(name="eval/a", fn=_noop, hash_attrs={"x": 1}, pseudo_deps=[upstream])
    assert "pseudo_dependencies" not in plain.version
    assert watching.version["pseudo_dependencies"] == [upstream.version]
    assert watching.hash_id != plain.hash_id


def test_the_version_string_is_json_of_the_version_with_sorted_keys_in_every_graph_shape(prefix):
    """The version text is assembled from the dependencies' own texts; it must be exactly what hashing the
    version with ``json.dumps(sort_keys=True)`` gives (Marin's hash): nested, past depth four, pseudo deps, odd
    names and values."""
    chain = _deep_chain(prefix, 7)
    odd = StepSpec(name="odd/{x}=1+2", fn=_noop, hash_attrs={"z": [1, {"b": 2, "a": None}], "a": 'ü\n"'})
    fan_in = StepSpec(
        name="fan/in",
        fn=_noop,
        deps=[chain[2], chain[6], odd],
        pseudo_deps=[chain[5], odd],
        hash_attrs={"inputs": ["DEP[0]", "DEP[1]/sub", "DEP[2]"], "lr": 0.1},
    )
    for spec in [*chain, odd, fan_in]:
        assert spec.version_str == json.dumps(spec.version, sort_keys=True), spec.name


def test_hash_does_not_depend_on_prefix(tmp_path):
    a = StepSpec(name="x/y", fn=_noop, hash_attrs={"k": 1}, output_path_prefix=str(tmp_path / "a"))
    b = StepSpec(name="x/y", fn=_noop, hash_attrs={"k": 1}, output_path_prefix="gs://bucket/elsewhere")
    assert a.hash_id == b.hash_id
    assert b.output_path == f"gs://bucket/elsewhere/x/y-{a.hash_id}"


class Color(enum.Enum):
    RED = "red"


@dataclasses.dataclass(frozen=True)
class Inner:
    lr: float
    path: pathlib.Path


def test_values_are_encoded_as_marin_encodes_them(prefix):
    spec = StepSpec(
        name="enc/x",
        fn=_noop,
        hash_attrs={"color": Color.RED, "inner": Inner(0.1, pathlib.Path("/data/x")), "t": (1, 2)},
    )
    assert spec.version["config"] == {"color": "red", "inner": {"lr": 0.1, "path": "/data/x"}, "t": [1, 2]}


def test_unencodable_hash_attr_names_the_key_and_type(prefix):
    with pytest.raises(VersioningError, match=r"'opts\.seen'.*builtins\.set.*sorted list"):
        StepSpec(name="bad/attrs", fn=_noop, hash_attrs={"opts": {"seen": {1, 2}}})


@pytest.mark.parametrize("name", ["a/../b", "a//b", "/abs/name", "new\nline", "trailing/", "nul\x00", "\udc80", ""])
def test_bad_step_names_are_rejected_at_definition(name):
    with pytest.raises(StepDefinitionError, match="step name"):
        StepSpec(name=name, fn=_noop)


def test_names_with_placeholder_characters_keep_them_in_the_output_path(tmp_path):
    spec = StepSpec(name="sweep/lr={lr}/run+1", fn=_noop, output_path_prefix=str(tmp_path))
    assert spec.output_path == f"{tmp_path}/sweep/lr={{lr}}/run+1-{spec.hash_id}"
    assert spec.version["name"] == "sweep/lr={lr}/run+1"


def test_a_spec_without_a_function_gives_identity_and_path_but_refuses_to_run(prefix):
    # Marin allows StepSpec(fn=None) to compute a path for steps that depend on it; it was refused outright.
    identity_only = StepSpec(name="x/nofn", hash_attrs={"a": 1})
    child = StepSpec(name="x/child", fn=_noop, deps=[identity_only])
    assert child.version["dependencies"] == [identity_only.version]
    assert identity_only.output_path == f"{prefix}/x/nofn-{identity_only.hash_id}"
    with pytest.raises(StepDefinitionError, match="has no function"):
        identity_only.executable_fn(identity_only.output_path)
    assert not os.path.exists(identity_only.output_path)


def test_a_function_that_is_not_callable_is_rejected():
    with pytest.raises(StepDefinitionError, match="not callable"):
        StepSpec(name="x/nofn", fn="not a function")  # type: ignore[arg-type]


def test_an_absolute_override_output_path_needs_no_prefix(monkeypatch, tmp_path):
    monkeypatch.delenv("MARIN_PREFIX", raising=False)
    pinned = StepSpec(name="x/pinned", fn=_noop, override_output_path=str(tmp_path / "pinned"))
    assert pinned.output_path == str(tmp_path / "pinned")
    assert StepSpec(name="x/gs", fn=_noop, override_output_path="gs://b/d/").output_path == "gs://b/d"


def test_deps_must_be_stepspecs_not_paths():
    with pytest.raises(StepDefinitionError, match="not its path"):
        StepSpec(name="x/y", fn=_noop, deps=["/some/path"])  # type: ignore[list-item]


def test_missing_prefix_error_says_how_to_set_one(monkeypatch):
    monkeypatch.delenv("MARIN_PREFIX", raising=False)
    spec = StepSpec(name="x/y", fn=_noop)
    with pytest.raises(MissingPrefixError, match="MARIN_PREFIX"):
        _ = spec.output_path


def test_relative_override_output_path_is_under_the_prefix(prefix):
    spec = StepSpec(name="x/y", fn=_noop, override_output_path="pinned/place")
    assert spec.output_path == f"{prefix}/pinned/place"


def test_ten_thousand_deep_chain_computes_paths_without_recursion_error(prefix):
    chain = _deep_chain(prefix, 10_000)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # far below the chain length: only an iterative computation survives
    try:
        assert chain[-1].output_path.startswith(f"{prefix}/deep/s9999-")
    finally:
        sys.setrecursionlimit(limit)


def _value(output_path: str) -> dict:
    return {"n": 1}


def test_read_statuses_tells_done_from_not_done_in_one_batch_on_every_backend(store_root):
    from marin_exec.runtime.step_job import write_info
    from marin_exec.storage.store import store_for

    def spec(name: str) -> StepSpec:
        return StepSpec(name=f"status/{name}", fn=_value, output_path_prefix=store_root)

    def put(s: StepSpec, filename: str, data: str) -> None:
        path = f"{s.output_path}/{filename}"
        store_for(path).write(path, data.encode())

    names = ("never", "failed", "running", "ours", "ours_lost", "old", "old_info", "old_lines_marked")
    cases = {name: spec(name) for name in names}
    cases["ours"].executable_fn(cases["ours"].output_path)  # a real commit: artifact, info, SUCCESS
    put(cases["failed"], ".executor_status", "FAILED")
    put(cases["running"], ".executor_status", "RUNNING")
    write_info(cases["ours_lost"].output_path, {"executor_version": "marin_exec 0.1.0"})  # ours, artifact gone
    put(cases["ours_lost"], ".executor_status", "SUCCESS")
    put(cases["old"], ".executor_status", '{"status": "RUNNING"}\n{"status": "SUCCESS"}\n')  # older JSON lines
    put(cases["old_info"], ".executor_info", json.dumps({"name": "x", "version": {}}))  # an older executor's info
    put(cases["old_info"], ".executor_status", "SUCCESS")
    # JSON-lines events are never written by marin_exec: done on the status alone, whatever the info says
    write_info(cases["old_lines_marked"].output_path, {"executor_version": "marin_exec 0.1.0"})
    put(cases["old_lines_marked"], ".executor_status", '{"status": "SUCCESS"}\n')

    statuses = dict(zip(cases, StepSpec.read_statuses(list(cases.values())), strict=True))
    assert statuses == {
        "never": None,
        "failed": "FAILED",
        "running": "RUNNING",
        "ours": "SUCCESS",
        "ours_lost": None,  # not done: the runner calls it and run_step runs it again
        "old": "SUCCESS",
        "old_info": "SUCCESS",
        "old_lines_marked": "SUCCESS",
    }
    assert {name: s.read_status() for name, s in cases.items()} == statuses
