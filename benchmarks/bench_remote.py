"""Cost of remote(): a trivial call on Fray's LocalClient against a direct call, and Iris per-job latency.

Also the cost of ``resources=`` on a whole step: the same trivial StepSpec run through ``StepRunner.run``
with ``resources=ResourceConfig.with_cpu()`` on a LocalClient and without resources (in the runner's
thread), each run on a fresh output path, the two kinds interleaved. Target: remote costs < 5 ms more.

Run: ``.venv/bin/python benchmarks/bench_remote.py [--local-calls 200] [--steps 100] [--iris-jobs 10]``.
Starts an in-process Iris LocalCluster (HOME pointed at a temporary directory while it starts, client build
date stamped as today for Iris's freshness gate) and prints a table of medians. Writes only under a temp dir.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from marin_exec.compile.step_spec import StepSpec
from marin_exec.run.runner import StepRunner
from marin_exec.runtime.fray_job import build_job_request
from marin_exec.runtime.remote import remote
from marin_exec.settings import run_settings


def touch(path: str) -> None:
    Path(path).write_text("x")


def step_noop(output_path: str) -> None:
    """A step that does nothing: what remains is the runner, the wrapper stack and the commit."""


def _step_runs(client: object, prefix: str, n: int) -> tuple[list[float], list[float]]:
    """Seconds per ``StepRunner.run`` of one fresh step, with and without resources, interleaved."""
    from marin_exec import ResourceConfig

    runner = StepRunner(client=client)
    with_resources: list[float] = []
    without: list[float] = []
    for i in range(-5, n):  # the first five of each kind warm up imports and caches
        for resources, samples in ((ResourceConfig.with_cpu(disk="1g"), with_resources), (None, without)):
            kind = "remote" if resources is not None else "local"
            spec = StepSpec(
                name=f"bench/{kind}", fn=step_noop, hash_attrs={"i": i}, resources=resources, output_path_prefix=prefix
            )
            start = time.perf_counter()
            runner.run([spec])
            if i >= 0:
                samples.append(time.perf_counter() - start)
    return with_resources, without


def _timings(call: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        out.append(time.perf_counter() - start)
    return out


def _row(label: str, samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    return f"| {label:<38} | {len(ms):>4} | {ms[0]:>9.3f} | {statistics.median(ms):>9.3f} | {ms[-1]:>9.3f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--local-calls", type=int, default=200)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--iris-jobs", type=int, default=10)
    options = parser.parse_args()

    from fray.local_backend import LocalClient

    work = Path(tempfile.mkdtemp(prefix="bench_remote_"))
    target = str(work / "out.txt")
    remote_touch = remote(touch)
    rows = [_row("direct call", _timings(lambda: touch(target), options.local_calls))]
    rows.append(_row("build_job_request only", _timings(lambda: build_job_request(remote_touch, (target,)), 200)))
    local = LocalClient()
    with run_settings(fray_client=local):
        remote_touch(target)  # warm-up: imports, thread start
        rows.append(_row("remote call, LocalClient", _timings(lambda: remote_touch(target), options.local_calls)))
    remote_steps, local_steps = _step_runs(local, str(work / "steps"), options.steps)
    rows.append(_row("StepRunner.run, step in runner thread", local_steps))
    rows.append(_row("StepRunner.run, resources, LocalClient", remote_steps))
    extra_ms = (statistics.median(remote_steps) - statistics.median(local_steps)) * 1000
    paired_ms = statistics.median(r - lo for r, lo in zip(remote_steps, local_steps, strict=True)) * 1000
    local.shutdown()

    import iris.version
    from fray.iris_backend import FrayIrisClient
    from iris.client.client import LocalClientConfig
    from iris.client.local_client import make_local_client

    iris.version._CACHED = datetime.date.today().isoformat()
    home = os.environ.get("HOME")
    os.environ["HOME"] = tempfile.mkdtemp(prefix="bench_remote_home_")
    start = time.perf_counter()
    iris_client = make_local_client(LocalClientConfig(max_workers=1))
    cluster_start = time.perf_counter() - start
    if home is not None:
        os.environ["HOME"] = home
    try:
        with run_settings(fray_client=FrayIrisClient.from_iris_client(iris_client)):
            first = _timings(lambda: remote_touch(target), 1)
            rows.append(_row("remote call, Iris, first job", first))
            rows.append(
                _row("remote call, Iris, later jobs", _timings(lambda: remote_touch(target), options.iris_jobs))
            )
    finally:
        iris_client.shutdown()

    print(f"Iris LocalCluster start: {cluster_start * 1000:.0f} ms")
    print(f"| {'case':<38} | {'n':>4} | {'min ms':>9} | {'median ms':>9} | {'max ms':>9} |")
    print(f"|{'-' * 40}|{'-' * 6}|{'-' * 11}|{'-' * 11}|{'-' * 11}|")
    print("\n".join(rows))
    print(
        f"resources= on a LocalClient costs {extra_ms:+.3f} ms per step (median against median), "
        f"{paired_ms:+.3f} ms (median of interleaved pairs); target < 5 ms"
    )


if __name__ == "__main__":
    main()
