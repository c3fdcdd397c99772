"""marin-core 0.2.227's own ``Artifact`` class (the /work/peer-227 venv) through a marin_exec step: the cached value,
``Artifact.load(path)`` and Marin's ``raw_load`` give the same ``TokenizedData``, and loading it as another artifact
class raises Marin's ``ArtifactTypeMismatchError`` from both. Skipped where that venv is absent
(tests/test_artifact_class.py covers the same with marin_exec.lazy's Artifact, in CI); about 3 s here (one Marin
import, no Marin runner)."""

from __future__ import annotations

import json
import pathlib
import subprocess

import pytest

PEER = pathlib.Path("/work/peer-227/bin/python")
SCRIPT = pathlib.Path(__file__).parent / "artifact_class_peer_run.py"

pytestmark = pytest.mark.skipif(
    not PEER.exists(), reason=f"marin-core 0.2.227 venv absent ({PEER}); see benchmarks/peer/install_peer_227.sh"
)


def test_a_step_returning_marins_own_artifact_subclass_loads_as_it_in_marin_and_marin_exec(tmp_path):
    result = tmp_path / "result.json"
    done = subprocess.run(
        [str(PEER), str(SCRIPT), str(tmp_path / "prefix"), str(result)], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(result.read_text())

    expected = {
        "type": "__main__.TokenizedData",
        "fields": {"path": found["path"], "n_tokens": 12, "tokenizer": "bytes"},
    }
    assert found["calls"] == 1
    assert found["cached"] == found["loaded"] == found["marin"] == expected
    assert found["marin_refused"] is not None and "__main__.TokenizedData" in found["marin_refused"]
    assert found["refused"] == (
        f"{found['path']}: built as __main__.TokenizedData, loaded as __main__.EvalScores, an unrelated artifact "
        "class; load it as TokenizedData (Artifact.load(path, TokenizedData), or without a type), or rebuild it with "
        "--force_rerun if its step now returns EvalScores"
    )
