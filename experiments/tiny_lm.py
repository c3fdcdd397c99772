"""Tiny LM end to end: corpus -> tokens -> n-gram models (a smoothing sweep) -> held-out eval -> report.

python experiments/tiny_lm.py --dry_run true          # the plan, with each step's status; runs nothing
python experiments/tiny_lm.py                         # run (MARIN_PREFIX or --prefix say where)
python experiments/tiny_lm.py --smoothings "[0.1, 2.0]" --tokenizer words   # change hyperparameters
"""

from __future__ import annotations

import dataclasses
import os
import sys

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from experiments.steps.corpus import corpus
from experiments.steps.evaluate import evaluated, report
from experiments.steps.tokenize import tokenized
from experiments.steps.train import trained
from marin_exec import StepRef, compile_graph, executor_main, parse_experiment_args, step


@dataclasses.dataclass(frozen=True)
class TinyLM:
    """Hyperparameters of this experiment; each one is a command-line flag."""

    corpus: str = "verse"  # the generated corpus: verse or fables
    num_documents: int = 300  # documents to take from the corpus
    tokenizer: str = "bytes"  # bytes, chars or words
    order: int = 2  # n-gram order of every model
    smoothings: list[float] = dataclasses.field(default_factory=lambda: [0.01, 0.1, 1.0])  # one model per value


@step(name="pipelines/tiny_lm", description="tiny LM end to end")
def tiny_lm(config: TinyLM = TinyLM()):
    raw = corpus(name=config.corpus, num_documents=config.num_documents)
    tokens = tokenized(name=config.corpus, raw=raw, tokenizer=config.tokenizer)
    evals = []
    for smoothing in config.smoothings:
        run_name = f"{config.corpus}-{config.tokenizer}-order{config.order}-k{smoothing:g}"
        model = trained(run_name=run_name, data=tokens, order=config.order, smoothing=smoothing)
        evals.append(evaluated(run_name=run_name, model=model, data=tokens))
    report(title=f"{config.corpus}-{config.tokenizer}", evals=evals)


def show_report(entry: StepRef, prefix: str) -> None:
    """Print the report the pipeline wrote (the last step's report.md)."""
    import fsspec

    [spec] = [s for s in compile_graph([entry], prefix=prefix).specs if s.name.startswith("reports/")]
    with fsspec.open(f"{spec.output_path}/report.md", "r") as f:
        print(f"\n{f.read()}\n(written to {spec.output_path}/report.md)")


if __name__ == "__main__":
    hyperparameters, executor_config = parse_experiment_args(TinyLM)
    pipeline = tiny_lm(hyperparameters)
    executor_main(steps=[pipeline], description="tiny LM end to end", config=executor_config)
    if not executor_config.dry_run:
        show_report(pipeline, executor_config.prefix or os.environ["MARIN_PREFIX"])
