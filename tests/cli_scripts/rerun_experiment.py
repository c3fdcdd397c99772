"""A one-step experiment whose unversioned config holds a set of strings and an object known only by its default
``repr``: rerun unchanged, in a new process (another string-hash seed, other memory addresses), it must not drift."""

from __future__ import annotations

import dataclasses
import pathlib

from marin_exec import StepRef, deferred, executor_main, output, step, versioned
from marin_exec.run.cli import parse_experiment_args


class Tokenizer:  # no __repr__, not a dataclass: recorded as <__main__.Tokenizer object at 0x...>
    pass


@dataclasses.dataclass(frozen=True)
class Hyper:
    lr: float = 0.1


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    output_path: str
    lr: float
    splits: frozenset[str]
    tokenizer: Tokenizer


def _train(config: TrainConfig) -> None:
    pathlib.Path(config.output_path, "model.txt").write_text(",".join(sorted(config.splits)))


train = deferred(_train)
SPLITS = frozenset({"train", "validation", "test", "dev", "holdout", "extra", "probe", "calibration"})


@step(name="models/stable")
def model(lr: float) -> StepRef:
    return train(TrainConfig(output_path=output(), lr=versioned(lr), splits=SPLITS, tokenizer=Tokenizer()))


if __name__ == "__main__":
    hyper, config = parse_experiment_args(Hyper)
    executor_main(steps=[model(hyper.lr)], description="rerun experiment", config=config)
