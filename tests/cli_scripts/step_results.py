"""One step whose library function returns what argv[1] names (``numpy``: NumPy scalars in a dict, ``set``: a set,
``object``: an object with no JSON form) and appends a line to $CALLS each time it runs, for the result tests."""

from __future__ import annotations

import os
import sys

import numpy as np

from marin_exec import deferred, executor_main, output, step


class Model:
    """Stands for what a training library returns: not data."""


def _train(path: str, kind: str) -> object:
    with open(os.environ["CALLS"], "a") as calls:
        calls.write(f"{kind}\n")
    results = {"numpy": {"loss": np.float32(0.5), "steps": np.int64(100), "best": np.array(0.25)}, "set": {"b", "a"}}
    return results.get(kind) or {"loss": 0.5, "runs": [{"model": Model()}]}


train = deferred(_train)


@step(name="models/{kind}")
def model(kind: str):
    return train(output(), kind)


if __name__ == "__main__":
    executor_main(steps=[model(sys.argv.pop(1))])
