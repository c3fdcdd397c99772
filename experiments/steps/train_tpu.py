"""The training step as a Fray job on a TPU slice: the same wiring plus ``resources=`` and nothing else."""

from __future__ import annotations

from experiments.lib.train import TrainConfig
from experiments.steps.train import train_model
from marin_exec import ResourceConfig, StepRef, output, step, versioned


@step(
    name="models/{run_name}",
    description="train {run_name} on a v5litepod-16 TPU slice",
    resources=ResourceConfig.with_tpu("v5litepod-16"),
)
def trained_on_tpu(run_name: str, data: StepRef, order: int = 2, smoothing: float = 0.1):
    return train_model(
        TrainConfig(data_path=data, output_path=output(), order=versioned(order), smoothing=versioned(smoothing))
    )
