"""``python -m marin_exec status PATH``: each step under a prefix (or one step's output path) with its status, lease
holder, heartbeat age, lease state (live / stale / dead-on-this-host / free) and last error line.

``find_steps`` and ``inspect_step`` are shared with ``unlock``. It only reads: it never takes, refreshes or removes
a lease (``unlock`` does that) and decides nothing about what a run would do (the dry run does).
"""

from __future__ import annotations

import argparse
import dataclasses
import posixpath
import sys
from collections.abc import Sequence

from marin_exec.settings import DEFAULT_CLOCK_SKEW_ALLOWANCE, DEFAULT_LEASE_TIMEOUT
from marin_exec.status.failure import read_error_record
from marin_exec.status.lease_record import DEAD, FREE, LIVE, LeaseView, describe_lease, parse_record
from marin_exec.status.status import LOCK_FILENAME, STATUS_FILENAME, STATUS_RUNNING, STATUS_SUCCESS, join, parse_status
from marin_exec.storage.store import store_for

STATE_TEXT = {LIVE: "live", "stale": "stale", DEAD: "dead-on-this-host", FREE: "free"}
_MARKERS = (STATUS_FILENAME, LOCK_FILENAME)


@dataclasses.dataclass(frozen=True)
class StepView:
    """What one look at a step's output path shows."""

    output_path: str
    status: str | None  # None: no status file (never ran, or only a lease so far)
    lease: LeaseView
    error_line: str | None  # from .executor_error, when it exists

    @property
    def interrupted(self) -> bool:
        return self.status == STATUS_RUNNING and self.lease.state != LIVE


def find_steps(path: str) -> list[str]:
    """The output paths at ``path``: itself when it holds a status or lease file, else every directory below it
    that does (sorted). One listing of the tree; the ``experiments/`` run records are not steps."""
    import fsspec

    path = path.rstrip("/")
    fs, root = fsspec.core.url_to_fs(path)
    # Asked through the atomic store first: an unreachable endpoint fails in seconds, in one line (StoreUnreachable)
    if any(store_for(join(path, marker)).read(join(path, marker)) is not None for marker in _MARKERS):
        return [path]
    try:
        files = fs.find(root)
    except FileNotFoundError:
        return []
    found = {posixpath.dirname(f) for f in files if posixpath.basename(f) in _MARKERS}
    root = root.rstrip("/")
    return sorted(path + f[len(root) :] for f in found if f.startswith(root + "/"))  # spelled as the user did


def inspect_step(output_path: str, *, lease_timeout: float, clock_skew_allowance: float) -> StepView:
    """One read each of the status, lease and error files of ``output_path``."""
    status_path, lock_path = join(output_path, STATUS_FILENAME), join(output_path, LOCK_FILENAME)
    found = store_for(status_path).read(status_path)
    status = None if found is None else parse_status(found[0])
    lock = store_for(lock_path).read(lock_path)
    record = None if lock is None else parse_record(lock[0])
    view = describe_lease(record, timeout=lease_timeout, clock_skew_allowance=clock_skew_allowance)
    error = read_error_record(output_path)
    return StepView(output_path, status, view, None if error is None else _error_line(error))


def describe(step: StepView, *, root: str) -> list[str]:
    """The lines ``status`` prints for one step."""
    name = _relative(step.output_path, root)
    status = step.status or "no status"
    if step.interrupted:
        status += " (interrupted: no live lease)"
    lines = [f"{name}: {status}"]
    lease = step.lease
    if lease.state == FREE:
        lines.append("  lease: free")
    else:
        age = "unknown" if lease.heartbeat_age is None else f"{lease.heartbeat_age:.0f}s ago"
        where = f" on {lease.host}" if lease.host else ""
        pid = f" pid {lease.pid}" if lease.pid is not None else ""
        lines.append(f"  lease: {STATE_TEXT[lease.state]}, held by {lease.holder}{where}{pid}, heartbeat {age}")
    if step.error_line:
        lines.append(_error_text(step))
    return lines


def _error_text(step: StepView) -> str:
    """The last error line; for a step that succeeded since, said to be an earlier attempt's (the record stays)."""
    if step.status != STATUS_SUCCESS:
        return f"  last error: {step.error_line}"
    return f"  the last attempt succeeded; an earlier one failed: {step.error_line}"


def lease_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="a prefix, or one step's output path (local, gs://, s3://)")
    parser.add_argument(
        "--lease_timeout",
        type=float,
        default=DEFAULT_LEASE_TIMEOUT,
        help="seconds after its last heartbeat that a lease is stale (default %(default)s, as a run's)",
    )
    parser.add_argument(
        "--clock_skew_allowance",
        type=float,
        default=DEFAULT_CLOCK_SKEW_ALLOWANCE,
        help="extra seconds allowed for a lease written on another machine (default %(default)s)",
    )


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m marin_exec status",
        description="Show each step's status, lease holder, heartbeat age, lease state and last error.",
    )
    lease_options(parser)
    args = parser.parse_args(argv)
    paths = find_steps(args.path)
    if not paths:
        print(f"no step found at {args.path} (no {STATUS_FILENAME} or {LOCK_FILENAME} below it)", file=sys.stderr)
        return 1
    for path in paths:
        step = inspect_step(path, lease_timeout=args.lease_timeout, clock_skew_allowance=args.clock_skew_allowance)
        print("\n".join(describe(step, root=args.path)))
    return 0


def _error_line(record: dict[str, object]) -> str:
    kind = str(record.get("type") or "error").rsplit(".", 1)[-1]
    message = str(record.get("message") or "").strip().splitlines()
    return f"{kind}: {message[0]}" if message else kind


def _relative(path: str, root: str) -> str:
    root = root.rstrip("/")
    return path[len(root) + 1 :] if path.startswith(root + "/") else path
