"""marin-core 0.2.227's own lazy handles inside a marin_exec ``@step`` config, for tests/test_lazy_in_config_peer.py.

Run with the peer's interpreter (it imports Marin; marin_exec is imported from this checkout):

    /work/peer-227/bin/python tests/lazy_in_config_peer_run.py PREFIX RESULT.json

Marin's ``apply`` builds ``raw`` and ``tokenized`` (which depends on it); a ``@step`` whose config holds
``tokenized`` runs twice through ``run_executor`` beside ``raw`` at the top level. RESULT.json holds what the step
received, each build, the second run's outcomes, and the record next to Marin's own identity of the handle.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import sys
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from marin.execution.artifact import read_record  # noqa: E402
from marin.execution.lazy import OUT, apply  # noqa: E402

from marin_exec import ExecutorMainConfig, deferred, output, run_executor, step  # noqa: E402

BUILT: list[str] = []
SEEN: list[Any] = []


def write(out: str, text: str = "", up: str | None = None) -> None:
    BUILT.append(out)
    pathlib.Path(out).mkdir(parents=True, exist_ok=True)
    pathlib.Path(out, "data.txt").write_text(text)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    data: Any
    out: Any


@deferred
def train_fn(config: TrainConfig) -> None:
    SEEN.append(config.data)
    pathlib.Path(config.out).mkdir(parents=True, exist_ok=True)


@step(name="train/peer")
def train(data: Any) -> Any:
    return train_fn(TrainConfig(data=data, out=output()))


def main(prefix: str, result: str) -> None:
    raw = apply("raw/peer", write, version="2026.12.06", out=OUT, text="raw")
    tokenized = apply("tokenized/peer", write, version="2026.12.06", out=OUT, text="tok", up=raw)
    config = ExecutorMainConfig(prefix=prefix)
    first = run_executor([raw, train(tokenized)], config)
    second = run_executor([raw, train(tokenized)], config)
    record = read_record(f"{prefix}/tokenized/peer/2026.12.06")
    [trained] = [o.spec for o in first.outcomes.values() if o.spec.name == "train/peer"]
    found = {
        "seen": SEEN,
        "built": BUILT,
        "first": sorted(str(o.state) for o in first.outcomes.values()),
        "second": {o.spec.name: str(o.state) for o in second.outcomes.values()},
        "deps": [dep.identity for dep in trained.deps],
        "record": [record.name, record.version, record.fingerprint, record.deps],
        "marin": [tokenized.name, tokenized.version, tokenized.fingerprint(), [f"{raw.name}@{raw.version}"]],
    }
    pathlib.Path(result).write_text(json.dumps(found))


if __name__ == "__main__":
    main(*sys.argv[1:])
