"""marin_exec.lazy at scale (issue 19): the dry run of a 10,000-handle named-version graph, and a 10,000-deep chain
of named handles run fresh and cached (Marin 0.2.227's recursive lowering raised RecursionError near 200).

    .venv/bin/python benchmarks/bench_lazy.py [--wide 10000] [--deep 10000]

The wide graph is 100 chains of 100 ``apply`` handles each (every handle a literal config plus its upstream), the
terminals handed to the plan. Timed apart: building the handles; then ``build_options``' plan, cold: lowering (each
handle's fingerprint payload included) and marin_exec's dry run (statuses, why-lines, "Resolved versions"; output
discarded); then lowering alone, warm. Prints one JSON line per measurement; times nothing as a test does.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from typing import Any

import marin_exec.lazy as lazy
from marin_exec.lazy.cli import print_plan
from marin_exec.lazy.lowering import lower_handles


def touch(out: str, **config: Any) -> None:
    os.makedirs(out, exist_ok=True)


def chain(prefix_name: str, length: int, version: str) -> Any:
    handle = lazy.apply(f"{prefix_name}/0", touch, version=version, out=lazy.OUT, lr=3e-4, layers=[1, 2])
    for i in range(1, length):
        handle = lazy.apply(f"{prefix_name}/{i}", touch, version=version, out=lazy.OUT, lr=3e-4, up=handle)
    return handle


def emit(**row: Any) -> None:
    print(json.dumps(row), flush=True)


def wide(total: int) -> None:
    chains, length = 100, max(1, total // 100)
    started = time.perf_counter()
    terminals = [chain(f"wide/c{c}", length, "2026.12.06") for c in range(chains)]
    built = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        print_plan(terminals)  # what build_options does without --run: lower, then marin_exec's dry run
    planned = time.perf_counter()
    lower_handles(terminals)  # once more, warm, to show what lowering alone costs
    lowered = time.perf_counter()
    emit(bench="lazy_dry_run", handles=chains * length, build_s=round(built - started, 3),
         dry_run_s=round(planned - built, 3), lower_again_s=round(lowered - planned, 3))  # fmt: skip


def deep(length: int) -> None:
    sys.setrecursionlimit(1000)  # the default: nothing below may recurse per handle
    terminal = chain("deep", length, "2026.12.06")
    for label in ("fresh", "cached"):
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            (loaded,) = lazy.run(terminal)
        emit(bench="lazy_deep_chain", steps=length, run=label, seconds=round(time.perf_counter() - started, 3),
             terminal=os.path.relpath(loaded.path, os.environ["MARIN_PREFIX"]))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wide", type=int, default=10_000)
    parser.add_argument("--deep", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        os.environ["MARIN_PREFIX"] = root
        wide(args.wide)
        if args.deep:
            deep(args.deep)


if __name__ == "__main__":
    main()
