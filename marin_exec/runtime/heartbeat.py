"""Keeps leases fresh: every started ``Heartbeat`` has its lease refreshed each interval, and a loss recorded.

One process-wide keeper thread sleeps until the earliest due refresh and hands due leases to a small pool of
reused worker threads, so a refresh that hangs (an object store retrying for a minute) delays only its own
lease. A lease is never refreshed twice at once, and ``stop()`` returns only once no refresh of it is running.
A lost lease sets a flag that ``check()`` turns into ``LeaseLostError`` (the step's wrappers check it before
committing) and calls an optional ``on_lost`` hook, e.g. to end a job. Transient storage errors are retried
on the next beat; only a lost compare-and-swap counts as losing the lease. It never raises into the step.
``release_all()`` stops every heartbeat and releases every lease of the process (SIGTERM, a second Ctrl-C).
"""

from __future__ import annotations

import collections
import heapq
import itertools
import logging
import math
import os
import threading
import time
from collections.abc import Callable

from marin_exec.errors import LeaseLostError
from marin_exec.settings import current_run_settings, run_settings
from marin_exec.status.status import Lease, held_leases

logger = logging.getLogger(__name__)

# Refreshes that may run at once; more than this many hanging at the same time delays the others.
_MAX_WORKERS = 8


class Heartbeat:
    """Keeps one lease fresh from ``start()`` (registering it with the keeper) to ``stop()`` (removing it)."""

    def __init__(self, lease: Lease, interval: float, on_lost: Callable[[LeaseLostError], None] | None = None) -> None:
        self.lease = lease
        self.interval = interval
        self.on_lost = on_lost
        # The run's store retry budget, taken here: refreshes run in the keeper's threads, outside the run's context.
        self._retry_budget = current_run_settings().store_retry_budget
        self._lost: LeaseLostError | None = None
        # The fields below belong to the keeper and change only under its lock.
        self._keeper: _Keeper | None = None
        self._stopped = False
        # A started heartbeat is in exactly one place: the keeper's heap, its queue, or a worker refreshing it.
        self._entry: tuple[float, int, Heartbeat] | None = None  # our entry in the heap, while waiting there
        self._refreshing_in: int | None = None  # ident of the worker thread refreshing the lease now

    def start(self) -> Heartbeat:
        _current_keeper().register(self)
        return self

    @property
    def lost(self) -> bool:
        return self._lost is not None

    def check(self) -> None:
        """Raise LeaseLostError if the heartbeat found the lease taken by another worker."""
        if self._lost is not None:
            raise self._lost

    def stop(self) -> None:
        """Refresh the lease no more; once this returns, no refresh of it runs (except when called by on_lost)."""
        if self._keeper is None:
            self._stopped = True
        else:
            self._keeper.unregister(self)

    def _beat(self) -> None:
        try:
            with run_settings(store_retry_timeout=self._retry_budget):
                self.lease.refresh()
        except LeaseLostError as e:
            self._lost = e  # record before anything else, so a check racing this thread sees the loss
            logger.error(f"{self.lease.output_path}: heartbeat found the lease taken over: {e}")
            if self.on_lost is not None:
                try:
                    self.on_lost(e)
                except BaseException as hook_error:  # e.g. SystemExit: it must not end a shared worker thread
                    logger.warning(f"{self.lease.output_path}: on_lost hook failed: {hook_error!r}")
        except Exception as e:  # transient storage error: try again next beat
            logger.warning(f"{self.lease.output_path}: heartbeat could not refresh the lease ({e!r}); retrying")


class _Keeper:
    """A heap of (deadline, sequence, heartbeat), a thread that waits for the earliest, and lazily made workers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._schedule_changed = threading.Condition(self._lock)  # the keeper thread waits on this
        self._work_queued = threading.Condition(self._lock)  # idle workers wait on this
        self._refresh_ended = threading.Condition(self._lock)  # stop() waits on this
        self._heap: list[tuple[float, int, Heartbeat]] = []
        self._sequence = itertools.count()  # breaks deadline ties, so heartbeats are never compared
        self._wakes_at = math.inf  # when the keeper thread's current wait ends
        self._queue: collections.deque[Heartbeat] = collections.deque()
        self._idle_workers = 0
        self._workers = 0
        self._thread: threading.Thread | None = None
        self._registered: set[Heartbeat] = set()  # started and not stopped
        self.forked_away = False  # set in a forked child, where none of this process's threads exist

    def register(self, heartbeat: Heartbeat) -> None:
        with self._lock:
            if heartbeat._keeper is not None or heartbeat._stopped:
                return
            heartbeat._keeper = self
            self._registered.add(heartbeat)
            self._schedule(heartbeat)
            if self._thread is None or not self._thread.is_alive():  # first use, or the keeper died (logged)
                self._thread = threading.Thread(target=self._run, name="marin-exec-lease-keeper", daemon=True)
                self._thread.start()

    def unregister(self, heartbeat: Heartbeat) -> None:
        if self.forked_away:  # inherited through fork: the parent refreshes it, and our lock may be held forever
            heartbeat._stopped = True
            return
        with self._lock:
            heartbeat._stopped = True
            self._registered.discard(heartbeat)
            if heartbeat._entry is not None:
                self._heap.remove(heartbeat._entry)
                heapq.heapify(self._heap)
                heartbeat._entry = None
            if heartbeat in self._queue:
                self._queue.remove(heartbeat)
            while heartbeat._refreshing_in not in (None, threading.get_ident()):
                self._refresh_ended.wait()

    def registered(self) -> list[Heartbeat]:
        with self._lock:
            return list(self._registered)

    def _schedule(self, heartbeat: Heartbeat) -> None:
        entry = (time.monotonic() + heartbeat.interval, next(self._sequence), heartbeat)
        heartbeat._entry = entry
        heapq.heappush(self._heap, entry)
        if entry[0] < self._wakes_at:
            self._schedule_changed.notify()

    def _run(self) -> None:
        try:
            with self._lock:
                while True:
                    now = time.monotonic()
                    while self._heap and self._heap[0][0] <= now:
                        heartbeat = heapq.heappop(self._heap)[2]
                        heartbeat._entry = None
                        self._hand_out(heartbeat)
                    self._wakes_at = self._heap[0][0] if self._heap else math.inf
                    wait = None if not self._heap else min(self._wakes_at - now, threading.TIMEOUT_MAX)
                    self._schedule_changed.wait(wait)
        except BaseException as error:  # never silently: no lease of this process is refreshed until a new start()
            logger.critical(f"the lease keeper stopped ({error!r}); held leases go stale until a heartbeat starts")
            raise

    def _hand_out(self, heartbeat: Heartbeat) -> None:
        self._queue.append(heartbeat)
        if len(self._queue) > self._idle_workers and self._workers < _MAX_WORKERS:
            self._workers += 1
            name = f"marin-exec-lease-refresh-{self._workers}"
            try:
                threading.Thread(target=self._work, name=name, daemon=True).start()
                return
            except RuntimeError as error:  # "can't start new thread": the existing workers take it in turn
                self._workers -= 1
                logger.error(f"could not start a lease refresh thread ({error!r}); {self._workers} remain")
        self._work_queued.notify()  # a busy worker takes it when it is done, if no idle one does

    def _work(self) -> None:
        try:
            self._serve()
        finally:  # only a BaseException escaping a refresh ends a worker: let another one be started
            with self._lock:
                self._workers -= 1

    def _serve(self) -> None:
        while True:
            with self._lock:
                self._idle_workers += 1
                while not self._queue:
                    self._work_queued.wait()
                self._idle_workers -= 1
                heartbeat = self._queue.popleft()
                heartbeat._refreshing_in = threading.get_ident()
            try:
                heartbeat._beat()
            finally:
                with self._lock:
                    heartbeat._refreshing_in = None
                    if not heartbeat._stopped and heartbeat._lost is None:
                        self._schedule(heartbeat)
                    self._refresh_ended.notify_all()


_KEEPER: _Keeper | None = None
_KEEPER_LOCK = threading.Lock()


def release_all() -> list[str]:
    """Stop every heartbeat of this process and release every lease it holds; returns their output paths.

    For SIGTERM and a second Ctrl-C. Call it from a thread that is not inside marin_exec (e.g. one the signal
    handler starts), since it waits for refreshes in flight. It never raises. Steps still running find their lease
    gone at their next commit write (LeaseLostError) and commit nothing; their RUNNING status without a live lease
    reads as interrupted (``step_status.is_interrupted``) and reruns at once.
    """
    keeper = _KEEPER
    if keeper is not None and not keeper.forked_away:
        for heartbeat in keeper.registered():
            heartbeat.stop()
    released = []
    for lease in held_leases():
        lease.release()  # logs its own errors
        released.append(lease.output_path)
    if released:
        logger.warning(f"released {len(released)} lease(s) of this process: {', '.join(released)}")
    return released


def _current_keeper() -> _Keeper:
    global _KEEPER
    if _KEEPER is None:
        with _KEEPER_LOCK:
            if _KEEPER is None:
                os.register_at_fork(after_in_child=_start_afresh_after_fork)
                _KEEPER = _Keeper()
    return _KEEPER


def _start_afresh_after_fork() -> None:
    """In a forked child: the keeper's threads did not survive the fork (and its lock may be held forever)."""
    global _KEEPER
    if _KEEPER is not None:
        _KEEPER.forked_away = True
    _KEEPER = _Keeper()
