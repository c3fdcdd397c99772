"""Steps that evaluate trained models and summarise a set of runs."""

from __future__ import annotations

from experiments.lib.evaluate import EvalConfig
from experiments.lib.evaluate import evaluate as _evaluate
from experiments.lib.report import ReportConfig
from experiments.lib.report import write_report as _write_report
from marin_exec import StepRef, deferred, output, step, versioned

evaluate = deferred(_evaluate)
write_report = deferred(_write_report)


@step(name="eval/{run_name}", description="held-out perplexity of {run_name} on the {split} split")
def evaluated(run_name: str, model: StepRef, data: StepRef, split: str = "valid"):
    return evaluate(EvalConfig(model_path=model, data_path=data, output_path=output(), split=versioned(split)))


@step(name="reports/{title}", description="summary table of {title}")
def report(title: str, evals: list[StepRef]):
    return write_report(ReportConfig(eval_paths=evals, output_path=output(), title=versioned(title)))
