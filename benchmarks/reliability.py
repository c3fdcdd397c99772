"""Reliability benchmark: races, crashes and stalls of real worker processes on local disk, gs:// and s3://.

Runs, on each backend: the big race (by default 8 processes x 100 steps of chains and diamonds, all started at once),
a crash (SIGKILL of a worker holding a lease mid-step, then a successor; again with a 60 s lease, which a successor on
the same host must not wait for), a store error once while releasing a lease or right after acquiring one (nothing
lost, no lease leaked), a stall (SIGSTOP of a holder until another worker took over and finished, then SIGCONT), a
stall right after acquiring the lease, before RUNNING is written, (local disk only) a stall right before saving the
artifact, and, from ``reliability_interrupts.py``, a save longer than the lease timeout, holders with skewed clocks,
and Ctrl-C twice / SIGTERM on a real ``executor_main`` process, and, from ``reliability_holders.py``, a live holder
seen from another PID namespace, runs with different lease settings, unsafe settings refused and a forked child
terminated inside a step (issue 20).
It counts every execution of every step function and checks what was committed, then prints a markdown table:
processes, steps, lease timeout, executions counted (and expected), takeovers, wall time, and for races how long
waiters took to return after the holder's commit.

gs:// runs against fake-gcs-server (memory backend) and s3:// against moto, both on loopback; their latencies say
nothing about real GCS or S3. Usage::

    .venv/bin/python benchmarks/reliability.py [--processes 8] [--steps 100] [--backends local,gs,s3] [--only SIGTERM]

It does not assert anything or change any file outside a temporary directory; the exit status is 1 if a check failed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

# Races should see no takeover at all, so their lease outlasts the worst request latency (moto, flooded by the
# polling of 8 processes, answers in seconds); faults are taken over sub-second.
RACE_HEARTBEAT = 0.2
RACE_LEASE = {"local": 2.0, "gs": 2.0, "s3": 10.0}
FAULT_LEASE = (0.1, 0.5)
FAULT_STEPS = 20


@dataclasses.dataclass
class Row:
    scenario: str
    backend: str
    processes: int
    steps: int
    lease: float
    executions: int
    expected: int
    takeovers: int
    seconds: float
    waits: str = ""
    ok: bool = True
    problems: list[str] = dataclasses.field(default_factory=list)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--backends", default="local,gs,s3")
    parser.add_argument("--only", default="", help="comma-separated words: run only the scenarios naming one")
    args = parser.parse_args()
    wanted = [word for word in args.only.split(",") if word]

    sys.path.insert(0, str(REPO))  # workers and servers live in the tests package
    os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")  # before anything imports gcsfs

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="marin-reliability-") as scratch:
        for backend in args.backends.split(","):
            with _backend_root(backend, Path(scratch)) as make_root:
                scenarios = ["race", "crash", "crash, 60 s lease", "stall", "stall before RUNNING"]
                scenarios += ["store error during release", "store error after acquire"]
                if backend == "local":  # object stores check the lease on entry only: a stall there is a known window
                    scenarios.append("stall before save")
                scenarios += ["slow save", "skewed clocks", "Ctrl-C twice", "SIGTERM"]  # reliability_interrupts.py
                scenarios += ["holder in another PID namespace", "long leases (20 s/6 s) vs short (3 s/1 s)"]
                if backend == "local":  # reliability_holders.py: these two do not depend on the store
                    scenarios += ["unsafe settings refused", "forked child terminated"]
                for scenario in scenarios:
                    if wanted and not any(word in scenario for word in wanted):
                        continue
                    work = Path(scratch, f"{backend}-{scenario.replace(' ', '-')}")
                    for row in _run_any(scenario, backend, make_root(), work, args.processes, args.steps):
                        print(_format_row(row), file=sys.stderr, flush=True)
                        rows.append(row)
    print(_table(rows))
    for row in rows:
        for problem in row.problems:
            print(f"FAILED {row.scenario} on {row.backend}: {problem}")
    return 0 if all(row.ok for row in rows) else 1


@contextmanager
def _backend_root(backend: str, scratch: Path) -> Iterator[Callable[[], str]]:
    """A function making a fresh root on ``backend`` (a server runs meanwhile, and the environment points at it)."""
    from tests.conftest_stores import GcsServer, MotoServer

    if backend == "local":
        yield lambda: str(Path(tempfile.mkdtemp(dir=scratch, prefix="prefix-")))
        return
    server: Any = GcsServer() if backend == "gs" else MotoServer()
    server.start()
    if backend == "gs":
        os.environ["STORAGE_EMULATOR_HOST"] = server.url
    else:
        os.environ.update(
            AWS_ENDPOINT_URL_S3=server.url,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        )
    try:
        yield lambda: f"{backend}://{server.make_bucket()}"
    finally:
        server.stop()


def _run_any(scenario: str, backend: str, root: str, work: Path, processes: int, steps: int) -> list[Row]:
    from benchmarks import reliability_holders as holders
    from benchmarks import reliability_interrupts as extra

    if scenario.startswith(("holder in another", "long leases")):
        return [holders.two_holders_row(Row, scenario, backend, root, work)]
    if scenario == "unsafe settings refused":
        return [holders.unsafe_settings_row(Row, backend, root, work)]
    if scenario == "forked child terminated":
        return [holders.forked_child_row(Row, backend, root, work)]
    if scenario in ("Ctrl-C twice", "SIGTERM"):
        return [extra.interrupt_row(Row, scenario, backend, root, work)]
    if scenario == "slow save":
        return [extra.slow_save_row(Row, backend, root, work)]
    if scenario == "skewed clocks":
        return extra.skew_rows(Row, backend, root)
    return [_run(scenario, backend, root, work, processes, steps)]


def _run(scenario: str, backend: str, root: str, work: Path, processes: int, steps: int) -> Row:
    from tests import fault_workers as fw

    records, signals = work / "records", work / "signals"
    records.mkdir(parents=True)
    signals.mkdir()
    spec = fw.WorkerSpec(root=root, record_dir=str(records), signal_dir=str(signals), seed=uuid.uuid4().hex)

    if scenario == "race":
        spec = dataclasses.replace(
            spec, steps=steps, heartbeat_interval=RACE_HEARTBEAT, lease_timeout=RACE_LEASE.get(backend, 2.0)
        )
        race = fw.run_race(spec, processes, work)
        row = Row(
            scenario,
            backend,
            processes,
            steps,
            spec.lease_timeout,
            _count(race.executions),
            steps,
            race.takeovers,
            race.seconds,
        )
        row.waits = race.wait_summary()
        for result in race.results:
            _expect(row, result.returncode == 0, f"worker {result.pid} exited {result.returncode}: {result.report}")
        _expect_once_each(row, race.executions, steps, {})
    else:
        spec = dataclasses.replace(
            spec, steps=FAULT_STEPS, heartbeat_interval=FAULT_LEASE[0], lease_timeout=FAULT_LEASE[1]
        )
        if scenario.startswith("store error"):
            return _store_error(scenario, backend, spec, work)
        if scenario == "crash, 60 s lease":  # same host: the dead holder is seen gone, no timeout is waited
            spec = dataclasses.replace(spec, lease_timeout=60.0)
        if scenario.startswith("crash"):
            outcome = fw.run_crash(spec, work)
        else:
            where = {"stall": "step", "stall before RUNNING": "running", "stall before save": "save"}[scenario]
            outcome = fw.run_stall(spec, work, between=lambda: _victim_files(spec), where=where)
        first, second = outcome.first, outcome.second
        if scenario == "stall before RUNNING" or scenario == "stall before save" and first.returncode == 0:
            attempts = [first.pid if first.returncode == 0 else second.pid]
        else:
            attempts = [first.pid, second.pid]
        row = Row(
            scenario,
            backend,
            2,
            FAULT_STEPS,
            spec.lease_timeout,
            _count(outcome.executions),
            FAULT_STEPS + len(attempts) - 1,
            len(first.takeovers) + len(second.takeovers),
            outcome.seconds,
        )
        _expect(row, second.returncode == 0, f"the successor exited {second.returncode}: {second.report}")
        _expect(row, second.takeovers == [fw.VICTIM], f"the successor took over {second.takeovers}")
        if scenario.startswith("crash"):
            _expect(row, first.returncode == -9, f"the killed worker exited {first.returncode}")
        elif scenario == "stall before save":
            # Whoever's SUCCESS stands must also have written the artifact (it carries the writer's pid).
            _expect(row, first.returncode in (0, fw.EXIT_LEASE_LOST), f"the stalled worker ended with {first.report}")
            artifact = _artifact(spec, fw.VICTIM)
            _expect(row, artifact.get("pid") == attempts[-1], f"SUCCESS is {attempts[-1]}'s, artifact {artifact}")
        else:
            _expect(row, first.returncode == fw.EXIT_LEASE_LOST, f"the stalled worker ended with {first.report}")
            _expect(row, _victim_files(spec) == outcome.between, "the stalled worker changed the committed files")
        _expect_once_each(row, outcome.executions, FAULT_STEPS, {fw.VICTIM: attempts})
    _expect_committed(row, spec)
    return row


def _store_error(scenario: str, backend: str, spec: Any, work: Path) -> Row:
    """One worker whose store fails once at the victim (releasing its lease, or reading its status right after
    acquiring), then, for the latter, a second worker that must find the lease free (no takeover, no wait)."""
    from tests import fault_workers as fw

    where = scenario.removeprefix("store error ").removeprefix("during ")
    first = fw.Worker(dataclasses.replace(spec, store_error_at=fw.VICTIM, store_error_in=where), work, "faulty")
    started = time.monotonic()
    try:
        faulty = first.finish()
    finally:
        first.kill()
    results = [faulty]
    if where == "after acquire":
        second = fw.Worker(spec, work, "rerun")
        try:
            results.append(second.finish())
        finally:
            second.kill()
    seconds = time.monotonic() - started
    executions = fw.read_executions(spec.record_dir)
    takeovers = sum(len(r.takeovers) for r in results)
    row = Row(
        scenario,
        backend,
        len(results),
        FAULT_STEPS,
        spec.lease_timeout,
        _count(executions),
        FAULT_STEPS,
        takeovers,
        seconds,
    )
    if where == "release":  # a committed step stays committed: the run succeeds
        _expect(row, faulty.returncode == 0, f"the worker exited {faulty.returncode}: {faulty.report}")
    else:  # the step fails with the store's error; the rerun finds the lease released
        _expect(row, faulty.returncode == fw.EXIT_FAILED, f"the faulty worker ended with {faulty.report}")
        _expect(row, results[-1].returncode == 0, f"the rerun exited {results[-1].returncode}: {results[-1].report}")
    _expect(row, takeovers == 0, f"{takeovers} takeover(s): a lease was leaked")
    _expect_once_each(row, executions, FAULT_STEPS, {})
    _expect_committed(row, spec)
    return row


def _count(executions: dict[str, list[int]]) -> int:
    return sum(len(pids) for pids in executions.values())


def _expect(row: Row, condition: bool, problem: str) -> None:
    if not condition:
        row.ok = False
        row.problems.append(problem)


def _expect_once_each(row: Row, executions: dict[str, list[int]], steps: int, exceptions: dict[str, list[int]]) -> None:
    from tests.fault_workers import expected_values

    for key in expected_values(steps):
        pids = executions.get(key, [])
        wanted = exceptions.get(key)
        _expect(row, pids == wanted if wanted is not None else len(pids) == 1, f"{key} executed by {pids}")


def _expect_committed(row: Row, spec: Any) -> None:
    """Every step SUCCESS with the right artifact value."""
    from marin_exec import Artifact, StatusFile
    from tests.fault_workers import build_dag, expected_values

    values = expected_values(spec.steps)
    for key, step in build_dag(spec).items():
        found = (StatusFile(step.output_path).read(), (Artifact.load(step.output_path) or {}).get("value"))
        _expect(row, found == ("SUCCESS", values[key]), f"{key} committed as {found}")


def _artifact(spec: Any, key: str) -> dict[str, Any]:
    from marin_exec import Artifact
    from tests.fault_workers import build_dag

    return Artifact.load(build_dag(spec)[key].output_path) or {}


def _victim_files(spec: Any) -> dict[str, bytes | None]:
    from marin_exec.storage.store import store_for
    from tests.fault_workers import VICTIM, build_dag

    output = build_dag(spec)[VICTIM].output_path.rstrip("/")
    files = {}
    for name in (".executor_status", ".artifact.json", ".executor_info", "data.json"):
        found = store_for(f"{output}/{name}").read(f"{output}/{name}")
        files[name] = None if found is None else found[0]
    return files


_COLUMNS = (
    "scenario",
    "backend",
    "processes",
    "steps",
    "lease s",
    "executions (expected)",
    "takeovers",
    "wall s",
    "waiter return after commit",
    "result",
)


def _cells(row: Row) -> list[str]:
    return [
        row.scenario,
        row.backend,
        str(row.processes),
        str(row.steps),
        f"{row.lease:g}" if row.lease else "-",  # no lease: a scenario that runs nothing
        f"{row.executions} ({row.expected})",
        str(row.takeovers),
        f"{row.seconds:.2f}",
        row.waits or "-",
        "ok" if row.ok else "FAILED",
    ]


def _format_row(row: Row) -> str:
    return json.dumps(dict(zip(_COLUMNS, _cells(row), strict=True)))


def _table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(_COLUMNS) + " |", "|" + "|".join("---" for _ in _COLUMNS) + "|"]
    lines += ["| " + " | ".join(_cells(row)) + " |" for row in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    started = time.monotonic()
    code = main()
    print(f"\n(total {time.monotonic() - started:.0f} s)")
    sys.exit(code)
