"""A two-step experiment the CLI tests run as a user would: ``raw/corpus`` then ``models/x``, with a versioned
``lr``, an unversioned ``batch_size`` and ``seconds`` the training step sleeps (for progress lines)."""

from __future__ import annotations

import dataclasses
import pathlib
import time

from marin_exec import StepRef, deferred, executor_main, output, step, versioned
from marin_exec.run.cli import parse_experiment_args


@dataclasses.dataclass(frozen=True)
class Hyper:
    lr: float = 0.1
    batch_size: int = 32
    url: str = "https://example.org/a.txt"
    seconds: float = 0.0


@dataclasses.dataclass(frozen=True)
class RawConfig:
    url: str
    output_path: str


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    data: str
    output_path: str
    lr: float
    batch_size: int
    seconds: float


def _download(config: RawConfig) -> None:
    pathlib.Path(config.output_path, "raw.txt").write_text(config.url)


def _train(config: TrainConfig) -> None:
    time.sleep(config.seconds)
    pathlib.Path(config.output_path, "model.txt").write_text(f"{config.lr} {config.batch_size}")


download = deferred(_download)
train = deferred(_train)


@step(name="raw/corpus")
def corpus(url: str) -> StepRef:
    return download(RawConfig(url=versioned(url), output_path=output()))


@step(name="models/x")
def model(data: StepRef, lr: float, batch_size: int, seconds: float) -> StepRef:
    return train(TrainConfig(data=data, output_path=output(), lr=versioned(lr), batch_size=batch_size, seconds=seconds))


@step(name="pipelines/why")
def pipeline(h: Hyper) -> None:
    model(corpus(h.url), h.lr, h.batch_size, h.seconds)


if __name__ == "__main__":
    hyper, config = parse_experiment_args(Hyper)
    executor_main(steps=[pipeline(hyper)], description="why experiment", config=config)
