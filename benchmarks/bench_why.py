"""The cost of "why" lines in a dry run: a 10,000-step sweep whose every step will run because a versioned value
changed, under a prefix holding the earlier version of every step (seeded: ``.executor_info`` + SUCCESS).

    .venv/bin/python benchmarks/bench_why.py [--size 10000] [--prefix DIR]   # default: a fresh dir under /tmp

Prints one JSON line: ``build_s`` (StepSpecs and paths), ``dry_run_with_why_s`` (``StepRunner.run(dry_run=True)``:
statuses, then finding earlier outputs and one why line per step that will run), ``dry_run_cpu_s`` (its CPU time,
which other users of the machine do not inflate) and ``total_s``. The target (issue 12) is a 10,000-step
dry run with why-lines under 2 s on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

sys.path.insert(0, os.path.dirname(__file__))

from workloads import build_specs  # noqa: E402

from marin_exec import StepRunner, StepSpec  # noqa: E402
from marin_exec.compile.identity import shallow_version  # noqa: E402
from marin_exec.run.run_report import StepState  # noqa: E402


def specs_at(size: int, prefix: str, revision: int) -> list[Any]:
    def spec_class(**kwargs: Any) -> StepSpec:
        return StepSpec(**{**kwargs, "hash_attrs": {**kwargs["hash_attrs"], "revision": revision}})

    return build_specs("sweep", size, prefix, spec_class=spec_class)


def seed(specs: list[Any]) -> None:
    def finish(spec: Any) -> None:
        os.makedirs(spec.output_path, exist_ok=True)
        info = {"name": spec.name, "version": shallow_version(spec), "end_time": "2026-12-01T00:00:00+00:00"}
        with open(f"{spec.output_path}/.executor_info", "w") as f:
            json.dump(info, f)
        with open(f"{spec.output_path}/.executor_status", "w") as f:
            f.write("SUCCESS")

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(finish, specs))


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--prefix", default=None)
    args = parser.parse_args()
    prefix = args.prefix or tempfile.mkdtemp(prefix="bench-why-")
    seed(specs_at(args.size, prefix, revision=1))

    start = time.perf_counter()
    specs = specs_at(args.size, prefix, revision=2)
    for spec in specs:
        spec.output_path  # noqa: B018 - identities are part of building
    built, cpu_before = time.perf_counter(), _cpu()
    report = StepRunner().run(specs, dry_run=True)  # reads statuses, then the why of every step that will run
    done, cpu_after = time.perf_counter(), _cpu()
    lines = [o.reason for o in report.outcomes.values() if o.state == StepState.WILL_RUN]
    assert len(lines) == args.size and all("revision: 1" in line for line in lines), lines[:3]
    print(
        json.dumps(
            {
                "size": args.size,
                "will_run": len(lines),
                "build_s": round(built - start, 3),
                "dry_run_with_why_s": round(done - built, 3),
                "dry_run_cpu_s": round(cpu_after - cpu_before, 3),
                "total_s": round(done - start, 3),
                "example": lines[-1],
            }
        )
    )
    if args.prefix is None:
        shutil.rmtree(prefix, ignore_errors=True)


if __name__ == "__main__":
    main()
