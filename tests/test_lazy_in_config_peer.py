"""marin-core 0.2.227's own ``ArtifactStep`` handles (the /work/peer-227 venv) inside a marin_exec ``@step`` config:
the step receives the handle's path, the handle (and its dep, also given at the top level) builds once, a rerun
runs nothing, and the handle's record is the one Marin's identity names. Skipped where that venv is absent
(tests/test_lazy_in_config.py covers the same with handles shaped like Marin's, in CI); about 3 s here."""

from __future__ import annotations

import json
import pathlib
import subprocess

import pytest

PEER = pathlib.Path("/work/peer-227/bin/python")
SCRIPT = pathlib.Path(__file__).parent / "lazy_in_config_peer_run.py"

pytestmark = pytest.mark.skipif(
    not PEER.exists(), reason=f"marin-core 0.2.227 venv absent ({PEER}); see benchmarks/peer/install_peer_227.sh"
)


def test_marins_own_handle_in_a_step_config_is_a_dependency_and_gives_its_path(tmp_path):
    prefix, result = tmp_path / "prefix", tmp_path / "result.json"
    done = subprocess.run([str(PEER), str(SCRIPT), str(prefix), str(result)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(result.read_text())

    tokenized = f"{prefix}/tokenized/peer/2026.12.06"
    assert found["seen"] == [tokenized]
    assert found["built"] == [f"{prefix}/raw/peer/2026.12.06", tokenized]
    assert found["first"] == ["ran"] * 3
    assert found["second"]["train/peer"] == "cached" and set(found["second"].values()) <= {"cached", "pruned"}
    assert found["deps"] == ["tokenized/peer@2026.12.06"]
    assert found["record"] == found["marin"]  # name, version, Marin's fingerprint, deps as name@version
