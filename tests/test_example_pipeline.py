"""The README's main job: experiments/tiny_lm.py traced, dry-run, run, cached, and partly rerun."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

from experiments.tiny_lm import TinyLM, tiny_lm
from marin_exec import ExecutorMainConfig, compile_graph, run_executor

from .test_runner import snapshot

REPO = pathlib.Path(__file__).resolve().parents[1]


def _script(name: str, *args: str, prefix: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MARIN_PREFIX": prefix}
    return subprocess.run(
        [sys.executable, str(REPO / "experiments" / name), *args], capture_output=True, text=True, env=env, cwd=REPO
    )


def test_the_script_dry_runs_shows_the_dag_and_writes_nothing(prefix):
    before = snapshot(prefix)
    proc = _script("tiny_lm.py", "--dry_run", "true", prefix=prefix)
    assert proc.returncode == 0, proc.stderr
    assert snapshot(prefix) == before
    assert "pipelines/tiny_lm  (group: tiny LM end to end)" in proc.stdout
    assert "needs: tokenized/verse (will run)" in proc.stdout
    assert "Summary: 0 done, 9 will run" in proc.stdout


def test_the_script_runs_then_everything_is_cached(prefix):
    first = _script("tiny_lm.py", prefix=prefix)
    assert first.returncode == 0, first.stderr
    assert "Summary: 9 ran here, 0 cached" in first.stdout
    assert "Best: **verse-bytes-order2-k" in first.stdout  # the readable report is printed at the end
    second = _script("tiny_lm.py", prefix=prefix)
    assert "Summary: 0 ran here, 1 cached, 8 pruned" in second.stdout  # the report is built: nothing below is read
    [report] = pathlib.Path(prefix, "reports").glob("verse-bytes-*/report.md")
    assert "perplexity" in report.read_text().lower()


def test_changing_one_hyperparameter_reruns_exactly_the_affected_steps(prefix):
    config = ExecutorMainConfig(prefix=prefix)
    run_executor([tiny_lm(TinyLM(smoothings=[0.1, 1.0]))], config)
    report = run_executor([tiny_lm(TinyLM(smoothings=[0.1, 2.0]))], config)
    ran = sorted(o.spec.name for o in report.by_state("ran"))
    assert ran == ["eval/verse-bytes-order2-k2", "models/verse-bytes-order2-k2", "reports/verse-bytes"]
    assert report.count("cached") == 2 and report.count("pruned") == 2  # raw and the k0.1 model: built steps need them


def test_a_versioned_value_changed_on_the_command_line_reruns_downstream_only(prefix):
    _script("tiny_lm.py", "--smoothings", "[0.1]", prefix=prefix)
    proc = _script("tiny_lm.py", "--smoothings", "[0.1]", "--tokenizer", "chars", prefix=prefix)
    assert proc.returncode == 0, proc.stderr
    assert "Summary: 4 ran here, 1 cached" in proc.stdout  # the corpus is reused; tokenize, train, eval, report rerun


def test_the_tpu_variant_dry_runs_on_a_machine_without_tpus_and_shows_resources(prefix):
    proc = _script("tiny_lm_tpu.py", "--dry_run", "true", prefix=prefix)
    assert proc.returncode == 0, proc.stderr
    assert "runs as a Fray job: tpu v5litepod-16" in proc.stdout


def test_the_tpu_variant_compiles_its_train_step_with_resources_and_the_tpu_group(prefix):
    from experiments.tiny_lm_tpu import tiny_lm_tpu

    plan = compile_graph([tiny_lm_tpu()], prefix=prefix)
    [train] = [s for s in plan.specs if s.name.startswith("models/")]
    assert train.resources is not None
    assert [s.name for s in plan.specs if s.resources is not None] == [train.name]
