"""Tiny LM with training on a TPU slice: same pipeline, the train step declares TPU resources.

python experiments/tiny_lm_tpu.py --dry_run true   # works anywhere: shows each step and where it would run
"""

from __future__ import annotations

import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from experiments.steps.corpus import corpus
from experiments.steps.evaluate import evaluated, report
from experiments.steps.tokenize import tokenized
from experiments.steps.train_tpu import trained_on_tpu
from marin_exec import executor_main, step


@step(name="pipelines/tiny_lm_tpu", description="tiny LM with training on TPU")
def tiny_lm_tpu(smoothing: float = 0.1):
    raw = corpus(name="verse")
    tokens = tokenized(name="verse", raw=raw)
    run_name = f"verse-bytes-order2-k{smoothing:g}-tpu"
    model = trained_on_tpu(run_name=run_name, data=tokens, smoothing=smoothing)
    report(title="verse-tpu", evals=[evaluated(run_name=run_name, model=model, data=tokens)])


if __name__ == "__main__":
    executor_main(steps=tiny_lm_tpu, description="tiny LM with training on TPU")  # traced inside executor_main
