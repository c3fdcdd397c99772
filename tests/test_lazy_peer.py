"""marin-core 0.2.227 itself (the /work/peer-227 venv, Python 3.12) and marin_exec.lazy on the same handles
(tests/lazy_cases.py): the same paths, fingerprints, records and values handed to each function, and each executor
reuses what the other built without calling a function (only the dev handles rebuild, in both). Slow: Marin's
import takes 6-16 s and its runner polls once a second. Skipped where that venv is absent."""

from __future__ import annotations

import json
import pathlib
import re
import subprocess

import pytest

pytest.importorskip("pydantic")

import marin_exec.lazy as lazy  # noqa: E402
from marin_exec import fingerprint as fp  # noqa: E402
from tests import lazy_cases  # noqa: E402
from tests.golden import lazy_types as lt  # noqa: E402

PEER = pathlib.Path("/work/peer-227/bin/python")
SCRIPT = pathlib.Path(__file__).parent / "lazy_peer_run.py"
DEV = ["exp/alice-dev", "scratch/dev"]

pytestmark = [
    pytest.mark.slow(reason="runs marin-core 0.2.227 in a subprocess: its import alone takes 6-16 s"),
    pytest.mark.skipif(not PEER.exists(), reason=f"marin-core 0.2.227 venv absent ({PEER}); see install_peer_227.sh"),
]


def _marin(prefix: pathlib.Path, outside: pathlib.Path, tmp: pathlib.Path) -> dict:
    result = tmp / f"marin-{prefix.name}.json"
    done = subprocess.run(
        [str(PEER), str(SCRIPT), str(prefix), str(outside), str(result)], capture_output=True, text=True, cwd=tmp
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(result.read_text())


def _ours(prefix: pathlib.Path, outside: pathlib.Path, monkeypatch) -> tuple[dict, list[str], dict]:
    """Build and run the cases with marin_exec.lazy: the handles, what each function was handed, fingerprints."""
    monkeypatch.setenv("MARIN_PREFIX", str(prefix))
    lazy_cases.CALLS.clear()
    fp.register_fingerprint(lt.Tokenizer, lt.encode_tokenizer)
    try:
        handles = lazy_cases.build(lazy, lazy.Artifact, str(prefix), str(outside))
        lazy.run(*lazy_cases.terminals(handles))
        fingerprints = {case: h.fingerprint() for case, h in handles.items()}
    finally:
        fp.unregister_fingerprint(lt.Tokenizer)
    return handles, list(lazy_cases.CALLS), fingerprints


def _outs(calls: list[str]) -> list[str]:
    return sorted(re.search(r'\["out", "[^"]*/([^/]+/[^/"]+)"\]', call).group(1) for call in calls)


def _dirs(tmp: pathlib.Path, label: str) -> tuple[pathlib.Path, pathlib.Path]:
    prefix, outside = tmp / label / "prefix", tmp / label / "outside"
    prefix.mkdir(parents=True)
    outside.mkdir()
    return prefix, outside


def test_marin_finds_everything_marin_exec_built(tmp_path, monkeypatch):
    prefix, outside = _dirs(tmp_path, "ours-first")
    handles, _, fingerprints = _ours(prefix, outside, monkeypatch)
    marin = _marin(prefix, outside, tmp_path)
    assert _outs(marin["calls"]) == DEV  # Marin called only what rebuilds every run
    assert marin["paths"] == {case: h.path(str(prefix)) for case, h in handles.items()}
    assert marin["fingerprints"] == fingerprints
    for case, record in marin["records"].items():  # Marin's strict reader took every record marin_exec wrote
        if case not in ("pinned", "pinned_abs"):
            assert record is not None and record["name"] == handles[case].name, case


def test_marin_exec_finds_everything_marin_built_and_hands_functions_the_same_values(tmp_path, monkeypatch):
    prefix, outside = _dirs(tmp_path, "marin-first")
    marin = _marin(prefix, outside, tmp_path)
    fresh_prefix, fresh_outside = _dirs(tmp_path, "fresh")
    _, fresh_calls, _ = _ours(fresh_prefix, fresh_outside, monkeypatch)
    assert sorted(
        c.replace(str(fresh_prefix), "{p}").replace(str(fresh_outside), "{o}") for c in fresh_calls
    ) == sorted(c.replace(str(prefix), "{p}").replace(str(outside), "{o}") for c in marin["calls"])
    handles, calls, _ = _ours(prefix, outside, monkeypatch)
    assert _outs(calls) == DEV
    for case, record in marin["records"].items():
        if record is None:
            continue
        ours = lazy.read_record(lazy.lower(handles[case]).output_path)
        assert ours is not None
        mine = ours.model_dump(mode="json")
        for key in ("name", "version", "fingerprint", "result_type", "output_path", "deps", "config", "result"):
            assert mine[key] == record[key], (case, key)
