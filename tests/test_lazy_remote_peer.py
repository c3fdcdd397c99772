"""marin-core 0.2.227's real ``remote(fn, resources=...)`` as a handle's ``run``, run by Marin's ``run`` and by
marin_exec.lazy's (tests/lazy_remote_peer_run.py, in the /work/peer-227 venv, on Fray's LocalClient): each submits
one job, in which the function is called once; the records, fingerprints and paths are the same; and each then finds
the other's output built and submits nothing. Slow: Marin's import takes seconds. Skipped where that venv is absent."""

from __future__ import annotations

import json
import pathlib
import subprocess

import pytest

PEER = pathlib.Path("/work/peer-227/bin/python")
SCRIPT = pathlib.Path(__file__).parent / "lazy_remote_peer_run.py"

pytestmark = [
    pytest.mark.slow(reason="runs marin-core 0.2.227 in a subprocess: its import alone takes seconds"),
    pytest.mark.skipif(not PEER.exists(), reason=f"marin-core 0.2.227 venv absent ({PEER}); see install_peer_227.sh"),
]


def test_marins_real_remote_runs_in_a_job_on_both_executors_with_the_same_record_and_each_reuses_the_other(
    tmp_path,
):
    ours, marins = tmp_path / "ours", tmp_path / "marins"
    ours.mkdir(), marins.mkdir()
    result = tmp_path / "result.json"
    runs = [f"marin_exec:{ours}", f"marin:{marins}", f"marin:{ours}", f"marin_exec:{marins}"]
    done = subprocess.run(
        [str(PEER), str(SCRIPT), str(tmp_path / "calls"), str(result), *runs],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    first_ours, first_marins, marin_again, ours_again = json.loads(result.read_text())
    for fresh, prefix in ((first_ours, ours), (first_marins, marins)):
        assert len(fresh["submitted"]) == 1, fresh["executor"]  # corpus in the runner's thread, train in a job
        assert fresh["calls"] == [{"out": f"{prefix}/train/2026.12.06", "in_job": True}], fresh["executor"]
    assert first_ours["fingerprint"] == first_marins["fingerprint"]
    assert first_ours["path"] == f"{ours}/train/2026.12.06" and first_marins["path"] == f"{marins}/train/2026.12.06"

    def comparable(run: dict, prefix: pathlib.Path) -> dict:
        record = json.loads(json.dumps(run["record"]).replace(str(prefix), "{prefix}"))
        return {**record, "provenance": sorted(record["provenance"])}

    assert comparable(first_ours, ours) == comparable(first_marins, marins)
    for again in (marin_again, ours_again):  # each finds the other's output built
        assert again["submitted"] == [] and again["calls"] == [], again["executor"]
