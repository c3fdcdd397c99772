"""The commit scope: how ``disk_cached`` and an inner ``distributed_lock`` share one lease (DESIGN §3, §5a).

``disk_cached`` opens a scope for its output path. A ``distributed_lock`` that runs inside a scope for the same
path hands its lease (and heartbeat) to the scope instead of releasing it, so the lease is held until the final
status write. Fencing is per write: each commit write (artifact, info, SUCCESS) runs inside ``fenced(path)``,
which holds the lease's mutex for that one write only, never while ``fn`` or ``save`` as a whole runs, so the
heartbeat keeps refreshing throughout. The scope also carries what was read on the way in, so that a fresh step
reads nothing twice: the status ``disk_cached`` read (the lock's look before acquiring) and whether the lock found
a status under the lease (without one, the commit looks for no earlier failed attempts). This module writes and
reads nothing itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from marin_exec.runtime.heartbeat import Heartbeat
    from marin_exec.status.status import Lease

# What a commit write runs in when there is no lease to check (stateless, so one serves every write).
_UNFENCED: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
_UNREAD = object()  # no status was read before the scope opened
_SCOPES: ContextVar[tuple[CommitScope, ...]] = ContextVar("marin_exec_commit_scopes", default=())


class CommitScope:
    """Holds the lease of one output path from the moment the step's function returns until its commit ends."""

    def __init__(self, output_path: str, status: str | None | object = _UNREAD) -> None:
        self.output_path = _normalise(output_path)
        self.lease: Lease | None = None
        self.heartbeat: Heartbeat | None = None
        # Set by a distributed_lock running in this scope: from then on a status write needs its lease.
        self.locked = False
        self._status_before = status  # what disk_cached read just before opening the scope
        # Set by the lock from its status read under the lease: False when the step had no status (it never ran
        # here, or its SUCCESS was cleared to run it again), so it has no failed attempts to carry forward.
        self.had_status = True

    def status_before(self, read: Callable[[], str | None]) -> str | None:
        """The status read just before the scope opened, the first time it is asked for; ``read()`` after that or
        when none was read. The lock's first look before acquiring uses it (it re-reads once it holds the lease)."""
        status, self._status_before = self._status_before, _UNREAD
        return read() if status is _UNREAD else status  # type: ignore[return-value]

    @property
    def may_write_status(self) -> bool:
        """False when a lock ran here but never handed over a lease (e.g. PreviousStepFailed while acquiring)."""
        return not self.locked or self.lease is not None

    def adopt(self, lease: Lease, heartbeat: Heartbeat) -> None:
        self.lease, self.heartbeat = lease, heartbeat

    def fenced(self) -> contextlib.AbstractContextManager[None]:
        """Run a commit write only while the lease (if any) is still ours; LeaseLostError otherwise (the heartbeat's
        finding is checked now, the store's on entering the block)."""
        if self.lease is None:
            return _UNFENCED
        if self.heartbeat is not None:
            self.heartbeat.check()
        return self.lease.fenced()

    def close(self) -> None:
        if self.heartbeat is not None:
            self.heartbeat.stop()
        if self.lease is not None:
            self.lease.release()
        self.lease, self.heartbeat = None, None


def fenced(output_path: str) -> contextlib.AbstractContextManager[None]:
    """Run one commit write for ``output_path`` under the lease of its open commit scope (LeaseLostError when the
    lease is no longer ours); outside any scope, unfenced. Keep the block to one write: it blocks the refresh."""
    scope = scope_for(output_path)
    return _UNFENCED if scope is None else scope.fenced()


@contextlib.contextmanager
def commit_scope(output_path: str, status: str | None | object = _UNREAD) -> Iterator[CommitScope]:
    """A commit scope for ``output_path``; ``status``: the status just read there, if any (see ``status_before``)."""
    scope = CommitScope(output_path, status)
    token = _SCOPES.set((*_SCOPES.get(), scope))
    try:
        yield scope
    finally:
        _SCOPES.reset(token)
        scope.close()


def scope_for(output_path: str) -> CommitScope | None:
    """The innermost open commit scope for ``output_path`` in this context, if any."""
    path = _normalise(output_path)
    for scope in reversed(_SCOPES.get()):
        if scope.output_path == path:
            return scope
    return None


def _normalise(path: str) -> str:
    return path.rstrip("/")


__all__ = ["CommitScope", "commit_scope", "fenced", "scope_for"]
