"""Steps that train n-gram language models in the runner's own process."""

from __future__ import annotations

from experiments.lib.train import TrainConfig
from experiments.lib.train import train_model as _train_model
from marin_exec import StepRef, deferred, output, step, versioned

train_model = deferred(_train_model)


@step(name="models/{run_name}", description="train {run_name}: order {order}, add-{smoothing} smoothing")
def trained(run_name: str, data: StepRef, order: int = 2, smoothing: float = 0.1):
    return train_model(
        TrainConfig(data_path=data, output_path=output(), order=versioned(order), smoothing=versioned(smoothing))
    )
