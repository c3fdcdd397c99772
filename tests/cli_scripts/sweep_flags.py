"""An experiment whose hyperparameters include a field without a default (``dataset``, a required flag) after fields
with defaults, parsed with ``parse_experiment_args``: prints what it parsed, for the usage-error tests."""

from __future__ import annotations

import dataclasses

from marin_exec import parse_experiment_args


@dataclasses.dataclass(frozen=True, kw_only=True)
class Sweep:
    """A learning-rate sweep on one dataset."""

    lrs: list[float] = dataclasses.field(default_factory=lambda: [0.1])  # learning rates, one run each
    dataset: str  # which dataset to train on
    steps: int = 10
    holdout: float = 0.1  # share of the data held out (10%)


if __name__ == "__main__":
    sweep, config = parse_experiment_args(Sweep)
    print(sweep, config.dry_run)
