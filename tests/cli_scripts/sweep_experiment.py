"""A learning-rate sweep whose step name leaves ``lr`` out: every point is ``models/sweep``, told apart only by its
hash. ``--epochs`` is versioned too, so changing it gives every point a new hash."""

from __future__ import annotations

import dataclasses
import pathlib

from marin_exec import StepRef, deferred, executor_main, output, step, versioned
from marin_exec.run.cli import parse_experiment_args


@dataclasses.dataclass(frozen=True)
class Hyper:
    epochs: int = 1
    points: int = 3  # the sweep's learning rates: 0.1, 0.2, ...


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    output_path: str
    lr: float
    epochs: int


def _train(config: TrainConfig) -> None:
    pathlib.Path(config.output_path, "model.txt").write_text(f"{config.lr} {config.epochs}")


train = deferred(_train)


@step(name="models/sweep")
def model(lr: float, epochs: int) -> StepRef:
    return train(TrainConfig(output_path=output(), lr=versioned(lr), epochs=versioned(epochs)))


@step(name="pipelines/sweep")
def sweep(h: Hyper) -> None:
    for i in range(1, h.points + 1):
        model(round(0.1 * i, 1), h.epochs)


if __name__ == "__main__":
    hyper, config = parse_experiment_args(Hyper)
    executor_main(steps=[sweep(hyper)], description="sweep experiment", config=config)
