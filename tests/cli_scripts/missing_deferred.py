"""Library functions called in a @step body without deferred(), each touching a different lazy value while a
config full of them (``output()``, another step's path, ``versioned()``) is around: argv[1] picks the case."""

from __future__ import annotations

import dataclasses
import math
import os
import sys

from marin_exec import StepRef, deferred, executor_main, output, step, versioned


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    data: str
    output_path: str
    lr: float
    warmup: int = 10


def schedule(config: TrainConfig) -> list[float]:
    return [config.lr * math.sqrt(i / config.warmup) for i in range(config.warmup)]


def save_schedule(config: TrainConfig) -> None:
    with open(os.path.join(config.output_path, "schedule.txt"), "w") as f:
        f.write("...")


def check_data(config: TrainConfig) -> None:
    if not config.data:
        raise ValueError("no data")


@step(name="raw/corpus")
def corpus() -> StepRef:
    return deferred(print)(output())


CASES = {"versioned": schedule, "fspath": save_schedule, "bool": check_data}


@step(name="models/{case}")
def train(case: str, data: StepRef) -> StepRef:
    config = TrainConfig(data=data, output_path=output(), lr=versioned(3.0), warmup=versioned(4))
    return deferred(print)(CASES[case](config))


@step(name="pipeline")
def pipeline(case: str) -> None:
    train(case, corpus())


if __name__ == "__main__":
    executor_main(steps=[pipeline(sys.argv.pop(1))])
