"""The pruned schedule (DESIGN §5b, issue 19): status reads of a cached re-run, and a 10,000-deep chain.

    .venv/bin/python benchmarks/bench_prune.py [--sizes 20 200 10000] [--deep 10000]

For each size, a chain of trivial StepSpecs is run fresh, then re-run cached twice in this process (after import, as
issue 19 measured Marin's runner): the first re-run counts the status files read (a built single-terminal graph
should read one, whatever its size), the second is timed on plain local disk. Then a ``--deep``-step chain runs
fresh and cached (Marin 0.2.227's lazy ``run`` raised RecursionError on a 200-deep chain). Reads are counted by a
store registered through the public ``register_store`` for ``counted://`` paths: local disk underneath, with
every read of a ``.executor_status`` counted. Prints one JSON line per measurement; times nothing as a test does.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from typing import Any

from marin_exec import StepRunner, StepSpec
from marin_exec.storage.local_store import LocalStore
from marin_exec.storage.store import register_store

PROTOCOL = "counted"


class CountingStore:
    """Local disk under ``counted:///abs/path``, counting reads of status files (no ``read_many``: one per read)."""

    atomic = True
    conditional_delete = True

    def __init__(self) -> None:
        self._local = LocalStore()
        self._lock = threading.Lock()
        self.status_reads = 0

    def read(self, path: str) -> Any:
        if path.endswith("/.executor_status"):
            with self._lock:
                self.status_reads += 1
        return self._local.read(_local(path))

    def create(self, path: str, data: bytes) -> Any:
        return self._local.create(_local(path), data)

    def swap(self, path: str, data: bytes, expected: Any) -> Any:
        return self._local.swap(_local(path), data, expected)

    def delete_if(self, path: str, expected: Any) -> bool:
        return self._local.delete_if(_local(path), expected)

    def write(self, path: str, data: bytes) -> None:
        self._local.write(_local(path), data)

    def fenced(self, path: str, expected: Any) -> Any:
        return self._local.fenced(_local(path), expected)


def _local(path: str) -> str:
    return path.split("://", 1)[1]


def trivial(output_path: str) -> int:
    return 1


def chain(n: int, prefix: str) -> list[StepSpec]:
    specs: list[StepSpec] = []
    for i in range(n):
        specs.append(
            StepSpec(name=f"chain/s{i}", fn=trivial, deps=specs[-1:], hash_attrs={"i": i}, output_path_prefix=prefix)
        )
    return specs


def _states(report: Any) -> dict[str, int]:
    states: dict[str, int] = {}
    for outcome in report.outcomes.values():
        states[outcome.state] = states.get(outcome.state, 0) + 1
    return states


def measure(n: int, store: CountingStore, root: str) -> dict[str, Any]:
    """Fresh run, counted cached re-run, timed cached re-run (plain local paths) of an ``n``-step chain."""
    counted = chain(n, f"{PROTOCOL}://{root}/counted-{n}")
    start = time.perf_counter()
    fresh = StepRunner().run(counted)
    fresh_s = time.perf_counter() - start
    store.status_reads = 0
    cached = StepRunner().run(counted)
    reads = store.status_reads
    plain = chain(n, f"{root}/plain-{n}")
    StepRunner().run(plain)
    start = time.perf_counter()
    timed = StepRunner().run(plain)
    return {
        "size": n,
        "fresh_s": round(fresh_s, 3),
        "fresh_states": _states(fresh),
        "cached_status_reads": reads,
        "cached_states": _states(cached),
        "cached_rerun_ms": round((time.perf_counter() - start) * 1000, 2),
        "timed_states": _states(timed),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[20, 200, 10000])
    parser.add_argument("--deep", type=int, default=10000)
    args = parser.parse_args(argv)
    store = CountingStore()
    register_store(PROTOCOL, lambda: store)
    sys.setrecursionlimit(1000)  # the default: a recursive walk of a deep chain would fail here
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as root:
        for n in args.sizes:
            print(json.dumps(measure(n, store, root)), flush=True)
        if args.deep and args.deep not in args.sizes:
            print(json.dumps({"deep": True, **measure(args.deep, store, root)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
