"""Per-step framework overhead of a trivial step against a bare function call; prints one JSON line.

    .venv/bin/python benchmarks/bench_overhead.py [--steps 500] [--prefix DIR] [--profile]

Measured in this process, each on its own fresh set of steps under ``--prefix`` (a temp dir by default):

- ``bare_call_us``: calling the step's function directly.
- ``commit_fresh_ms``: ``spec.executable_fn(output_path)`` called serially for steps that never ran — the whole
  ``disk_cached(distributed_lock(fn))`` protocol: status reads, lease, heartbeat thread, artifact, info, SUCCESS.
- ``commit_cached_ms``: the same call again (a hit: status read and artifact load).
- ``runner_chain_fresh_ms`` / ``runner_fanout_fresh_ms``: a fresh ``StepRunner`` run divided by its step count
  (a chain runs one step at a time; a fan-out keeps 8 worker threads busy).
- ``runner_cached_ms``: the all-cached re-run of that fan-out, per step.
- ``fs_floor_ms``: the file-system calls a fresh local step makes (one mkdir; five complete-temp-file writes put
  in place by link or rename; eight small reads; four directory flocks; two unlinks), made directly with no
  framework around them. The difference to ``commit_fresh_ms`` is marin_exec's own cost; the floor itself is
  the disk's (on a shared machine it swings with other users' I/O). Local prefixes only. These are the calls of
  the protocol before per-write fencing, kept so that floors compare across commits; a fresh step now also fences
  RUNNING (a fifth flock and lease read) and reads its status twice instead of four times.
- ``creations_floor_ms``: only creating what one fresh step must create (the output directory, then the lease,
  RUNNING, artifact, info and SUCCESS files, each written whole and renamed into place): no executor keeping those
  files can spend less per step on that file system.

``--progress`` measures with a run's progress display on (``executor_main``'s: the runner and the lock report to
it, a status line is drawn every 0.1 s to /dev/null). ``--profile`` prints the top of a cProfile of the serial
fresh calls to stderr. ``--floors-only`` measures the two floors alone, in a temporary directory under
``--prefix`` (bench_peer.py's side by side takes them on disk and on tmpfs). It writes only under the prefix.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import fcntl
import io
import json
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

from workloads import build_specs, roots, trivial


def _per_call(call: Callable[[], Any], repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        call()
    return (time.perf_counter() - start) / repeat


def _write_temp(path: str, data: bytes) -> str:
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    return tmp


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def _flock(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    finally:
        os.close(fd)


def fs_floor(root: str, steps: int) -> float:
    """Seconds per step for the file-system calls of one fresh local step, made directly (see the docstring)."""
    start = time.perf_counter()
    for i in range(steps):
        out = f"{root}/floor/s{i}"
        status, lock = f"{out}/.executor_status", f"{out}/.executor_status.lock"
        for _ in range(3):
            _read(status)  # runner, disk_cached, distributed_lock before acquiring
        os.makedirs(out)
        tmp = _write_temp(lock, b'{"worker_id": "w", "timestamp": 0}')
        os.link(tmp, lock)
        os.unlink(tmp)
        _read(status)  # after acquiring
        os.replace(_write_temp(status, b"RUNNING"), status)
        for name, data in ((".artifact.json", b"1"), (".executor_info", b"{}"), (".executor_status", b"SUCCESS")):
            _flock(out)
            _read(lock)
            os.replace(_write_temp(f"{out}/{name}", data), f"{out}/{name}")
        _flock(out)
        _read(lock)
        os.unlink(lock)
    return (time.perf_counter() - start) / steps


# What a fresh step creates, in order: the lease, RUNNING, the artifact, the info, SUCCESS (replacing RUNNING).
_CREATED = (".executor_status.lock", ".executor_status", ".artifact.json", ".executor_info", ".executor_status")


def creations_floor(root: str, steps: int) -> float:
    """Seconds per step to create the new directory and files one fresh local step must create, and nothing else:
    the output directory, then the lease, RUNNING, the artifact, the info and SUCCESS (DESIGN §5: each a complete
    file put in place whole; SUCCESS replaces RUNNING). Every other call of the protocol is left out: the least any
    executor keeping those files pays per step on this file system."""
    start = time.perf_counter()
    for i in range(steps):
        out = f"{root}/creations/s{i}"
        os.makedirs(out)
        for name in _CREATED:
            os.replace(_write_temp(f"{out}/{name}", b"1"), f"{out}/{name}")
    return (time.perf_counter() - start) / steps


def floors(prefix: str, steps: int) -> dict[str, float]:
    """``fs_floor_ms`` and ``creations_floor_ms`` under ``prefix`` (a local directory)."""
    return {"fs_floor_ms": fs_floor(prefix, steps) * 1e3, "creations_floor_ms": creations_floor(prefix, steps) * 1e3}


def _fresh_specs(prefix: str, shape: str, n: int) -> list[Any]:
    specs = build_specs(shape, n, prefix)
    for spec in specs:
        spec.output_path  # noqa: B018 - identities are not what is measured here
    return specs


def measure(steps: int, prefix: str, profile: bool) -> dict[str, Any]:
    from marin_exec import StepRunner

    result: dict[str, Any] = {"steps": steps}
    result["bare_call_us"] = _per_call(lambda: trivial(prefix), 100_000) * 1e6

    specs = _fresh_specs(f"{prefix}/direct", "fanout", steps)
    for spec in specs:
        spec.executable_fn  # noqa: B018 - built once per spec; the call is what is measured
    profiler = cProfile.Profile() if profile else None
    start = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    for spec in specs:
        spec.executable_fn(spec.output_path)
    if profiler is not None:
        profiler.disable()
    result["commit_fresh_ms"] = (time.perf_counter() - start) / steps * 1e3
    start = time.perf_counter()
    for spec in specs:
        spec.executable_fn(spec.output_path)
    result["commit_cached_ms"] = (time.perf_counter() - start) / steps * 1e3

    if "://" not in prefix:
        result.update(floors(prefix, steps))

    for shape in ("chain", "fanout"):
        specs = _fresh_specs(f"{prefix}/runner-{shape}", shape, steps)
        start = time.perf_counter()
        StepRunner().run(roots(shape, specs))
        result[f"runner_{shape}_fresh_ms"] = (time.perf_counter() - start) / steps * 1e3
    start = time.perf_counter()
    StepRunner().run(roots("fanout", specs))
    result["runner_cached_ms"] = (time.perf_counter() - start) / steps * 1e3

    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
        print(out.getvalue(), file=sys.stderr)
    return result


@contextlib.contextmanager
def _progress(on: bool) -> Iterator[None]:
    """With ``on``: a run's progress display (status lines to /dev/null every 0.1 s) receiving every event, as
    ``executor_main`` sets it up; the runner and the lock report to it."""
    if not on:
        yield
        return
    from marin_exec.progress import reporting_to
    from marin_exec.progress_display import Progress

    with open(os.devnull, "w") as sink, Progress(stream=sink, live=False, interval=0.1) as progress:
        with reporting_to(progress):
            yield


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--prefix", default=None)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--progress", action="store_true", help="measure with a run's progress display reporting")
    parser.add_argument("--floors-only", action="store_true", help="only the file-system floors (no marin_exec)")
    args = parser.parse_args(argv)
    where = args.prefix if args.floors_only else None  # the floors: on the file system asked about
    with tempfile.TemporaryDirectory(prefix="marin-bench-overhead-", dir=where) as tmp, _progress(args.progress):
        try:
            if args.floors_only:
                result = {"steps": args.steps, **floors(tmp, args.steps)}
            else:
                result = measure(args.steps, args.prefix or tmp, args.profile)
                result["progress"] = args.progress
        except Exception as e:  # reported as data, shown in run_all's table
            result = {"error": f"{type(e).__name__}: {e}"}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
