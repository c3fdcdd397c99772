"""marin_exec.lazy against marin-core 0.2.227 (tests/golden/lazy_marin_0227.json): the golden cases built with
marin_exec.lazy and run on marin_exec land on Marin's paths with Marin's fingerprints, payloads and records, and
load as Marin loaded them. Marin is not needed (the golden file is)."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

pytest.importorskip("pydantic")

import marin_exec.lazy as lazy  # noqa: E402
from marin_exec import fingerprint as fp  # noqa: E402
from tests import lazy_cases  # noqa: E402
from tests.golden import lazy_types as lt  # noqa: E402

GOLDEN = json.loads((pathlib.Path(__file__).parent / "golden" / "lazy_marin_0227.json").read_text())
HANDLES = {h["case"]: h for h in GOLDEN["handles"]}


@pytest.fixture
def built(tmp_path, monkeypatch):
    prefix, outside = tmp_path / "prefix", tmp_path / "outside"
    prefix.mkdir()
    outside.mkdir()
    monkeypatch.setenv("MARIN_PREFIX", str(prefix))
    monkeypatch.chdir(tmp_path)
    fp.register_fingerprint(lt.Tokenizer, lt.encode_tokenizer)
    try:
        handles = lazy_cases.build(lazy, lazy.Artifact, str(prefix), str(outside))
        loaded = lazy.run(*lazy_cases.terminals(handles))
        yield handles, loaded, str(prefix), str(outside)
    finally:
        fp.unregister_fingerprint(lt.Tokenizer)


def _norm(text: str, prefix: str, outside: str) -> str:
    return text.replace(prefix, "{prefix}").replace(outside, "{outside}")


def _comparable(record: dict[str, Any]) -> dict[str, Any]:
    """A record without what differs per launch (provenance's time, argv, user, commit): its keys only."""
    return {**record, "provenance": None if record["provenance"] is None else sorted(record["provenance"])}


def test_every_golden_case_has_marins_path_fingerprint_and_payload(built):
    handles, _, prefix, outside = built
    for case, handle in handles.items():
        golden = HANDLES[case]
        assert _norm(handle.path(prefix), prefix, outside).removeprefix("{prefix}/") == golden["path"], case
        payload = _norm(handle.fingerprint_payload(), prefix, outside)
        assert payload == golden["fingerprint_payload"], case
        if case != "adopted":  # an absolute adopt source enters the fingerprint: the golden run's directory differs
            assert handle.fingerprint() == golden["fingerprint"], case


def test_every_record_is_marins_but_for_the_launch(built):
    handles, _, prefix, outside = built
    for case in handles:
        golden = HANDLES[case]
        spec_path = pathlib.Path(_norm_path(golden["step_path"], prefix, outside))
        ours = spec_path / ".artifact.json"
        if ".artifact.json" not in golden["files"]:
            assert not ours.exists(), f"{case}: a pinned handle writes no record"
            continue
        record = json.loads(_norm(ours.read_text(), prefix, outside))
        expected = json.loads(golden["files"][".artifact.json"])
        if case == "adopted":  # its fingerprint holds the absolute source of the golden run's directory
            record.pop("fingerprint"), expected.pop("fingerprint")
        assert _comparable(record) == _comparable(expected), case
        # key order too: sorted for a computed config, the caller's for an adopted one (the fingerprint sorts)
        assert json.dumps(record["config"]) == json.dumps(expected["config"]), case
        assert (spec_path / ".executor_status").read_text() == "SUCCESS"


def _norm_path(step_path: str, prefix: str, outside: str) -> str:
    path = step_path.replace("{outside}", outside)
    return path if path.startswith("/") else f"{prefix}/{path}"


def test_run_returns_the_loaded_artifacts_marin_returned(built):
    handles, loaded, prefix, outside = built
    cases = [case for case in handles if case != "scratch"]
    assert {c: _norm(repr(a), prefix, outside) for c, a in zip(cases, loaded, strict=True)} == GOLDEN["loaded"]


def test_a_second_run_calls_only_the_dev_handles(built):
    handles, _, prefix, _ = built
    lazy_cases.CALLS.clear()
    lazy.run(*lazy_cases.terminals(handles))
    outs = sorted(call.split('["out", "')[1].split('"')[0] for call in lazy_cases.CALLS)
    assert outs == [f"{prefix}/exp/alice-dev", f"{prefix}/scratch/dev"]
