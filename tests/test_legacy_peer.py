"""Marin's own executor and marin_exec run the same ExecutorStep graphs: the same paths, the same configs handed to
the functions (under the same mirror budgets), and marin_exec reuses every output Marin computed.

Needs the reference peer (bash benchmarks/peer/install_peer.sh), which runs benchmarks/peer/marin_run_cases.py.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

import marin_exec.legacy as legacy
from benchmarks.peer import legacy_cases
from marin_exec import ExecutorMainConfig, run_executor
from tests import marin_lookalike

ROOT = Path(__file__).resolve().parents[1]
PEER_PYTHON = Path(os.environ.get("PEER_VENV", "/work/peer-venv")) / "bin" / "python"


@pytest.mark.slow
@pytest.mark.skipif(not PEER_PYTHON.exists(), reason="needs Marin's executor: bash benchmarks/peer/install_peer.sh")
def test_marin_and_marin_exec_agree_on_every_path_and_config_and_marins_outputs_are_reused(tmp_path: Path) -> None:
    marin_prefix, ours, marin_abs, our_abs = tmp_path / "marin", tmp_path / "ours", tmp_path / "abs1", tmp_path / "abs2"
    out = tmp_path / "marin.json"
    script = ROOT / "benchmarks" / "peer" / "marin_run_cases.py"
    subprocess.run(
        [str(PEER_PYTHON), str(script), "--prefix", str(marin_prefix), "--abs", str(marin_abs), "--out", str(out)],
        check=True,
        timeout=900,
        env={**os.environ, "MARIN_PREFIX": str(marin_prefix)},
    )
    marin = json.loads(out.read_text())
    for case, items in legacy_cases.build_cases(legacy, str(marin_abs)).items():  # on what Marin left
        plan = run_executor(items, ExecutorMainConfig(prefix=f"{marin_prefix}/{case}", dry_run=True))
        # Nothing will run: every step needed is done, and what only built steps need is pruned (DESIGN §5b).
        states = {o.state for o in plan.outcomes.values()}
        assert "done" in states and states <= {"done", "pruned"}, (case, states)
    for case, items in legacy_cases.build_cases(legacy, str(our_abs)).items():  # fresh
        legacy_cases.RECEIVED.clear()
        legacy_cases.BUDGETS.clear()
        report = run_executor(items, ExecutorMainConfig(prefix=f"{ours}/{case}"))
        assert {o.state for o in report.outcomes.values()} == {"ran"}, case
        got = [legacy_cases.to_json(c, f"{ours}/{case}", str(our_abs)) for c in legacy_cases.RECEIVED]
        assert sorted(json.dumps(c, sort_keys=True) for c in got) == sorted(
            json.dumps(c, sort_keys=True) for c in marin[case]["configs"]
        ), case
        assert sorted(legacy_cases.BUDGETS, key=str) == sorted(marin[case]["mirror_budgets_gb"], key=str), case
        paths = {
            o.spec.name: legacy_cases.relative(o.spec.output_path, f"{ours}/{case}", str(our_abs))
            for o in report.outcomes.values()
        }
        assert paths.items() <= marin[case]["paths"].items(), case
    case, prefix = "stepspec_as_executor_step", f"{marin_prefix}/stepspec_as_executor_step"
    specs: list[marin_lookalike.MarinStepSpec] = []  # Marin's StepSpecs, at the paths Marin's run used
    for name, attrs, dep in legacy_cases.STEPSPECS:
        path = marin[case]["paths"][name].replace("{prefix}", prefix)
        specs.append(
            marin_lookalike.MarinStepSpec(
                name, legacy_cases.record_path, path, [] if dep is None else [specs[dep]], attrs
            )
        )
    plan = run_executor([specs[-1].as_executor_step()], ExecutorMainConfig(prefix=prefix, dry_run=True))
    states = {o.spec.output_path: o.state for o in plan.outcomes.values()}
    assert states == {spec.output_path: "pruned" for spec in specs[:-1]} | {specs[-1].output_path: "done"}, states
    assert len(marin[case]["configs"]) == 2  # Marin called each StepSpec's function with its output path
