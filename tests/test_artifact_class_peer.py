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


LOADER = """
import sys
sys.path.insert(0, sys.argv[1])
from marin_exec import Artifact
built = Artifact.load(sys.argv[2])  # a record Marin wrote for one of its own classes; Marin not imported yet
print(type(built).__module__, type(built).__qualname__, built.results_path, built.path == sys.argv[2])
from marin.execution.artifact import Artifact as MarinArtifact, write_artifact
class Other(MarinArtifact):
    k: int = 0
write_artifact(Other(path="/built/there", k=5), sys.argv[3])  # Marin's own: its model_dump, path too, no type
print(repr(Artifact.load(sys.argv[3], Other)))
"""


def test_a_record_of_marins_own_class_loads_as_it_where_marin_is_installed_and_write_artifact_records_load(tmp_path):
    lm_eval = tmp_path / "lm_eval"
    lm_eval.mkdir()
    (lm_eval / ".artifact.json").write_text(
        json.dumps(
            {"result_type": "marin.evaluation.lm_eval.LmEvalResults", "result": {"results_path": "gs://b/r.json"}}
        )
    )
    checkout = pathlib.Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [str(PEER), "-c", LOADER, str(checkout), str(lm_eval), str(tmp_path / "wa")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == [
        "marin.evaluation.lm_eval LmEvalResults gs://b/r.json True",  # marin is installed: its module is imported
        f"Other(path='{tmp_path / 'wa'}', k=5)",
    ]
