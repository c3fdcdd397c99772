"""The cost of progress reporting: per event, and per fresh step on tmpfs with progress on; prints one JSON line.

    .venv/bin/python benchmarks/bench_progress.py [--steps 1000] [--prefix /dev/shm/DIR]

- ``event_us`` / ``event_live_us``: one event (a start or a finish, alternating) with a started ``Progress`` that
  prints status lines, and with a live rich display redrawn twice a second to a terminal (written to /dev/null).
- ``fresh_ms`` / ``fresh_with_progress_ms``: ``spec.executable_fn(output_path)`` for steps that never ran, serially,
  without and with a live display fed ``step_started`` / ``step_finished`` around each call (what the runner will
  do), and their difference ``progress_overhead_ms``. The target (issue 12): a fresh step's overhead stays under
  1 ms on tmpfs with progress on.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from typing import IO, Any

sys.path.insert(0, os.path.dirname(__file__))

from workloads import build_specs  # noqa: E402

from marin_exec.progress_display import Progress  # noqa: E402


class _Terminal:
    """/dev/null that says it is a terminal, so Progress draws its live display."""

    def __init__(self) -> None:
        self._file = open(os.devnull, "w")  # noqa: SIM115 - closed with the process

    def write(self, text: str) -> int:
        return self._file.write(text)

    def flush(self) -> None:
        self._file.flush()

    def isatty(self) -> bool:
        return True


def _events_us(progress: Progress, count: int) -> float:
    with progress:
        start = time.perf_counter()
        for i in range(count // 2):
            name = f"s{i}"
            progress.step_started(name)
            progress.step_finished(name, "ran")
        return (time.perf_counter() - start) / count * 1e6


def _fresh_ms(specs: list[Any], progress: Progress | None) -> float:
    start = time.perf_counter()
    for spec in specs:
        if progress is not None:
            progress.step_started(spec.name)
        spec.executable_fn(spec.output_path)
        if progress is not None:
            progress.step_finished(spec.name, "ran")
    return (time.perf_counter() - start) / len(specs) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--prefix", default=None)
    args = parser.parse_args()
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    root = args.prefix or tempfile.mkdtemp(prefix="bench-progress-", dir=shm)
    terminal: IO[str] = _Terminal()  # type: ignore[assignment]
    quiet: IO[str] = open(os.devnull, "w")  # noqa: SIM115
    event_us = _events_us(Progress(stream=quiet, live=False, interval=0.5), 200_000)
    event_live_us = _events_us(Progress(stream=terminal), 200_000)
    plain = build_specs("fanout", args.steps, f"{root}/plain")
    fed = build_specs("fanout", args.steps, f"{root}/fed")
    fresh = _fresh_ms(plain, None)
    with Progress(len(fed), stream=terminal) as progress:
        fresh_fed = _fresh_ms(fed, progress)
    print(
        json.dumps(
            {
                "event_us": round(event_us, 2),
                "event_live_us": round(event_live_us, 2),
                "fresh_ms": round(fresh, 3),
                "fresh_with_progress_ms": round(fresh_fed, 3),
                "progress_overhead_ms": round(fresh_fed - fresh, 3),
                "prefix": root,
            }
        )
    )
    if args.prefix is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
