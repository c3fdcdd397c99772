"""The lease record (DESIGN §5, §5a): what a holder writes, and what one read of it says about the holder.

A record is JSON ``{"worker_id", "timestamp", "host", "pid", "boot_id", "step", "started"}``; Marin reads the first
two. ``describe_lease`` judges a record from a single read, without watching it over time: *dead* when it was
written on this machine (same host and boot) by a process that no longer exists, *stale* when its written age is
beyond the lease timeout (plus the clock-skew allowance when another machine wrote it, whose clock may differ),
*free* when released, else *live*. Waiters judge staleness by observation instead (``status.Lease``); this module
gives them the fast paths. It reads and writes no storage.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import time
from typing import Any

LIVE, STALE, DEAD, FREE = "live", "stale", "dead", "free"


@functools.cache
def this_host() -> str:
    import socket  # here, once: the socket module costs ~5 ms of ``import marin_exec``

    return socket.gethostname()


@functools.cache
def this_boot() -> str:
    """This machine's boot identity (Linux); empty where the kernel does not expose one."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


def make_record(owner: str, *, step: str, started: float) -> bytes:
    """A holder's record, refreshed with the current time (unique bytes per write: a time and a worker id)."""
    record = {
        "worker_id": owner,
        "timestamp": time.time(),
        "host": this_host(),
        "pid": os.getpid(),
        "boot_id": this_boot(),
        "step": step,
        "started": started,
    }
    return json.dumps(record).encode()


def parse_record(data: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(data)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


@dataclasses.dataclass(frozen=True)
class LeaseView:
    """One read of a lease, for display and fast decisions: who holds it, from where, how fresh, and its state."""

    holder: str | None
    host: str | None
    pid: int | None
    heartbeat_age: float | None  # seconds since the written timestamp, on this machine's clock
    state: str  # LIVE, STALE, DEAD or FREE


def describe_lease(
    record: dict[str, Any] | None, *, timeout: float, clock_skew_allowance: float, now: float | None = None
) -> LeaseView:
    """What one read of a lease record says (see the module docstring); ``now`` defaults to ``time.time()``."""
    if record is None or record.get("worker_id") is None:
        return LeaseView(None, None, None, None, FREE)
    now = time.time() if now is None else now
    try:
        age: float | None = now - float(record.get("timestamp", 0))
    except (TypeError, ValueError):
        age = None
    pid = record.get("pid") if isinstance(record.get("pid"), int) else None
    here = written_here(record)
    if here and pid is not None and not process_exists(pid):
        state = DEAD
    elif age is None or age > timeout + (0.0 if here else clock_skew_allowance):
        state = STALE
    else:
        state = LIVE
    return LeaseView(str(record["worker_id"]), record.get("host"), pid, age, state)


def written_here(record: dict[str, Any]) -> bool:
    """Whether the record was written on this machine since its last boot (so its pid and clock are ours)."""
    return record.get("host") == this_host() and bool(this_boot()) and record.get("boot_id") == this_boot()


def process_exists(pid: int) -> bool:
    """Whether process ``pid`` of this machine is alive (a zombie, killed but not yet reaped, is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, as another user's process
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


# Left by ``unlock --force`` beside a live lease it removed: whose lease, and who removed it (the holder's message).
UNLOCKED_FILENAME = ".executor_unlocked"


def unlocked_message(store: Any, output_path: str, owner: str) -> str | None:
    """What the holder ``owner`` is told when ``unlock --force`` removed its lease (None: no record says so)."""
    try:
        found = store.read(f"{output_path.rstrip('/')}/{UNLOCKED_FILENAME}")
        record = json.loads(found[0]) if found else None
    except Exception:  # only the detail of the message is missing
        return None
    if not isinstance(record, dict) or record.get("holder") != owner:
        return None
    return (
        f"{output_path}: the lease of {owner} was removed by {record.get('removed_by')} while the step ran; "
        "nothing was committed. Rerun to run the step again."
    )
