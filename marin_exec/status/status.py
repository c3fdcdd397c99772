"""Per-output-path status token and lease files (DESIGN §5), on any filesystem ``storage`` serves.

``StatusFile`` reads and writes ``{out}/.executor_status``; ``Lease`` acquires, refreshes, takes over and
releases ``{out}/.executor_status.lock`` atomically through the backend's create-only and compare-and-swap.
This module holds no policy: it does not retry or decide whether a step should run.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from typing import Any

from marin_exec.errors import LeaseLostError, StorageConflict
from marin_exec.settings import DEFAULT_CLOCK_SKEW_ALLOWANCE
from marin_exec.status.lease_record import (
    LIVE,
    describe_lease,
    judged_timeout,
    lost_lease_message,
    make_record,
    parse_record,
    released_record,
    this_host,
    warn_if_marin_would_take_over,
)
from marin_exec.storage.protocol import Token
from marin_exec.storage.store import store_for

logger = logging.getLogger(__name__)

STATUS_SUCCESS = "SUCCESS"
STATUS_FAILED = "FAILED"
STATUS_RUNNING = "RUNNING"
STATUS_DEP_FAILED = "DEP_FAILED"
STATUSES = (STATUS_SUCCESS, STATUS_FAILED, STATUS_RUNNING, STATUS_DEP_FAILED)

STATUS_FILENAME = ".executor_status"
LOCK_FILENAME = ".executor_status.lock"

_PROCESS_NONCE = os.urandom(4).hex()  # random hex, as uuid4's; the uuid module costs ~5 ms of import

# Notified whenever a lease held in this process is released, so that waiters here wake at once.
_RELEASED = threading.Condition()
_FIRST_POLL, _MAX_POLL = 0.005, 0.5
# Every Lease of this process that holds its lease now, for release_all (heartbeat.py) on SIGTERM / a second Ctrl-C.
_HELD: dict[int, Lease] = {}
_HELD_LOCK = threading.Lock()


def held_leases() -> list[Lease]:
    """The leases this process holds now (a snapshot)."""
    with _HELD_LOCK:
        return list(_HELD.values())


def wait_for_release(timeout: float) -> None:
    """Sleep until a lease of this process is released or ``timeout`` seconds pass, whichever is first."""
    with _RELEASED:
        _RELEASED.wait(timeout)


def wait_for_holder(started: float) -> None:
    """One poll's wait for a lease another worker holds, polling since ``started`` (a ``time.monotonic()``).

    Never longer than a tenth of the time already waited (from 5 ms up to 0.5 s), so a waiter notices a finished
    holder within about 10 % of its wait; a release in this process wakes it at once.
    """
    wait_for_release(min(_MAX_POLL, max(_FIRST_POLL, (time.monotonic() - started) / 10)))


def worker_id() -> str:
    """This thread's identity as a lease holder: host, process, thread, and a per-process nonce."""
    return f"{this_host()}-{os.getpid()}-{threading.get_ident()}-{_PROCESS_NONCE}"


def join(output_path: str, name: str) -> str:
    return f"{output_path.rstrip('/')}/{name}"


class StatusFile:
    """The one-token status of the step at ``output_path``; missing means it never ran."""

    def __init__(self, output_path: str) -> None:
        self.output_path = output_path
        self.path = join(output_path, STATUS_FILENAME)

    def read(self) -> str | None:
        found = store_for(self.path).read(self.path)
        return None if found is None else parse_status(found[0])

    def write(self, status: str) -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; expected one of {STATUSES}")
        store_for(self.path).write(self.path, status.encode())


def parse_status(data: bytes) -> str | None:
    """A status token, or the last ``"status"`` of the older JSON-lines event format."""
    text = data.decode("utf-8", errors="replace").strip()
    if text in STATUSES:
        return text
    last = None
    for line in text.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and "status" in event:
            last = event["status"]
    return last


class Lease:
    """A time-limited, exclusive claim on the step at ``output_path``.

    The lease file holds a record (``lease_record``: worker id, timestamp, host, pid, PID namespace, boot id, step,
    start, and this Lease's ``timeout`` and ``heartbeat_interval``). Another worker's lease is stale when this Lease
    has seen the same bytes for the larger of ``timeout`` and the holder's recorded timeout, on its own monotonic
    clock (so clock skew between machines does not matter), or at once when one read says so (``describe_lease``:
    written here by a dead process, or written longer ago than that timeout + ``clock_skew_allowance``). Every
    transition is a create-only or compare-and-swap on the backend, so of several workers racing, exactly one
    wins. Where the store cannot delete on a condition, a released lease is first swapped for a released record
    (``lease_record.released_record``) and then deleted if still unchanged, so release is safe even there.
    """

    def __init__(
        self,
        output_path: str,
        *,
        timeout: float,
        owner: str | None = None,
        clock_skew_allowance: float = DEFAULT_CLOCK_SKEW_ALLOWANCE,
        step: str | None = None,
        heartbeat_interval: float | None = None,
    ) -> None:
        self.output_path = output_path
        self.path = join(output_path, LOCK_FILENAME)
        self.timeout = timeout
        self.heartbeat_interval = heartbeat_interval  # recorded for whoever judges our lease (None: not known)
        warn_if_marin_would_take_over(heartbeat_interval)
        self.clock_skew_allowance = clock_skew_allowance
        self.step = step or output_path
        self._started = 0.0  # when this Lease last acquired
        self._seen: tuple[bytes, float] | None = None  # another holder's record, and since when (monotonic)
        # Unique per Lease object: two leases of one thread (or of a reused thread id) never pass for each other.
        self.owner = owner or f"{worker_id()}-{os.urandom(3).hex()}"
        self.__token: Token | None = None
        self._store = store_for(self.path)
        # Serialises the heartbeat's refresh with fenced writes and release: both use (and refresh replaces)
        # the token, so letting them interleave would make a healthy holder think it lost its lease.
        self._mutex = threading.RLock()

    @property
    def held(self) -> bool:
        return self._token is not None

    @property
    def _token(self) -> Token | None:
        return self.__token

    @_token.setter
    def _token(self, token: Token | None) -> None:
        self.__token = token
        with _HELD_LOCK:
            if token is None:
                _HELD.pop(id(self), None)
            else:
                _HELD[id(self)] = self

    def _record(self) -> bytes:
        return make_record(self.owner, (self.timeout, self.heartbeat_interval), step=self.step, started=self._started)

    def holder(self) -> dict[str, Any] | None:
        """The current lease record if a live (unreleased, not stale) holder has it, else None."""
        found = self._store.read(self.path)
        if found is None:
            return None
        record = parse_record(found[0])
        if record is None or record.get("worker_id") is None or self._is_stale(record, found[0]):
            return None
        return record

    def try_acquire(self) -> bool:
        """Take the lease if it is free, released or stale; False if a live holder has it.

        It reads before it writes, so waiting on a live holder costs reads only (object stores limit how often
        one object may be written).
        """
        found = self._store.read(self.path)
        if found is None:
            self._started = time.time()
            try:
                self._token = self._store.create(self.path, self._record())
                return True
            except FileExistsError:
                found = self._store.read(self.path)
                if found is None:
                    return False  # released again in between: the caller polls again
        data, token = found
        record = parse_record(data)
        if record is not None and record.get("worker_id") is not None:
            if not self._is_stale(record, data):
                return False
            view = self._view(record)
            age = "unknown" if view.heartbeat_age is None else f"{view.heartbeat_age:.1f} s"
            timeout = judged_timeout(record, self.timeout)
            reason = "its process is gone" if view.state == "dead" else f"unchanged for the timeout {timeout:g} s"
            logger.warning(
                f"{self.output_path}: taking over the stale lease of {view.holder} on {view.host or 'an unknown host'}"
                f" ({reason}; written timestamp {age} ago)"
            )
        self._started = time.time()
        try:
            self._token = self._store.swap(self.path, self._record(), token)
            return True
        except StorageConflict:
            return False

    def refresh(self) -> None:
        """Renew the timestamp; LeaseLostError if another worker has replaced the lease."""
        with self._mutex:
            if self._token is None:
                raise LeaseLostError(self._lost_message())
            try:
                self._token = self._store.swap(self.path, self._record(), self._token)
            except StorageConflict as e:
                self._token = None
                raise LeaseLostError(self._lost_message()) from e

    def fenced(self) -> contextlib.AbstractContextManager[None]:
        """Run the block only while the lease is provably ours (LeaseLostError on entry otherwise)."""
        return _Fence(self)

    def release(self) -> None:
        """Give the lease up if it is still ours; never touches another holder's lease, and never raises.

        A storage error is logged and the lease left to go stale: a committed step stays committed, and a step's
        own exception stays the one its caller sees (DESIGN §5a).
        """
        with self._mutex:
            token, self._token = self._token, None
            if token is None:
                return
            try:
                self._give_up(token)
            except Exception as error:
                logger.warning(
                    f"{self.step}: could not release the lease at {self.path} ({error!r}); it goes stale after "
                    f"{self.timeout} s unless its holder's process is seen gone first"
                )
        self._notify_released()

    def _give_up(self, token: Token) -> None:
        if self._store.conditional_delete:
            self._store.delete_if(self.path, token)
            return
        try:
            # Unique bytes per releaser: object stores recognise a lost-reply retry of our own write by its content.
            released = self._store.swap(self.path, released_record(self.owner), token)
        except StorageConflict:
            return
        self._store.delete_if(self.path, released)

    @staticmethod
    def _notify_released() -> None:
        with _RELEASED:
            _RELEASED.notify_all()

    def _view(self, record: dict[str, Any]) -> Any:
        return describe_lease(record, timeout=self.timeout, clock_skew_allowance=self.clock_skew_allowance)

    def _is_stale(self, record: dict[str, Any], data: bytes) -> bool:
        """Stale at once by one read (dead holder, far too old), or these bytes unchanged for our or its timeout."""
        if self._view(record).state != LIVE:
            return True
        now = time.monotonic()
        if self._seen is None or self._seen[0] != data:
            self._seen = (data, now)
            return False
        return now - self._seen[1] >= judged_timeout(record, self.timeout)

    def _lost_message(self) -> str:
        found = self._store.read(self.path)
        return lost_lease_message(self._store, found[0] if found else None, self.output_path, self.owner, self.timeout)


class _Fence:
    """``Lease.fenced()``: the lease's mutex and the store's fence for one block (a class: one per commit write)."""

    __slots__ = ("_lease", "_guard")

    def __init__(self, lease: Lease) -> None:
        self._lease = lease
        self._guard: contextlib.AbstractContextManager[None] = contextlib.nullcontext()

    def __enter__(self) -> None:
        lease = self._lease
        lease._mutex.acquire()
        try:
            if lease._token is None:
                raise LeaseLostError(lease._lost_message())
            guard = lease._store.fenced(lease.path, lease._token)
            try:
                guard.__enter__()
            except StorageConflict as e:
                lease._token = None
                raise LeaseLostError(lease._lost_message()) from e
        except BaseException:
            lease._mutex.release()
            raise
        self._guard = guard

    def __exit__(self, *exc: Any) -> bool | None:
        try:
            return self._guard.__exit__(*exc)
        finally:
            self._lease._mutex.release()
