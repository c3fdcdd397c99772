"""The README's "Named versions" example (experiments/named_versions.py) runs as the README says."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]


def _script(*args: str, prefix: pathlib.Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MARIN_PREFIX"}
    cmd = [sys.executable, str(REPO / "experiments" / "named_versions.py"), "--prefix", str(prefix), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)


def test_the_example_dry_runs_iterates_on_dev_and_freezes_a_version(tmp_path):
    plan = _script("--version", "dev", "--dry_run", prefix=tmp_path)
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.rstrip().endswith(
        "Resolved versions:\n  raw/verse@2026.12.06\n  stats/words@dev  (mutable: rebuilds every run)"
    )
    assert not any(tmp_path.iterdir())

    for _ in range(2):
        dev = _script("--version", "dev", prefix=tmp_path)
        assert dev.returncode == 0, dev.stderr
    assert "Summary: 1 ran here, 1 cached" in dev.stdout  # the dev stats rebuilt, the frozen corpus did not
    counts = json.loads((tmp_path / "stats/words/dev/counts.json").read_text())
    assert counts["the"] == 3

    frozen = _script("--version", "2026.12.06", prefix=tmp_path)
    assert frozen.returncode == 0, frozen.stderr
    record = json.loads((tmp_path / "stats/words/2026.12.06/.artifact.json").read_text())
    assert (record["version"], record["deps"], record["result"]) == (
        "2026.12.06",
        ["raw/verse@2026.12.06"],
        {"words": 12, "distinct": 9},
    )
    again = _script("--version", "2026.12.06", prefix=tmp_path)
    assert "Summary: 0 ran here, 1 cached, 1 pruned" in again.stdout  # the built stats need not read its corpus
