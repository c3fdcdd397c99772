"""``python -m marin_exec unlock PATH``: remove the lease of each step at PATH whose holder is gone (its process no
longer runs on this host) or whose lease is stale; a live lease is refused unless ``--force``.

The lease is removed by a compare-and-swap on the bytes judged (a "released" record, then a conditional delete),
so a holder that refreshed it in between keeps it. It touches only lease files: a RUNNING status without a live
lease already reads as interrupted and reruns, so no status is rewritten.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from marin_exec.errors import MarinExecError, StorageConflict
from marin_exec.run.inspect_steps import STATE_TEXT, describe, find_steps, inspect_step, lease_options
from marin_exec.status.lease_record import (
    FREE,
    LIVE,
    UNLOCKED_FILENAME,
    describe_lease,
    parse_record,
    released_record,
)
from marin_exec.status.status import LOCK_FILENAME, join, worker_id
from marin_exec.storage.store import store_for


def unlock(output_path: str, *, force: bool, lease_timeout: float, clock_skew_allowance: float) -> str | None:
    """Remove the step's lease if it may be removed: what was removed, in one line (None: no lease was held);
    ``LiveLease`` for a live lease without ``force``."""
    path = join(output_path, LOCK_FILENAME)
    store = store_for(path)
    found = store.read(path)
    view = describe_lease(
        None if found is None else parse_record(found[0]),
        timeout=lease_timeout,
        clock_skew_allowance=clock_skew_allowance,
    )
    if found is None or view.state == FREE:
        return None
    if view.state == LIVE and not force:
        raise LiveLease(
            f"{output_path}: refusing to remove the live lease of {view.holder} on {view.host} (heartbeat "
            f"{view.heartbeat_age or 0:.0f}s ago); it is still running. Wait for it, or stop that worker first; "
            "--force removes it anyway (the holder then loses its lease and commits nothing)"
        )
    if view.state == LIVE:  # the holder is told who removed its lease (Lease._lost_message reads this record)
        removal = {"holder": view.holder, "removed_by": f"unlock --force ({worker_id()})", "timestamp": time.time()}
        store.write(join(output_path, UNLOCKED_FILENAME), json.dumps(removal).encode())
    try:
        token = store.swap(path, released_record(f"unlock {worker_id()}"), found[1])
    except StorageConflict as conflict:
        message = f"{output_path}: the lease changed while unlocking (its holder refreshed it); run status again"
        raise LiveLease(message) from conflict
    store.delete_if(path, token)
    return f"{output_path}: removed the {STATE_TEXT[view.state]} lease of {view.holder}"


class LiveLease(MarinExecError):
    """A lease that ``unlock`` may not remove (a command-line refusal, printed as one line)."""


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m marin_exec unlock",
        description="Remove stale leases and leases whose process is gone; a live lease only with --force.",
    )
    lease_options(parser)
    parser.add_argument("--force", action="store_true", help="also remove live leases (their holders lose them)")
    args = parser.parse_args(argv)
    paths = find_steps(args.path)
    if not paths:
        print(f"no step found at {args.path}", file=sys.stderr)
        return 1
    refused = removed = 0
    timing = dict(lease_timeout=args.lease_timeout, clock_skew_allowance=args.clock_skew_allowance)
    for path in paths:
        try:
            done = unlock(path, force=args.force, **timing)
            if done is not None:
                removed += 1
                print(done)
        except LiveLease as refusal:
            refused += 1
            print(f"error: {refusal}", file=sys.stderr)
            print("\n".join(describe(inspect_step(path, **timing), root=args.path)), file=sys.stderr)
    if not removed and not refused:
        print(f"no lease held at {args.path}; nothing to remove")
    return 1 if refused else 0
