"""marin_exec writes Marin's ArtifactRecord and reads Marin's, StepRunner's and its own older artifacts.

Marin's side is tests/golden/lazy_marin_0227.json (recorded by benchmarks/peer/marin_lazy_golden.py from marin-core
0.2.227): the records it wrote, and what its ``read_record`` made of a set of documents. That Marin's readers accept
what marin_exec writes is checked with Marin itself by benchmarks/peer/check_records_227.py (the slow test below).
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess

import pytest

from marin_exec import artifact_record as ar

GOLDEN = json.loads((pathlib.Path(__file__).parent / "golden" / "lazy_marin_0227.json").read_text())
REPO = pathlib.Path(__file__).resolve().parents[1]
PEER_227 = pathlib.Path(os.environ.get("PEER227_VENV", "/work/peer-227")) / "bin" / "python"


def _marin_records() -> dict[str, str]:
    texts = {f"lazy:{h['case']}": h["files"].get(".artifact.json") for h in GOLDEN["handles"]}
    texts.update({f"stepspec:{s['name']}": s["files"].get(".artifact.json") for s in GOLDEN["stepspec_steps"]})
    return {label: text for label, text in texts.items() if text is not None}


@pytest.mark.parametrize("label", sorted(_marin_records()))
def test_marins_records_parse_and_are_written_back_byte_for_byte(label):
    text = _marin_records()[label]
    record = ar.parse_record(text)
    rebuilt = ar.build_record(
        **{k: record[k] for k in ar.RECORD_FIELDS if k != "result"}, result=ar.record_value(record)
    )
    assert ar.record_text(rebuilt) == text


def test_step_runner_records_keep_hashed_dependency_names_and_their_value():
    step = next(s for s in GOLDEN["stepspec_steps"] if s["name"] == "tokenize")
    record = ar.parse_record(step["files"][".artifact.json"])
    assert record["deps"] == ["download_b72a30c8"] and record["fingerprint"] == ""
    assert ar.record_value(record) == {"rows": 5, "shards": [1, 2]}


@pytest.mark.parametrize("label", sorted(GOLDEN["record_readers"]))
def test_parsing_accepts_and_rejects_what_marins_read_record_does(label):
    probe = GOLDEN["record_readers"][label]
    marin = probe["read_record"]
    if "error" in marin:
        with pytest.raises(ar.RecordError):
            ar.parse_record(probe["document"])
    else:
        assert ar.parse_record(probe["document"]) == marin["ok"]


VALUES = [None, [1, 2], 5, "s", 0.5, True, {}, {"a": [1]}, {"path": "x", "n": 1}, {ar.VALUE_KEY: 1}, [None]]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_any_result_round_trips_through_a_record_whose_result_marin_accepts(value):
    record = ar.build_record(name="s", output_path="/p/s", result=value)
    assert record["result"] is None or isinstance(record["result"], dict)
    assert "path" not in (record["result"] or {})
    assert ar.record_value(ar.parse_record(ar.record_text(record))) == value


@pytest.mark.parametrize("text", ["[1, 2]", "5", "null", '{"a": 1}', '{"name": "x", "result": [1]}', '"s"'])
def test_older_result_only_artifacts_load_as_their_value_whatever_their_keys(text):
    assert ar.record_value(ar.parse_record(text, result_only=True)) == json.loads(text)


def test_only_our_executor_info_without_the_record_marker_means_result_only():
    ours = {"executor_version": "marin_exec-0.1.0", "name": "s"}
    assert ar.is_result_only(ours)
    assert not ar.is_result_only({**ours, ar.RECORD_INFO_KEY: ar.RECORD_INFO_VALUE})
    assert not ar.is_result_only({"executor_version": "step_runner", "name": "s"})
    assert not ar.is_result_only(None)


def test_a_record_marin_would_refuse_is_not_written():
    with pytest.raises(ar.RecordError, match="'config' must be an object or null"):
        ar.build_record(name="s", output_path="/p", config=[1])  # type: ignore[arg-type]
    with pytest.raises(ar.RecordError, match="'provenance' must be null or an object"):
        ar.build_record(name="s", output_path="/p", provenance="me")  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.skipif(not PEER_227.exists(), reason="needs marin-core 0.2.227 (benchmarks/peer/install_peer_227.sh)")
def test_marins_own_readers_accept_the_records_we_write():
    script = REPO / "benchmarks" / "peer" / "check_records_227.py"
    done = subprocess.run([str(PEER_227), str(script)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
