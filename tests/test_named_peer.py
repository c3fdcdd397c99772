"""marin-core 0.2.227 and marin_exec on the same named steps (issue 19): each runner finds the other's outputs
built, without calling a function and without a drift warning. Needs Marin's interpreter (PEER_227_VENV, default
/work/peer-227; benchmarks/peer/install_peer_227.sh)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from marin_exec.compile.compiler import compile_graph
from marin_exec.fingerprint import register_fingerprint, unregister_fingerprint
from marin_exec.run.cli import parse_args, run_executor
from tests.golden import lazy_types as lt
from tests.test_named_golden import _traced

ROOT = Path(__file__).resolve().parents[1]
PEER_PYTHON = Path(os.environ.get("PEER_227_VENV", "/work/peer-227")) / "bin" / "python"


def _marin(prefix: Path) -> dict:
    script = ROOT / "tests" / "peer_named_reuse.py"
    done = subprocess.run(
        [str(PEER_PYTHON), str(script), "--prefix", str(prefix)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


NEEDED_BY_TRAIN = {"raw", "tokenized"}  # inputs of the built ``train`` and of nothing else in lazy_types' graph


def _states(report) -> dict[str, str]:
    return {outcome.spec.name: outcome.state for outcome in report.outcomes.values()}


@pytest.fixture
def encoder():
    register_fingerprint(lt.Tokenizer, lt.encode_tokenizer)
    yield
    unregister_fingerprint(lt.Tokenizer)


@pytest.mark.slow
@pytest.mark.skipif(not PEER_PYTHON.exists(), reason="needs marin-core 0.2.227: benchmarks/peer/install_peer_227.sh")
def test_each_runner_finds_the_others_named_outputs_built(tmp_path: Path, encoder, capsys) -> None:
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    run_executor(list(_traced().values()), parse_args(["--prefix", str(ours)]))
    assert _marin(ours) == {"calls": 0, "drift_warnings": []}  # Marin's runner: everything built, no drift

    assert _marin(theirs)["calls"] == len(lt.APPLY_CASES)
    capsys.readouterr()
    # Marin's outputs are built: what a built step needs is pruned (DESIGN §5b), everything else is done / cached.
    plan = run_executor(list(_traced().values()), parse_args(["--prefix", str(theirs), "--dry_run"]))
    assert NEEDED_BY_TRAIN < set(_states(plan))
    assert _states(plan) == {name: "pruned" if name in NEEDED_BY_TRAIN else "done" for name in _states(plan)}
    assert "drift: " not in capsys.readouterr().out
    report = run_executor(list(_traced().values()), parse_args(["--prefix", str(theirs)]))
    assert _states(report) == {name: "pruned" if name in NEEDED_BY_TRAIN else "cached" for name in _states(report)}
    specs = compile_graph(list(_traced().values()), prefix=str(theirs)).specs
    assert [s.output_path for s in specs] == [str(theirs / s.name / s.named_version) for s in specs]
