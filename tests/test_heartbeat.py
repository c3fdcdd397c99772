"""Heartbeat: every started heartbeat has its lease refreshed each interval by one process-wide keeper; a refresh
that hangs delays only its own lease; a lost lease is recorded, reported to on_lost and no longer refreshed;
stop() is final and waits for a refresh in flight; a forked child keeps its own leases fresh.

Leases are real ones on local disk, served through ``RecordingStore`` (registered with ``register_store``), which
counts each lease's refreshes and can hold one inside the store call, which is how a hanging object-store request
looks to the heartbeat. Tests wait on events with a generous bound (WAIT) that only a failing test reaches; a lease
refreshed by another heartbeat of the same interval serves as the clock where a test must let several intervals
pass.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from marin_exec import Lease, LeaseLostError
from marin_exec.runtime.heartbeat import Heartbeat
from marin_exec.storage.local_store import LocalStore
from marin_exec.storage.store import register_store
from tests.test_distributed_lock import WAIT, lease_holder, log_event, write_lease

BEAT = 0.01  # heartbeat interval of these tests
LONG = 60.0  # a lease timeout that no test outlives


PROTOCOL = "recorded"


class RecordingStore:
    """Local disk behind ``recorded://``: counts each lease's refreshes (its compare-and-swaps, however they end) and
    can hold them inside the call or fail them, as a hanging or failing object store would. Registered through
    ``register_store``; marin_exec's Lease and Heartbeat run unchanged on it."""

    atomic = True
    conditional_delete = True

    def __init__(self) -> None:
        self._local = LocalStore()
        self.recordings: dict[str, Recording] = {}

    def swap(self, path: str, data: bytes, expected: Any) -> Any:
        recording = self.recordings.get(path.rsplit("/", 1)[0])
        if recording is None:
            return self._local.swap(_plain(path), data, expected)
        with recording.refreshing():
            return self._local.swap(_plain(path), data, expected)

    def read(self, path: str) -> Any:
        return self._local.read(_plain(path))

    def create(self, path: str, data: bytes) -> Any:
        return self._local.create(_plain(path), data)

    def delete_if(self, path: str, expected: Any) -> bool:
        return self._local.delete_if(_plain(path), expected)

    def write(self, path: str, data: bytes) -> None:
        self._local.write(_plain(path), data)

    def fenced(self, path: str, expected: Any) -> Any:
        return self._local.fenced(_plain(path), expected)


def _plain(path: str) -> str:
    return path.split("://", 1)[1]


_STORE = RecordingStore()


@pytest.fixture(autouse=True)
def _recording_store() -> None:
    register_store(PROTOCOL, lambda: _STORE)


class Recording:
    """A real lease on ``recorded://`` and what the store saw of its refreshes; while ``go_on`` is clear, a refresh
    blocks inside the store call."""

    def __init__(self, output_path: str, failures: int = 0) -> None:
        self.output_path = output_path  # the local directory, for reading the lease file as another worker would
        self.lease = Lease(f"{PROTOCOL}://{output_path}", timeout=LONG)
        self.owner = self.lease.owner
        self.refreshes = 0  # refresh calls that ended, however they ended
        self.running = 0
        self.most_running = 0
        self.failures = failures  # the first refreshes fail with a transient error
        self.entered = threading.Event()
        self.go_on = threading.Event()
        self.go_on.set()
        self.changed = threading.Condition()
        assert self.lease.try_acquire()
        _STORE.recordings[self.lease.output_path] = self

    @contextlib.contextmanager
    def refreshing(self) -> Iterator[None]:
        with self.changed:
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        self.entered.set()
        try:
            self.go_on.wait()  # every test that clears it sets it again in a finally
            if self.failures:
                self.failures -= 1
                raise OSError("the storage service is unavailable")
            yield
        finally:
            with self.changed:
                self.running -= 1
                self.refreshes += 1
                self.changed.notify_all()

    def release(self) -> None:
        self.lease.release()

    def wait_for_refreshes(self, count: int, timeout: float = WAIT) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.refreshes >= count, max(timeout, 0))


def recording_leases(tmp_path: Path, count: int) -> list[Recording]:
    return [Recording(str(tmp_path / f"step-{i}")) for i in range(count)]


def let_beats_pass(clock: Recording, beats: int = 3) -> bool:
    """Wait until the heartbeat of ``clock`` has refreshed ``beats`` more times (so that many intervals passed)."""
    return clock.wait_for_refreshes(clock.refreshes + beats)


def test_every_lease_stays_fresh_while_the_refresh_of_another_hangs(tmp_path: Path) -> None:
    stuck = Recording(str(tmp_path / "stuck"))
    stuck.go_on.clear()
    others = recording_leases(tmp_path, 20)
    heartbeats = [Heartbeat(lease.lease, BEAT).start() for lease in [stuck, *others]]
    try:
        assert stuck.entered.wait(WAIT)
        seen = [lease.refreshes for lease in others]
        deadline = time.monotonic() + WAIT
        for lease, refreshes in zip(others, seen, strict=True):
            assert lease.wait_for_refreshes(refreshes + 3, deadline - time.monotonic()), lease.output_path
        assert stuck.refreshes == 0
        assert not any(heartbeat.lost for heartbeat in heartbeats)
        assert all(lease_holder(lease.output_path) == lease.owner for lease in others)
    finally:
        stuck.go_on.set()
        for heartbeat in heartbeats:
            heartbeat.stop()


def test_a_lease_whose_refresh_hangs_is_not_refreshed_again_meanwhile(tmp_path: Path) -> None:
    stuck, clock = recording_leases(tmp_path, 2)
    stuck.go_on.clear()
    heartbeats = [Heartbeat(stuck.lease, BEAT).start(), Heartbeat(clock.lease, BEAT).start()]
    try:
        assert stuck.entered.wait(WAIT)
        assert let_beats_pass(clock, 5)
        assert stuck.running == 1
        stuck.go_on.set()
        assert stuck.wait_for_refreshes(3)
        assert stuck.most_running == 1
    finally:
        stuck.go_on.set()
        for heartbeat in heartbeats:
            heartbeat.stop()


def test_many_heartbeats_share_a_bounded_set_of_threads(tmp_path: Path) -> None:
    before = threading.active_count()
    leases = recording_leases(tmp_path, 50)
    heartbeats = [Heartbeat(lease.lease, BEAT).start() for lease in leases]
    try:
        assert all(lease.wait_for_refreshes(3) for lease in leases)
        assert threading.active_count() <= before + 10  # one keeper and a small pool, not a thread per heartbeat
    finally:
        for heartbeat in heartbeats:
            heartbeat.stop()


def stop_has_begun(heartbeat: Heartbeat) -> bool:
    """Wait until ``stop()`` has taken the heartbeat off the keeper (it then waits for any refresh in flight)."""
    deadline = time.monotonic() + WAIT
    while not heartbeat._stopped and time.monotonic() < deadline:
        time.sleep(0.001)
    return heartbeat._stopped


def test_stop_waits_for_the_refresh_in_flight(tmp_path: Path) -> None:
    (lease,) = recording_leases(tmp_path, 1)
    lease.go_on.clear()
    heartbeat = Heartbeat(lease.lease, BEAT).start()
    assert lease.entered.wait(WAIT)
    refreshes_when_stopped: list[int] = []

    def stop() -> None:
        heartbeat.stop()
        refreshes_when_stopped.append(lease.refreshes)

    stopper = threading.Thread(target=stop)
    stopper.start()
    assert stop_has_begun(heartbeat)  # stop() now waits; without that wait it would return mid-refresh
    lease.go_on.set()
    stopper.join(WAIT)
    assert refreshes_when_stopped == [1]


def test_a_stopped_heartbeat_refreshes_no_more_and_cannot_be_restarted(tmp_path: Path) -> None:
    lease, clock = recording_leases(tmp_path, 2)
    heartbeat = Heartbeat(lease.lease, BEAT).start()
    clock_heartbeat = Heartbeat(clock.lease, BEAT).start()
    try:
        assert lease.wait_for_refreshes(2)
        heartbeat.stop()
        refreshes = lease.refreshes
        lease.release()  # a refresh after this would find the lease gone and report it lost
        heartbeat.start()
        assert let_beats_pass(clock, 5)
        assert lease.refreshes == refreshes
        assert not heartbeat.lost
    finally:
        clock_heartbeat.stop()


def test_a_lease_taken_over_is_recorded_reported_to_on_lost_and_no_longer_refreshed(tmp_path: Path) -> None:
    lease, clock = recording_leases(tmp_path, 2)
    reported: list[tuple[LeaseLostError, bool]] = []
    hook_called = threading.Event()

    def on_lost(error: LeaseLostError) -> None:
        reported.append((error, heartbeat.lost))
        hook_called.set()

    heartbeat = Heartbeat(lease.lease, BEAT, on_lost=on_lost).start()
    clock_heartbeat = Heartbeat(clock.lease, BEAT).start()
    try:
        write_lease(lease.output_path, "new-holder")
        assert hook_called.wait(WAIT)
        with pytest.raises(LeaseLostError, match="new-holder") as raised:
            heartbeat.check()
        assert reported == [(raised.value, True)]  # the loss was recorded before the hook ran
        refreshes = lease.refreshes
        assert let_beats_pass(clock, 5)
        assert lease.refreshes == refreshes
        assert lease_holder(lease.output_path) == "new-holder"
    finally:
        heartbeat.stop()
        clock_heartbeat.stop()


@pytest.mark.parametrize("hook_error", [RuntimeError("hook broke"), SystemExit(1)])
def test_an_on_lost_hook_that_raises_is_logged_and_the_other_leases_stay_fresh(
    tmp_path: Path, hook_error: BaseException
) -> None:
    hook_threads: list[threading.Thread] = []

    def on_lost(error: LeaseLostError) -> None:
        hook_threads.append(threading.current_thread())
        raise hook_error

    lease = Recording(str(tmp_path / "lost"))
    others = recording_leases(tmp_path, 12)  # more than the refresh pool, so every worker thread serves one
    with log_event("marin_exec.runtime.heartbeat", "on_lost hook failed", logging.WARNING) as hook_failed:
        heartbeat = Heartbeat(lease.lease, BEAT, on_lost=on_lost).start()
        write_lease(lease.output_path, "new-holder")
        assert hook_failed.wait(WAIT)
    heartbeats = [Heartbeat(other.lease, BEAT).start() for other in others]
    try:
        assert heartbeat.lost
        assert all(other.wait_for_refreshes(3) for other in others)
        assert hook_threads[0].is_alive()  # the refresh thread that ran the hook survived it and serves on
    finally:
        for each in [heartbeat, *heartbeats]:
            each.stop()


def test_a_transient_refresh_error_is_logged_and_retried_at_the_next_beat(tmp_path: Path) -> None:
    lease = Recording(str(tmp_path / "step"), failures=2)
    with log_event("marin_exec.runtime.heartbeat", "could not refresh the lease", logging.WARNING) as warned:
        heartbeat = Heartbeat(lease.lease, BEAT).start()
        try:
            assert lease.wait_for_refreshes(4)
        finally:
            heartbeat.stop()
    assert warned.is_set()
    assert lease.failures == 0
    assert not heartbeat.lost
    assert lease_holder(lease.output_path) == lease.owner


def test_a_forked_child_keeps_its_own_leases_fresh_and_can_stop_inherited_heartbeats(tmp_path: Path) -> None:
    inherited = Recording(str(tmp_path / "parent"))
    inherited.go_on.clear()  # its refresh is in flight when the process forks
    inherited_heartbeat = Heartbeat(inherited.lease, BEAT).start()
    assert inherited.entered.wait(WAIT)
    pid = os.fork()
    if pid == 0:  # the child: report through the exit code only, and never return into pytest
        code = 1
        try:
            inherited_heartbeat.stop()  # its worker thread does not exist here: stop must not wait for it
            lease = Recording(str(tmp_path / "child"))
            child_heartbeat = Heartbeat(lease.lease, BEAT).start()
            if lease.wait_for_refreshes(3) and not child_heartbeat.lost:
                code = 0
            child_heartbeat.stop()
        finally:
            os._exit(code)
    try:
        exit_code = _wait_for_child(pid)
    finally:
        stopper = threading.Thread(target=inherited_heartbeat.stop)
        stopper.start()  # stopped before its refresh may end, so no second refresh can start
        stop_has_begun(inherited_heartbeat)
        inherited.go_on.set()
        stopper.join(WAIT)
    assert exit_code == 0
    assert inherited.refreshes == 1
    assert lease_holder(inherited.output_path) == inherited.owner


def test_the_keeper_does_not_keep_the_process_alive_even_with_a_refresh_hanging(tmp_path: Path) -> None:
    script = f"""
import threading
from marin_exec import Lease
from marin_exec.runtime.heartbeat import Heartbeat
from marin_exec.storage.local_store import LocalStore
from marin_exec.storage.store import register_store

entered = threading.Event()

class HangingStore(LocalStore):
    def swap(self, path, data, expected):
        entered.set()
        threading.Event().wait()

register_store("file", HangingStore)  # every local lease of this process hangs in its refresh
lease = Lease({str(tmp_path / "step")!r}, timeout=60)
assert lease.try_acquire()
Heartbeat(lease, 0.01).start()
Heartbeat(Lease({str(tmp_path / "other")!r}, timeout=60), 3600).start()
assert entered.wait(10)
print("main thread done")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "main thread done"


def _wait_for_child(pid: int) -> int:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        finished, status = os.waitpid(pid, os.WNOHANG)
        if finished:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    raise AssertionError("the forked child did not finish")
