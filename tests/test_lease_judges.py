"""Who may judge a lease, and by which timeout (DESIGN §5a; issue 20, items 1 and 2).

A pid is only ours to look up when the holder ran in our PID namespace: a live holder in another namespace of the
same host (containers with host networking share host name and boot id) is watched, never judged "dead" by its pid.
And a lease records its holder's timeout and heartbeat: a waiter, ``status`` and ``unlock`` judge it by the larger of
theirs and the holder's, so a run with short leases never takes over a healthy run with long ones.

Runs are ``tests.interrupt_pipeline`` under ``executor_main`` in real processes (``hold`` blocks until the test
writes ``resume``; every call of a step is appended to ``executions``); the second PID namespace is real
(``unshare --pid --fork``, as root).
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import time
from typing import Any

import pytest

from marin_exec.run.inspect_steps import inspect_step
from marin_exec.run.unlock_steps import LiveLease, unlock
from marin_exec.status.lease_record import (
    DEAD,
    LIVE,
    MARIN_STALE_AFTER,
    STALE,
    describe_lease,
    parse_record,
    this_boot,
    this_host,
)
from marin_exec.status.status import LOCK_FILENAME, Lease, join
from tests import interrupt_pipeline
from tests.fault_workers import wait_for

REPO = pathlib.Path(__file__).resolve().parents[1]
HOLDER = pathlib.Path(__file__).parent / "cli_scripts" / "hold_lease.py"
EXIT = 60.0  # bound on a process that must end by itself; only reached when a test fails
WAITING, TAKING_OVER = "which holds the lease", "taking over the stale lease"


def _unshare_problem() -> str | None:
    """Why a second PID namespace cannot be made here (None: it can)."""
    if shutil.which("unshare") is None:
        return "the unshare command is not installed"
    try:
        made = subprocess.run(["unshare", "--pid", "--fork", "true"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"unshare could not run: {error}"
    if made.returncode != 0:
        return f"unshare --pid is not permitted here (needs root or user namespaces): {made.stderr.strip()}"
    return None


class Runs:
    """``tests.interrupt_pipeline`` runs on one prefix, sharing one signal directory."""

    def __init__(self, prefix: str, signals: pathlib.Path) -> None:
        self.prefix, self.signals = prefix, signals
        self.procs: list[subprocess.Popen[str]] = []
        signals.mkdir()
        self.hold = interrupt_pipeline.build(prefix)[0].output_path
        self.lock = pathlib.Path(join(self.hold, LOCK_FILENAME))

    def start(self, *flags: str, wrap: tuple[str, ...] = ()) -> subprocess.Popen[str]:
        command = [*wrap, sys.executable, "-m", "tests.interrupt_pipeline", "--prefix", self.prefix, *flags]
        env = {**os.environ, "INTERRUPT_SIGNALS": str(self.signals)}
        self.procs.append(subprocess.Popen(command, cwd=REPO, env=env, stderr=subprocess.PIPE, text=True))
        return self.procs[-1]

    def holding(self, proc: subprocess.Popen[str]) -> dict[str, Any]:
        """Once ``proc`` runs ``hold``: its lease record."""
        started = self.signals / "started-hold"
        wait_for(lambda: started.exists() or proc.poll() is not None, "hold to start")
        assert started.exists(), proc.communicate()[1]
        record = parse_record(self.lock.read_bytes())
        assert record is not None
        return record

    def executions(self) -> list[str]:
        return (self.signals / "executions").read_text().split()[::2]

    def finish(self, *procs: subprocess.Popen[str]) -> list[str]:
        """Let ``hold`` return; every run must then end with status 0. Returns their stderr."""
        (self.signals / "resume").touch()
        errors = [proc.communicate(timeout=EXIT)[1] for proc in procs]
        assert [proc.returncode for proc in procs] == [0] * len(procs), errors
        return errors


@pytest.fixture
def runs(prefix: str, tmp_path: pathlib.Path):
    """Runs on ``prefix``; any still running when the test ends (it failed) are let go, then killed."""
    made = Runs(prefix, tmp_path / "signals")
    yield made
    (made.signals / "resume").touch()
    for proc in made.procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def _read_until_waiting_or_taking_over(proc: subprocess.Popen[str]) -> str:
    """The waiter's stderr up to the line where it either waits for the holder or takes its lease over."""
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if WAITING in line or TAKING_OVER in line:
            return "".join(seen)
    raise AssertionError(f"the second run neither waited nor took over; stderr was:\n{''.join(seen)}")


# -- item 1: same host, another PID namespace --------------------------------------------------------------------

UNSHARE = _unshare_problem()


@pytest.mark.skipif(UNSHARE is not None, reason=f"no second PID namespace: {UNSHARE}")
def test_a_live_holder_in_another_pid_namespace_of_this_host_is_waited_for_and_the_step_runs_once(runs: Runs) -> None:
    # Regression (issue 20, item 1): a waiter in another PID namespace looked the holder's pid up in its own
    # namespace, found no such process, took the live lease over ("its process is gone") and ran the step twice.
    holder = runs.start()
    record = runs.holding(holder)
    waiter = runs.start(wrap=("unshare", "--pid", "--fork"))  # same host name and boot id, its own pids

    said = _read_until_waiting_or_taking_over(waiter)
    errors = runs.finish(holder, waiter)

    assert TAKING_OVER not in said + errors[1], said + errors[1]
    assert runs.executions() == ["hold", "after"]  # each step computed once, by the holder
    assert record["pid_ns"] == os.readlink("/proc/self/ns/pid") and record["pid"] == holder.pid


def test_a_record_from_another_pid_namespace_of_this_host_is_never_dead_by_its_pid() -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    record = {"worker_id": "w", "timestamp": time.time(), "host": this_host(), "boot_id": this_boot()}
    record["pid"] = int(gone.stdout)  # no such process here; in the holder's namespace it may well run
    for other in ("pid:[1]", None):  # another namespace, or an older writer that recorded none
        view = describe_lease({**record, "pid_ns": other}, timeout=60, clock_skew_allowance=300)
        assert view.state == LIVE, other
    here = {**record, "pid_ns": os.readlink("/proc/self/ns/pid")}
    assert describe_lease(here, timeout=60, clock_skew_allowance=300).state == DEAD


# -- item 2: each judge uses the larger of its own timeout and the holder's -------------------------------------


def _lease_changed_twice(lock: pathlib.Path, holder: str) -> bool:
    """Wait until the lease's bytes changed twice (a full heartbeat interval seen whole), or its holder changed."""
    seen = [lock.read_bytes()]

    def changed() -> bool:
        data = lock.read_bytes() if lock.exists() else b"{}"
        if _owner(data) != holder:
            return True
        if data != seen[-1]:
            seen.append(data)
        return len(seen) > 2

    wait_for(changed, "two heartbeats of the first run")
    return _owner(lock.read_bytes()) == holder


def _owner(data: bytes) -> str | None:
    return (parse_record(data) or {}).get("worker_id")


def test_a_run_with_short_leases_never_takes_over_a_healthy_run_with_long_ones(runs: Runs) -> None:
    # Regression (issue 20, item 2): run B (lease timeout 3 s) judged run A's lease (timeout 20 s, heartbeat every
    # 6 s) by its own timeout, found it 3 s old, took it over and ran the step a second time.
    a = runs.start("--lease_timeout", "20", "--heartbeat_interval", "6")
    record = runs.holding(a)
    b = runs.start("--lease_timeout", "3", "--heartbeat_interval", "1")

    said = _read_until_waiting_or_taking_over(b)
    assert TAKING_OVER not in said, said
    assert _lease_changed_twice(runs.lock, record["worker_id"])  # B watched A's lease for a whole 6 s interval
    # unlock (without --force) and status, with B's short timeout, while A's lease is older than that timeout
    wait_for(lambda: time.time() - json.loads(runs.lock.read_text())["timestamp"] > 3.5, "a lease older than 3 s")
    shown = inspect_step(runs.hold, lease_timeout=3, clock_skew_allowance=300).lease.state
    with pytest.raises(LiveLease, match="refusing to remove the live lease"):
        unlock(runs.hold, force=False, lease_timeout=3, clock_skew_allowance=300)
    errors = runs.finish(a, b)

    assert TAKING_OVER not in errors[1], errors[1]
    assert shown == LIVE
    assert runs.executions() == ["hold", "after"]  # each step computed once, by A
    assert (record["lease_timeout"], record["heartbeat_interval"]) == (20, 6)


@pytest.fixture
def long_lease_holder(prefix: str):
    """A real process holding a step's lease with a 600 s timeout and a 200 s heartbeat, last beaten 120 s ago."""
    out = f"{prefix}/models/x-abcdef"
    proc = subprocess.Popen(
        [sys.executable, str(HOLDER), out, "600", "200"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline() == "held\n"
    lock = pathlib.Path(join(out, LOCK_FILENAME))
    record = json.loads(lock.read_text())
    lock.write_text(json.dumps({**record, "timestamp": time.time() - 120}))  # within its own 200 s interval
    yield lock
    proc.kill()
    proc.wait()


def _marin_exec(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "marin_exec", *args], capture_output=True, text=True, cwd=REPO)


def test_unlock_and_status_with_default_settings_leave_a_long_timeout_holder_s_live_lease_alone(
    prefix: str, long_lease_holder: pathlib.Path
) -> None:
    # Regression (issue 20, item 2): unlock with the default 90 s removed the live lease of a run with longer leases.
    status = _marin_exec("status", prefix)
    refused = _marin_exec("unlock", prefix)

    assert "lease: live, held by " in status.stdout, status.stdout + status.stderr
    assert refused.returncode == 1 and "refusing to remove the live lease" in refused.stderr, refused.stderr
    assert long_lease_holder.exists()


def test_a_record_without_the_holder_s_timeout_is_judged_by_the_judge_s_own_when_longer_than_marin_s() -> None:
    # Marin's records (and older marin_exec's) carry only worker_id and timestamp; ours keep both fields for Marin.
    marin = {"worker_id": "marin-worker", "timestamp": time.time() - 100}
    assert describe_lease(marin, timeout=90, clock_skew_allowance=0).state == STALE
    assert describe_lease(marin, timeout=120, clock_skew_allowance=0).state == LIVE
    assert describe_lease({**marin, "lease_timeout": 120}, timeout=90, clock_skew_allowance=0).state == LIVE
    assert describe_lease({**marin, "lease_timeout": "soon"}, timeout=90, clock_skew_allowance=0).state == STALE


# -- review: a record without a recorded timeout (Marin's) is judged by at least Marin's 90 s --------------------


def _marin_holder(prefix: str, age: float) -> str:
    """A step whose lease a live Marin runner holds: its plain record, last refreshed ``age`` seconds ago (Marin
    refreshes every 30 s and calls a lease stale only after MARIN_STALE_AFTER)."""
    out = f"{prefix}/tok/data-abc123"
    os.makedirs(out)
    record = {"worker_id": "marin-host-4242-140", "timestamp": time.time() - age}
    pathlib.Path(join(out, LOCK_FILENAME)).write_text(json.dumps(record))
    return out


def test_a_live_marin_holder_is_live_to_status_and_unlock_with_a_shorter_lease_timeout(prefix: str) -> None:
    # Regression (review): a record without a recorded timeout was judged by ours alone, so with --lease_timeout 20
    # a Marin holder 30 s after its last refresh (healthy: Marin refreshes every 30 s) was stale.
    out = _marin_holder(prefix, age=30)

    shown = inspect_step(out, lease_timeout=20, clock_skew_allowance=0).lease.state
    with pytest.raises(LiveLease, match="refusing to remove the live lease"):
        unlock(out, force=False, lease_timeout=20, clock_skew_allowance=0)

    assert shown == LIVE
    assert pathlib.Path(join(out, LOCK_FILENAME)).exists()
    stale = {"worker_id": "marin-host-4242-140", "timestamp": time.time() - MARIN_STALE_AFTER - 5}
    assert describe_lease(stale, timeout=20, clock_skew_allowance=0).state == STALE  # as stale as Marin finds it


def test_a_waiter_with_a_short_lease_timeout_never_takes_over_a_live_marin_holder(prefix: str) -> None:
    # Regression (review): with --lease_timeout 20 --heartbeat_interval 6 a waiter took a live Marin holder's lease
    # over between two of its beats (at once when the record was older than 20 s; else after watching it 20 s).
    old = Lease(_marin_holder(prefix, age=30), timeout=1, clock_skew_allowance=0)
    assert not old.try_acquire()

    fresh = Lease(_marin_holder(f"{prefix}/b", age=0), timeout=1, clock_skew_allowance=0)
    assert not fresh.try_acquire()  # the first look: the bytes are new to it
    time.sleep(1.5)  # watched unchanged past the waiter's own timeout, far within Marin's 90 s
    assert not fresh.try_acquire()
