"""Lowering plus dry run of a large ExecutorStep graph (marin_exec.legacy), through ``run_executor``.

    .venv/bin/python benchmarks/bench_legacy.py                    # 10,000-step sweep and chain, target < 3 s
    .venv/bin/python benchmarks/bench_legacy.py --size 2000 --shape chain

The sweep is the realistic shape of benchmarks/workloads.py (per dataset: download -> tokenize -> 4 models x
(train -> 11 evals), 50 steps); the chain is one dependency after another. The graph is built first (not timed:
that is the experiment's own code); the timed part is what ``executor_main --dry_run true`` does with it: lower
to steps, compile (versions, paths), read every status and render the plan (to a buffer). Prints one JSON line per
shape. Times nothing else and writes nothing under the prefix.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from marin_exec import ExecutorMainConfig, run_executor  # noqa: E402
from marin_exec.legacy import ExecutorStep, output_path_of, this_output_path, versioned  # noqa: E402

MODEL_SIZES = ("150m", "300m", "600m", "1b")
EVALS = 11


@dataclasses.dataclass(frozen=True)
class Config:
    input_path: Any
    output_path: Any
    knob: Any


def noop(config: Config) -> None:
    pass


def sweep(n: int) -> list[Any]:
    steps: list[Any] = []
    for d in range(n // 50):
        raw = ExecutorStep(name=f"raw/d{d}", fn=noop, config=Config(None, this_output_path(), versioned(d)))
        tok = ExecutorStep(name=f"tok/d{d}", fn=noop, config=Config(raw, this_output_path(), versioned("bytes")))
        steps += [raw, tok]
        for size in MODEL_SIZES:
            model = ExecutorStep(
                name=f"train/d{d}-{size}",
                fn=noop,
                config=Config(output_path_of(tok, "train"), this_output_path(), versioned(size)),
            )
            steps.append(model)
            steps += [
                ExecutorStep(
                    name=f"eval/d{d}-{size}-e{e}",
                    fn=noop,
                    config=Config(model / "ckpt", this_output_path(), versioned(e)),
                )
                for e in range(EVALS)
            ]
    return steps


def chain(n: int) -> list[Any]:
    previous: Any = None
    for i in range(n):
        previous = ExecutorStep(name=f"chain/s{i}", fn=noop, config=Config(previous, this_output_path(), versioned(i)))
    return [previous]


def measure(shape: str, n: int) -> dict[str, Any]:
    steps = sweep(n) if shape == "sweep" else chain(n)
    with tempfile.TemporaryDirectory() as prefix:
        started, cpu = time.perf_counter(), time.process_time()
        with contextlib.redirect_stdout(io.StringIO()):
            report = run_executor(steps, ExecutorMainConfig(prefix=prefix, dry_run=True))
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "shape": shape,
        "steps": n,
        "planned": len(report.outcomes),
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),  # what other users of the machine do not inflate
        "target_s": 3.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--shape", choices=("sweep", "chain", "both"), default="both")
    args = parser.parse_args(argv)
    for shape in ("sweep", "chain") if args.shape == "both" else (args.shape,):
        print(json.dumps(measure(shape, args.size)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
