"""Take the lease of the output path in argv[1], write RUNNING, print ``held`` and wait for stdin to close (or to
be killed): a worker holding a step, for the status / unlock tests. ``argv[2:]``, if given, are the lease timeout
and heartbeat interval the holder records (default 90 s, none)."""

from __future__ import annotations

import sys

from marin_exec.status.status import STATUS_RUNNING, Lease, StatusFile

if __name__ == "__main__":
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 90.0
    heartbeat = float(sys.argv[3]) if len(sys.argv) > 3 else None
    lease = Lease(sys.argv[1], timeout=timeout, step="models/x", heartbeat_interval=heartbeat)
    assert lease.try_acquire(), "the lease was not free"
    StatusFile(sys.argv[1]).write(STATUS_RUNNING)
    print("held", flush=True)
    sys.stdin.read()
