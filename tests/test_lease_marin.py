"""The lease file stays Marin's (DESIGN §5): Marin 0.2.227's runner reads it with ``Lease(**json.loads(data))``, a
dataclass of exactly ``worker_id`` and ``timestamp``, so any other key crashed it on a step marin_exec held or had
released. Our records carry the holder's facts inside ``worker_id``; a released one reads to Marin as stale.

The CI tests check the bytes against what Marin's reader requires; the slow test runs Marin's own lock code (a
Python 3.12 venv with marin-core 0.2.227: /work/peer-227, or MARIN_PEER_PYTHON) on leases marin_exec holds and
released.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from marin_exec import Lease
from marin_exec.status.lease_record import (
    DEAD,
    FREE,
    LIVE,
    MARIN_STALE_AFTER,
    describe_lease,
    make_record,
    parse_record,
    released_record,
    this_boot,
    this_host,
    this_pid_namespace,
)
from marin_exec.storage.store import store_for


@dataclasses.dataclass
class MarinLease:
    """Marin 0.2.227's lease (rigging.filesystem.distributed_lock.Lease): what it builds from every key of the file."""

    worker_id: str
    timestamp: float

    def is_stale(self) -> bool:
        return time.time() - self.timestamp > MARIN_STALE_AFTER


def _as_marin_reads_it(data: bytes) -> MarinLease:
    raw = json.loads(data)
    assert set(raw) == {"worker_id", "timestamp"}, raw  # Lease(**raw) raises TypeError on any other key
    assert isinstance(raw["worker_id"], str) and type(raw["timestamp"]) is float, raw
    return MarinLease(**raw)


def test_a_held_lease_reads_as_marin_s_two_fields_and_as_a_fresh_holder(tmp_path: Path) -> None:
    # Regression: the record carried host, pid, pid_ns, boot_id, step, started, lease_timeout and heartbeat_interval
    # as keys of their own; Marin's runner raised "Lease.__init__() got an unexpected keyword argument 'host'".
    lease = Lease(str(tmp_path / "step"), timeout=60, step="train/model", heartbeat_interval=20)
    assert lease.try_acquire()
    marin = _as_marin_reads_it(Path(lease.path).read_bytes())
    assert not marin.is_stale() and marin.worker_id.startswith(lease.owner)
    lease.refresh()
    assert _as_marin_reads_it(Path(lease.path).read_bytes()).worker_id == marin.worker_id  # one holder to Marin


def test_the_holder_s_facts_come_back_from_inside_the_worker_id(tmp_path: Path) -> None:
    lease = Lease(str(tmp_path / "step"), timeout=60, step="train/model", heartbeat_interval=20)
    before = time.time()
    assert lease.try_acquire()
    record = parse_record(Path(lease.path).read_bytes())
    assert record is not None
    assert (record["worker_id"], record["step"], record["lease_timeout"], record["heartbeat_interval"]) == (
        lease.owner,
        "train/model",
        60,
        20,
    )
    assert (record["host"], record["pid"], record["boot_id"]) == (this_host(), os.getpid(), this_boot())
    assert record["pid_ns"] == this_pid_namespace() and before <= record["started"] <= record["timestamp"]
    assert describe_lease(record, timeout=1, clock_skew_allowance=0).state == LIVE  # judged by its own 60 s


@pytest.mark.parametrize("owner", ["a marin_exec{} b", 'x marin_exec{"host": "', "ünïcode marin_exec"])
def test_an_owner_that_contains_the_separator_still_parses_back_whole(owner: str) -> None:
    record = parse_record(make_record(owner, (60, None), step='step "quoted" marin_exec{}', started=1.0))
    assert record is not None and (record["worker_id"], record["step"]) == (owner, 'step "quoted" marin_exec{}')


def test_a_released_record_is_free_to_marin_exec_and_stale_to_marin() -> None:
    data = released_record("host-1-2-ab")
    assert _as_marin_reads_it(data).is_stale()  # Marin's try_acquire takes it over at once
    record = parse_record(data)
    assert record is not None and record["worker_id"] is None and record["released_by"] == "host-1-2-ab"
    assert describe_lease(record, timeout=60, clock_skew_allowance=300).state == FREE
    assert released_record("host-1-2-ab") != released_record("host-1-2-cd")  # unique bytes per releaser


def test_records_of_older_marin_exec_versions_and_of_marin_still_read() -> None:
    older = {"worker_id": "w", "timestamp": time.time(), "host": this_host(), "boot_id": this_boot(), "pid": 2**22 + 1}
    older["pid_ns"] = this_pid_namespace()  # no such pid here: written by a process that is gone
    assert describe_lease(parse_record(json.dumps(older).encode()), timeout=60, clock_skew_allowance=300).state == DEAD
    older_released = {"worker_id": None, "released_by": "w", "timestamp": time.time()}
    view = describe_lease(parse_record(json.dumps(older_released).encode()), timeout=60, clock_skew_allowance=300)
    assert view.state == FREE
    marin = {"worker_id": "vm-12 marin_exec (not ours)", "timestamp": time.time()}
    view = describe_lease(parse_record(json.dumps(marin).encode()), timeout=60, clock_skew_allowance=300)
    assert (view.holder, view.host, view.state) == (marin["worker_id"], None, LIVE)


def test_a_heartbeat_marin_would_outwait_is_warned_about_once(tmp_path: Path, caplog: Any) -> None:
    with caplog.at_level(logging.WARNING, logger="marin_exec.status.lease_record"):
        Lease(str(tmp_path / "a"), timeout=400, heartbeat_interval=30)
        assert not caplog.records
        Lease(str(tmp_path / "b"), timeout=400, heartbeat_interval=MARIN_STALE_AFTER + 0.5)
        Lease(str(tmp_path / "c"), timeout=400, heartbeat_interval=MARIN_STALE_AFTER + 0.5)
    [warning] = [r.getMessage() for r in caplog.records]
    assert "heartbeat_interval=90.5 s: Marin's runners call a lease stale 90 s after its last refresh" in warning


# -- Marin 0.2.227's own code ---------------------------------------------------------------------------------------

MARIN_PYTHON = Path(os.environ.get("MARIN_PEER_PYTHON", "/work/peer-227/bin/python"))

_MARIN_LOOKS = """
import json, sys
from marin.execution.step_status import StatusFile
from rigging.filesystem.distributed_lock import create_lock

out = sys.argv[1]
holder = StatusFile(out, "marin-peer").active_lock_holder()
acquired = create_lock(out + "/.executor_status.lock", worker_id="marin-peer").try_acquire()
print(json.dumps({"holder": holder, "acquired": acquired}))
"""


def _marin_looks_at(out: str) -> dict[str, Any]:
    """What Marin's runner code sees at ``out``: the active holder (its status check) and whether it acquires."""
    done = subprocess.run([str(MARIN_PYTHON), "-c", _MARIN_LOOKS, out], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.slow(reason="starts marin-core 0.2.227 in a Python 3.12 venv: several seconds of imports per call")
@pytest.mark.skipif(
    not MARIN_PYTHON.exists(), reason=f"needs marin-core 0.2.227's venv at {MARIN_PYTHON} (or set MARIN_PEER_PYTHON)"
)
def test_marin_s_runner_waits_on_a_lease_marin_exec_holds_and_takes_one_it_released(tmp_path: Path) -> None:
    held, left, deleted = (str(tmp_path / name) for name in ("held", "left", "deleted"))
    lease = Lease(held, timeout=60, heartbeat_interval=20)
    assert lease.try_acquire()
    seen = _marin_looks_at(held)
    assert seen["acquired"] is False and seen["holder"].startswith(lease.owner), seen
    lease.refresh()  # still ours: Marin wrote nothing

    # Released where the store cannot delete on a condition: the released record stays until the delete.
    other = Lease(left, timeout=60)
    assert other.try_acquire()
    store = store_for(other.path)
    found = store.read(other.path)
    assert found is not None
    store.swap(other.path, released_record(other.owner), found[1])
    assert _marin_looks_at(left) == {"holder": None, "acquired": True}
    record = parse_record(Path(other.path).read_bytes())  # and Marin's own record reads to us as a live holder
    assert record is not None and describe_lease(record, timeout=60, clock_skew_allowance=300).state == LIVE
    assert record["worker_id"] == "marin-peer" and not Lease(left, timeout=60).try_acquire()

    released = Lease(deleted, timeout=60)
    assert released.try_acquire()
    released.release()
    assert _marin_looks_at(deleted) == {"holder": None, "acquired": True}
