"""The lease record (DESIGN §5, §5a): what a holder writes, and what one read of it says about the holder.

On disk a record is JSON with exactly Marin's two keys, ``{"worker_id", "timestamp"}``: Marin's runner builds its
lease dataclass from every key of the file and fails on any other. The holder's facts (host, pid, PID namespace,
boot id, step, start, lease timeout, heartbeat interval) ride inside ``worker_id``, after the owner, as
``"<owner> marin_exec{...JSON...}"``; Marin only compares a worker id with its own and logs it. ``parse_record``
unpacks them, and reads the records of older marin_exec versions (the facts as keys of their own) and Marin's plain
ones (no facts) alike. A released lease reads as free here and, with timestamp 0, as stale to Marin, which may take
it over at once.

``describe_lease`` judges a record from a single read, without watching it over time: *dead* when it was written on
this machine (same host, boot and PID namespace) by a process that no longer exists, *stale* when its written age is
beyond the lease timeout (plus the clock-skew allowance when another machine wrote it, whose clock may differ),
*free* when released, else *live*. The timeout is the larger of the judge's own and the one the holder recorded
(``judged_timeout``): a holder is only ever judged by a timeout at least as long as the one its heartbeat was set
for, and one that recorded none (Marin's, an older marin_exec's) by at least Marin's ``MARIN_STALE_AFTER``. A
record without a PID namespace is never *dead* at once. Waiters judge staleness by observation instead
(``status.Lease``); this module gives them the fast paths. It reads and writes no storage.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import time
from typing import Any

logger = logging.getLogger(__name__)

LIVE, STALE, DEAD, FREE = "live", "stale", "dead", "free"

# Between the owner and the holder's facts inside ``worker_id``; no Marin worker id (host-thread, or a task attempt
# followed by one) contains it.
_FACTS = " marin_exec"
# Marin's runner (rigging.filesystem.distributed_lock, 0.2.227) calls a lease stale this many seconds after its
# timestamp and takes it over: a marin_exec holder whose heartbeat is this slow looks dead to Marin between beats.
MARIN_STALE_AFTER = 90.0


@functools.cache
def this_host() -> str:
    """The host name as ``socket.gethostname()`` gives it (the kernel's node name), without importing socket (~4 ms)."""
    return os.uname().nodename


@functools.cache
def this_boot() -> str:
    """This machine's boot identity (Linux); empty where the kernel does not expose one."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


@functools.cache
def this_pid_namespace() -> str:
    """This process's PID namespace (Linux: ``pid:[inode]``); empty where the kernel does not expose one.

    Two containers with host networking share the host name and boot id but not their PIDs: a pid is only ours to
    look up when the namespace is ours too. A process cannot move itself to another PID namespace, so one read lasts.
    """
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def make_record(owner: str, timing: tuple[float, float | None], *, step: str, started: float) -> bytes:
    """A holder's record, refreshed with the current time (unique bytes per write: a time and a worker id).

    ``timing`` is the holder's lease timeout and heartbeat interval (None: not known), recorded so that whoever judges
    the lease gives it at least the time its holder was set up for (``judged_timeout``)."""
    lease_timeout, heartbeat_interval = timing
    facts: dict[str, Any] = {
        "host": this_host(),
        "pid": os.getpid(),
        "pid_ns": this_pid_namespace(),
        "boot_id": this_boot(),
        "step": step,
        "started": started,
        "lease_timeout": lease_timeout,
    }
    if heartbeat_interval is not None:
        facts["heartbeat_interval"] = heartbeat_interval
    return _marin_record(f"{owner}{_FACTS}{json.dumps(facts)}", time.time())


def released_record(released_by: str) -> bytes:
    """The record a release or ``unlock`` swaps in before deleting the lease file (where a store cannot delete on a
    condition, it stays until then): free to marin_exec, stale to Marin (timestamp 0), and unique to its releaser."""
    facts = {"released_by": released_by, "released_at": time.time()}
    return _marin_record(f"released{_FACTS}{json.dumps(facts)}", 0.0)


def _marin_record(worker_id: str, timestamp: float) -> bytes:
    return json.dumps({"worker_id": worker_id, "timestamp": timestamp}).encode()


def warn_if_marin_would_take_over(heartbeat_interval: float | None) -> None:
    """Warn (once per process and interval) when a holder's heartbeat is too slow for Marin's runners, which would
    take its lease over between two beats and run the step a second time."""
    if heartbeat_interval is not None and heartbeat_interval >= MARIN_STALE_AFTER:
        _warn_marin_takes_over(heartbeat_interval)


@functools.cache
def _warn_marin_takes_over(heartbeat_interval: float) -> None:
    logger.warning(
        f"heartbeat_interval={heartbeat_interval:g} s: Marin's runners call a lease stale {MARIN_STALE_AFTER:g} s "
        "after its last refresh and take it over, so a Marin run of the same outputs would run their steps a second "
        f"time; use a heartbeat well under {MARIN_STALE_AFTER:g} s (default 30) where Marin may run them too"
    )


def judged_timeout(record: dict[str, Any], own: float) -> float:
    """The timeout to judge ``record`` by: the larger of the judge's own and the holder's recorded one.

    A record without one (Marin's plain ``{"worker_id", "timestamp"}``, or an older marin_exec's) may come from a
    Marin runner, which refreshes every 30 s and is only stale to Marin after ``MARIN_STALE_AFTER``: it is judged by
    at least that, or a shorter ``--lease_timeout`` would take a live Marin holder over between two of its beats."""
    theirs = record.get("lease_timeout")
    if not isinstance(theirs, (int, float)) or isinstance(theirs, bool) or theirs != theirs:  # NaN: not recorded
        return max(own, MARIN_STALE_AFTER)
    return max(own, float(theirs))


def parse_record(data: bytes) -> dict[str, Any] | None:
    """A lease file's record with the holder's facts as keys (``worker_id`` the owner, None once released); None
    when the bytes are no JSON object. Records of older marin_exec versions already have the facts as keys."""
    try:
        record = json.loads(data)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    holder = record.get("worker_id")
    unpacked = _unpack(holder) if isinstance(holder, str) else None
    if unpacked is None:
        return record
    owner, facts = unpacked
    return {**facts, **record, "worker_id": None if "released_by" in facts else owner}


def _unpack(worker_id: str) -> tuple[str, dict[str, Any]] | None:
    """``worker_id`` split into the owner and the facts after it (None: a plain worker id, e.g. Marin's).

    The first separator after which the rest is one JSON object is ours: an owner that contains the separator cannot
    end in a whole JSON object that swallows the facts written after it (their quotes end any string it opened)."""
    start = worker_id.find(_FACTS)
    while start >= 0:
        try:
            facts = json.loads(worker_id[start + len(_FACTS) :])
        except ValueError:
            facts = None
        if isinstance(facts, dict):
            return worker_id[:start], facts
        start = worker_id.find(_FACTS, start + 1)
    return None


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
    elif age is None or age > judged_timeout(record, timeout) + (0.0 if here else clock_skew_allowance):
        state = STALE
    else:
        state = LIVE
    return LeaseView(str(record["worker_id"]), record.get("host"), pid, age, state)


def written_here(record: dict[str, Any]) -> bool:
    """Whether the record was written on this machine since its last boot, in our PID namespace (so its pid and
    clock are ours). A record without a namespace (an older writer's) could come from another container: not ours."""
    return (
        record.get("host") == this_host()
        and bool(this_boot())
        and record.get("boot_id") == this_boot()
        and bool(this_pid_namespace())
        and record.get("pid_ns") == this_pid_namespace()
    )


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


def lost_lease_message(store: Any, found: bytes | None, output_path: str, owner: str, timeout: float) -> str:
    """What a worker whose lease was taken from it is told: by whom, when the lease record or unlock record says."""
    holder = parse_record(found) if found else None
    who = holder.get("worker_id") if holder else None
    if who is None and (unlocked := unlocked_message(store, output_path, owner)):
        return unlocked
    if who is None:  # released (release_all on SIGTERM / Ctrl-C), or taken over by a worker that finished since
        return (
            f"{output_path}: lease of {owner} is no longer ours and nobody holds it now: it was released "
            "while the step ran (this process is being interrupted), or another worker took it over after this "
            f"one stalled past the lease timeout ({timeout} s) and has finished since; nothing was committed. "
            "Rerun to pick up the other worker's result or to run the step again."
        )
    return (
        f"{output_path}: lease lost by {owner}; the lease is now held by {who}. "
        f"This worker stalled past the lease timeout ({timeout} s) and another worker took the step over; "
        "nothing was committed. Rerun to pick up the other worker's result, or raise --lease_timeout if steps "
        "stall for long (e.g. long GC pauses or suspended VMs)."
    )
