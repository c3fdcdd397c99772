"""Take the lease of the output path in argv[1], write RUNNING, print ``held`` and wait for stdin to close (or to
be killed): a worker holding a step, for the status / unlock tests."""

from __future__ import annotations

import sys

from marin_exec.status.status import STATUS_RUNNING, Lease, StatusFile

if __name__ == "__main__":
    lease = Lease(sys.argv[1], timeout=90.0, step="models/x")
    assert lease.try_acquire(), "the lease was not free"
    StatusFile(sys.argv[1]).write(STATUS_RUNNING)
    print("held", flush=True)
    sys.stdin.read()
