"""After acquiring, the same rules as before; store errors never leak a lease nor turn a result into a failure
(DESIGN §5a). Faults are injected by a real store registered through ``register_store`` (tests/fault_store.py) and,
for ``gs://``, by a GcsStore whose chosen request is sent but whose reply is lost.
"""

from __future__ import annotations

from typing import Any

import pytest

from marin_exec import (
    STATUS_FAILED,
    STATUS_SUCCESS,
    Artifact,
    Lease,
    PreviousStepFailed,
    StatusFile,
    StepAlreadyDone,
    disk_cached,
    distributed_lock,
)
from marin_exec.status.status import LOCK_FILENAME, STATUS_FILENAME
from marin_exec.storage.gcs_store import GcsStore
from marin_exec.storage.store import register_store, store_for
from tests.fault_store import FaultyStore, always_raise, faulty_root, raise_once
from tests.test_distributed_lock import Calls

__all__ = ["faulty_root"]  # the fixture, used by name

RESULT = {"value": 1}


def _lease_file(out: str) -> bytes | None:
    path = f"{out}/{LOCK_FILENAME}"
    found = store_for(path).read(path)
    return None if found is None else found[0]


def _write_status_first(status: str) -> Any:
    """A hook on the lease's create: another worker commits ``status`` and releases just before we acquire."""

    def hook(lock_path: str) -> None:
        StatusFile(lock_path.rsplit("/", 1)[0]).write(status)

    return hook


@pytest.mark.parametrize(
    ("written", "expected"), [(STATUS_FAILED, PreviousStepFailed), (STATUS_SUCCESS, StepAlreadyDone)]
)
def test_a_status_written_between_the_waiters_read_and_its_acquire_decides_as_before_acquiring(
    faulty_root: tuple[str, FaultyStore], written: str, expected: type[Exception]
) -> None:
    # Regression (issue 10, item 4): after acquiring only SUCCESS was checked, so a step that failed meanwhile ran
    # again although force_run_failed was off.
    root, store = faulty_root
    out = f"{root}/step"
    store.before[("create", LOCK_FILENAME)] = _write_status_first(written)
    fn = Calls()
    with pytest.raises(expected):
        distributed_lock(fn, force_run_failed=False)(out)
    assert fn.paths == []
    assert _lease_file(out) is None  # released


def _commit_before_our_acquire(root: str, store: FaultyStore, status: str) -> tuple[str, Any]:
    """A step whose lock waits on nothing, and another worker that commits ``status`` (with its artifact) after our
    disk_cached read the status and just before our lock creates the lease."""
    out = f"{root}/step"

    def commit_first(lock_path: str) -> None:
        Artifact.save(RESULT, out)
        _write_status_first(status)(lock_path)

    store.before[("create", LOCK_FILENAME)] = commit_first
    fn = Calls()
    return out, fn


# Inside disk_cached the lock takes disk_cached's status read as its look before acquiring (it does not read again):
# another worker that commits between that read and our acquire is caught by the status read under the lease.


def test_a_success_committed_after_disk_cached_looked_is_loaded_not_run_again(
    faulty_root: tuple[str, FaultyStore],
) -> None:
    root, store = faulty_root
    out, fn = _commit_before_our_acquire(root, store, STATUS_SUCCESS)
    assert disk_cached(distributed_lock(fn), out, save=Artifact.save, load=Artifact.load) == RESULT
    assert store.calls.count(("read", STATUS_FILENAME)) == 2  # disk_cached's, and the lock's under the lease
    assert fn.paths == []
    assert _lease_file(out) is None  # released


def test_a_failure_recorded_after_disk_cached_looked_is_refused_without_force(
    faulty_root: tuple[str, FaultyStore],
) -> None:
    root, store = faulty_root
    out, fn = _commit_before_our_acquire(root, store, STATUS_FAILED)
    with pytest.raises(PreviousStepFailed):
        disk_cached(distributed_lock(fn, force_run_failed=False), out, save=Artifact.save, load=Artifact.load)
    assert fn.paths == []
    assert _lease_file(out) is None
    assert StatusFile(out).read() == STATUS_FAILED  # the refused worker wrote nothing


def test_an_error_reading_the_status_right_after_acquiring_releases_the_lease(
    faulty_root: tuple[str, FaultyStore],
) -> None:
    # Regression (issue 10, item 5): the lease leaked, and the next worker waited a whole lease timeout.
    root, store = faulty_root
    out = f"{root}/step"

    def fail_the_next_status_read(lock_path: str) -> None:
        store.before[("read", STATUS_FILENAME)] = raise_once(OSError("the store went away"))

    store.after[("create", LOCK_FILENAME)] = fail_the_next_status_read
    fn = Calls()
    with pytest.raises(OSError, match="the store went away"):
        distributed_lock(fn)(out)
    assert fn.paths == []
    assert _lease_file(out) is None
    assert Lease(out, timeout=60).try_acquire()


def test_an_error_releasing_the_lease_leaves_a_committed_step_committed(faulty_root: tuple[str, FaultyStore]) -> None:
    # Regression (issue 10, item 5): the release error turned the committed step into a failure.
    root, store = faulty_root
    out = f"{root}/step"
    store.before[("delete_if", LOCK_FILENAME)] = always_raise(OSError("release failed"))
    assert disk_cached(distributed_lock(lambda path: RESULT), out) == RESULT
    assert StatusFile(out).read() == STATUS_SUCCESS


def test_an_error_releasing_the_lease_leaves_the_steps_own_exception_the_one_raised(
    faulty_root: tuple[str, FaultyStore],
) -> None:
    root, store = faulty_root
    out = f"{root}/step"
    store.before[("delete_if", LOCK_FILENAME)] = always_raise(OSError("release failed"))
    with pytest.raises(ValueError, match="the step's own error"):
        disk_cached(distributed_lock(Calls(error=ValueError("the step's own error"))), out)
    assert StatusFile(out).read() == STATUS_FAILED


class _LostReplyGcsStore(GcsStore):
    """A GcsStore whose next conditional upload of a lease reaches the server but whose reply is lost."""

    def __init__(self) -> None:
        super().__init__(retry_timeout=10)
        self.lose_next_swap_reply = False
        self.replies_lost = 0

    def _call(self, method: str, url: str, *args: str, **kwargs: Any) -> tuple[Any, bytes]:
        answer = super()._call(method, url, *args, **kwargs)
        if self.lose_next_swap_reply and method == "POST" and kwargs.get("ifGenerationMatch") not in (None, "0"):
            import aiohttp

            self.lose_next_swap_reply = False
            self.replies_lost += 1
            raise aiohttp.ServerDisconnectedError("reply lost after the write landed")
        return answer


@pytest.fixture
def lost_reply_store(gcs_bucket: str) -> Any:
    store = _LostReplyGcsStore()
    register_store("gs", lambda: store)
    try:
        yield gcs_bucket, store
    finally:
        register_store("gs", GcsStore)


def test_a_refresh_whose_write_landed_but_whose_reply_was_lost_keeps_the_lease(lost_reply_store: Any) -> None:
    bucket, store = lost_reply_store
    lease = Lease(f"{bucket}/step", timeout=60)
    assert lease.try_acquire()
    store.lose_next_swap_reply = True
    lease.refresh()  # retried: the server answers 412 (our own write moved the generation), read back as ours
    assert store.replies_lost == 1
    try:
        lease.refresh()  # and the token it kept is the current one
        assert lease.held
        assert b'"worker_id": "' + lease.owner.encode() in (_lease_file(f"{bucket}/step") or b"")
    finally:
        lease.release()  # a lease left held would be given up by a later test's release_all(), on a gone emulator
