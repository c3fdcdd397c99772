"""Staleness by observation (DESIGN §5a): a waiter judges another holder by whether its lease bytes change on the
waiter's own clock; the written timestamp is only a fast path; a dead process on this machine is stale at once.

Holders on other machines are simulated by writing their lease records (another host name, a skewed clock); holders
on this machine are real processes, killed with SIGKILL. ``describe_lease`` is checked on records as they are read.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from marin_exec import STATUS_SUCCESS, Lease, StatusFile, StepAlreadyDone, distributed_lock, run_settings
from marin_exec.status.lease_record import (
    DEAD,
    FREE,
    LIVE,
    STALE,
    describe_lease,
    parse_record,
    this_boot,
    this_host,
    this_pid_namespace,
)
from tests.test_distributed_lock import WAIT, Calls, lease_holder, start, write_lease

TIMEOUT = 0.5


def _skewed_record(worker: str, skew: float) -> dict[str, Any]:
    """A record another machine's marin_exec writes, with its lease timeout ``TIMEOUT``, whose clock is ``skew``
    seconds off ours (negative: behind). (One without a timeout, as Marin's, is judged by at least 90 s.)"""
    record = {"worker_id": worker, "timestamp": time.time() + skew, "host": "other-host", "pid": 1, "boot_id": "b"}
    return {**record, "lease_timeout": TIMEOUT}


def _here(**fields: Any) -> dict[str, Any]:
    """A record as a process of this machine, in this PID namespace, writes it (fresh unless ``fields`` say)."""
    record = {"worker_id": "w", "timestamp": time.time(), "host": this_host(), "boot_id": this_boot()}
    return {**record, "pid_ns": this_pid_namespace(), "pid": os.getpid(), "lease_timeout": TIMEOUT, **fields}


def _write_record(output_path: str, record: dict[str, Any]) -> None:
    os.makedirs(output_path, exist_ok=True)
    tmp = Path(output_path, ".executor_status.lock.simulated")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, Path(output_path, ".executor_status.lock"))


# -- one read: describe_lease ---------------------------------------------------------------------------------------


def test_a_fresh_record_from_another_host_is_live_even_with_its_clock_a_minute_behind() -> None:
    view = describe_lease(_skewed_record("w", -60), timeout=TIMEOUT, clock_skew_allowance=300)
    assert (view.holder, view.host, view.state) == ("w", "other-host", LIVE)
    assert view.heartbeat_age is not None and view.heartbeat_age >= 60


def test_a_record_from_another_host_older_than_timeout_plus_allowance_is_stale() -> None:
    record = _skewed_record("w", 0)
    view = describe_lease(record, timeout=TIMEOUT, clock_skew_allowance=300, now=record["timestamp"] + 301)
    assert view.state == STALE


def test_a_record_of_this_machine_older_than_the_timeout_is_stale_without_allowance() -> None:
    record = _here(timestamp=time.time() - 1)
    assert describe_lease(record, timeout=TIMEOUT, clock_skew_allowance=300).state == STALE


def test_a_record_of_this_machine_whose_process_is_gone_is_dead() -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    record = _here()
    view = describe_lease({**record, "pid": int(gone.stdout)}, timeout=60, clock_skew_allowance=300)
    assert (view.pid, view.state) == (int(gone.stdout), DEAD)
    assert describe_lease({**record, "pid": os.getpid()}, timeout=60, clock_skew_allowance=300).state == LIVE


def test_a_record_from_before_a_reboot_is_not_judged_by_its_pid() -> None:
    record = _here(boot_id="another-boot", pid=1)
    assert describe_lease({**record, "pid": 2**22 + 1}, timeout=60, clock_skew_allowance=300).state == LIVE


def test_a_released_or_missing_record_is_free() -> None:
    assert describe_lease({"worker_id": None, "timestamp": 0}, timeout=1, clock_skew_allowance=1).state == FREE
    assert describe_lease(None, timeout=1, clock_skew_allowance=1).state == FREE


def test_the_written_record_names_host_pid_boot_step_and_start(tmp_path: Path) -> None:
    lease = Lease(str(tmp_path / "step"), timeout=60, step="train/model")
    before = time.time()
    assert lease.try_acquire()
    record = parse_record(Path(lease.path).read_bytes())
    assert record is not None and record["worker_id"] == lease.owner and record["timestamp"] >= before
    assert (record["host"], record["pid"], record["boot_id"]) == (this_host(), os.getpid(), this_boot())
    assert record["step"] == "train/model" and before <= record["started"] <= record["timestamp"]


# -- observation over time ----------------------------------------------------------------------------------------


def test_a_refreshing_holder_whose_clock_is_a_minute_behind_is_never_taken_over(tmp_path: Path) -> None:
    # Regression (issue 10, item 3): staleness compared the other host's timestamp with our clock, so a healthy holder
    # whose clock was behind was taken over at once and its step computed twice.
    out = str(tmp_path / "step")
    _write_record(out, _skewed_record("behind", -60))
    fn = Calls()
    waiter, outcome = start(distributed_lock(fn, lease_timeout=TIMEOUT, heartbeat_interval=0.1), out)
    refreshes = 0
    while refreshes < 4 / 0.02 * TIMEOUT and waiter.is_alive():  # four lease timeouts of beats every 20 ms
        time.sleep(0.02)  # the simulated holder's heartbeat interval
        _write_record(out, _skewed_record("behind", -60))
        refreshes += 1
    StatusFile(out).write(STATUS_SUCCESS)  # the holder commits and releases
    _write_record(out, {"worker_id": None, "timestamp": time.time() - 60})
    waiter.join(WAIT)
    assert fn.paths == []
    assert isinstance(outcome.get("error"), StepAlreadyDone), outcome


def test_a_dead_holder_whose_clock_was_a_minute_ahead_is_taken_over_one_timeout_after_first_seen(
    tmp_path: Path,
) -> None:
    # Regression (issue 10, item 3): a holder whose clock was ahead looked fresh for timeout + skew after it died.
    out = str(tmp_path / "step")
    _write_record(out, _skewed_record("ahead", +60))
    lease = Lease(out, timeout=TIMEOUT)
    first_seen = time.monotonic()
    while not lease.try_acquire():
        assert time.monotonic() - first_seen < WAIT, "the dead holder's lease was never taken over"
        time.sleep(0.01)
    assert time.monotonic() - first_seen >= TIMEOUT  # not before its bytes stood still for a whole timeout
    assert lease_holder(out) == lease.owner


def test_a_lease_whose_bytes_keep_changing_is_waited_for_past_the_timeout(tmp_path: Path) -> None:
    out = str(tmp_path / "step")
    write_lease(out, "beating", age=0.0)
    lease = Lease(out, timeout=TIMEOUT)
    started = time.monotonic()
    while time.monotonic() - started < 3 * TIMEOUT:
        assert not lease.try_acquire()
        write_lease(out, "beating", age=0.0)  # a refresh: new bytes
        time.sleep(0.02)


# -- a real holder on this machine ---------------------------------------------------------------------------------

_HOLDER = """
import sys, threading
from pathlib import Path
from marin_exec import Lease
from marin_exec.runtime.heartbeat import Heartbeat
lease = Lease(sys.argv[1], timeout=60)
assert lease.try_acquire()
Heartbeat(lease, 0.05).start()
Path(sys.argv[2]).write_text("holding")
threading.Event().wait()
"""


def _start_holder(tmp_path: Path, out: str) -> subprocess.Popen[bytes]:
    holding = tmp_path / "holding"
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, out, str(holding)])
    deadline = time.monotonic() + 60
    while not holding.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the holder process did not take the lease"
        time.sleep(0.01)
    return proc


@pytest.mark.timeout(120)
def test_a_sigkilled_holder_on_this_machine_is_taken_over_at_once(tmp_path: Path) -> None:
    # Regression (issue 10, item 2): the rerun waited the whole lease timeout (90 s by default) for a dead process.
    out = str(tmp_path / "step")
    holder = _start_holder(tmp_path, out)
    assert not Lease(out, timeout=60).try_acquire()  # alive: not taken
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    fn = Calls()
    thread, outcome = start(distributed_lock(fn, lease_timeout=60), out)
    thread.join(WAIT)
    assert outcome.get("result") == "computed", outcome
    assert fn.paths == [out]


@pytest.mark.timeout(120)
def test_a_sigkilled_holder_not_yet_reaped_is_taken_over_at_once(tmp_path: Path) -> None:
    out = str(tmp_path / "step")
    holder = _start_holder(tmp_path, out)
    try:
        holder.send_signal(signal.SIGKILL)
        while Path(f"/proc/{holder.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
            time.sleep(0.01)  # until the kernel made it a zombie
        assert Lease(out, timeout=60).try_acquire()
    finally:
        holder.wait()


def test_a_live_holder_is_not_mistaken_for_dead_while_it_beats(tmp_path: Path) -> None:
    out = str(tmp_path / "step")
    holder = _start_holder(tmp_path, out)
    try:
        lease = Lease(out, timeout=60)
        assert not any(lease.try_acquire() for _ in range(5))
    finally:
        holder.kill()
        holder.wait()


def test_the_clock_skew_allowance_of_the_run_settings_reaches_the_lock(tmp_path: Path) -> None:
    out = str(tmp_path / "step")
    _write_record(out, _skewed_record("long-gone", -100))  # older than timeout + allowance (61 s): stale at once
    fn = Calls()
    with run_settings(clock_skew_allowance=1.0):
        thread, outcome = start(distributed_lock(fn, lease_timeout=60.0), out)
    thread.join(WAIT)
    assert fn.paths == [out], outcome
