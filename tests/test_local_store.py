"""The local store's held versions: ``create`` and ``swap`` keep the file they wrote (and its directory) open, so a
lease is checked with one ``stat`` of its path instead of a read (DESIGN §5). What must still hold: a lease removed
and written again, or rewritten in place (Marin's ``LocalFileLease`` takes a stale lease over that way), is no
longer the holder's, whatever its bytes; no temp file is left; nothing stays open once the token is gone; and a
step's files read as Marin reads them.

Other writers are simulated by writing the files directly, as another process would.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest

from marin_exec import Lease, StepSpec
from marin_exec.artifact_record import parse_record
from marin_exec.errors import StorageConflict
from marin_exec.storage import local_store
from marin_exec.storage.local_store import LocalStore


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_lease_removed_and_written_again_with_the_same_bytes_is_no_longer_the_holders(tmp_path: Path) -> None:
    # The bytes alone cannot tell: a worker that saw the lease gone (unlock --force, a release) may write the same
    # record again. Before held versions, the fence compared bytes and let the first holder commit over it.
    store, path = LocalStore(), str(tmp_path / "step" / ".executor_status.lock")
    token = store.create(path, b'{"worker_id": "w", "timestamp": 1.0}')
    os.unlink(path)
    Path(path).write_bytes(b'{"worker_id": "w", "timestamp": 1.0}')
    entered = False
    with pytest.raises(StorageConflict), store.fenced(path, token):
        entered = True
    assert not entered
    with pytest.raises(StorageConflict):
        store.swap(path, b"mine again", token)
    assert not store.delete_if(path, token)
    assert Path(path).read_bytes() == b'{"worker_id": "w", "timestamp": 1.0}'


def test_a_lease_rewritten_in_place_is_no_longer_the_holders(tmp_path: Path) -> None:
    # Marin's LocalFileLease takes a stale lease over by truncating and rewriting the same file.
    store, path = LocalStore(), str(tmp_path / "step" / ".executor_status.lock")
    token = store.create(path, b'{"worker_id": "ours marin_exec{}", "timestamp": 1.0}')
    with open(path, "r+") as f:
        f.truncate()
        f.write(json.dumps({"worker_id": "marin-host-1", "timestamp": 2.0}))
    with pytest.raises(StorageConflict), store.fenced(path, token):
        pass
    assert not store.delete_if(path, token)


def test_a_held_version_equals_its_bytes_and_pickles_as_them(tmp_path: Path) -> None:
    store, path = LocalStore(), str(tmp_path / "a" / "lock")
    token = store.create(path, b"v1")
    assert store.read(path) == (b"v1", token)
    assert pickle.loads(pickle.dumps(token)) == b"v1"
    assert type(pickle.loads(pickle.dumps(token))) is bytes


@pytest.mark.parametrize("unnamed", [True, False], ids=["unnamed-temp-file", "named-temp-file"])
def test_create_leaves_only_the_complete_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unnamed: bool) -> None:
    if not unnamed:  # as on a filesystem or kernel without O_TMPFILE
        monkeypatch.setattr(local_store, "_tmpfile_flag", 0)
    store, path = LocalStore(), str(tmp_path / "new" / "dir" / ".executor_status.lock")
    token = store.create(path, b"complete")
    with pytest.raises(FileExistsError):
        store.create(path, b"second")
    assert os.listdir(tmp_path / "new" / "dir") == [".executor_status.lock"]
    assert Path(path).read_bytes() == b"complete"
    assert store.delete_if(path, token)
    assert os.listdir(tmp_path / "new" / "dir") == []


def test_a_released_lease_keeps_nothing_open(tmp_path: Path) -> None:
    before = _open_descriptors()
    for i in range(20):
        lease = Lease(str(tmp_path / f"s{i}"), timeout=60.0)
        assert lease.try_acquire()
        lease.refresh()
        with lease.fenced():
            pass
        lease.release()
    assert _open_descriptors() == before


def _check_lock_as_marin_reads_it(path: str) -> str:
    lock = json.loads(Path(f"{path}/.executor_status.lock").read_text())
    assert set(lock) == {"worker_id", "timestamp"}  # Marin builds its Lease dataclass from every key
    assert isinstance(lock["worker_id"], str) and isinstance(lock["timestamp"], float)
    return path


def test_a_fresh_steps_files_read_as_marin_reads_them(tmp_path: Path) -> None:
    spec = StepSpec(name="files/marin", fn=_check_lock_as_marin_reads_it, output_path_prefix=str(tmp_path))
    out = spec.output_path
    assert spec.executable_fn(out) == out
    assert sorted(os.listdir(out)) == [".artifact.json", ".executor_info", ".executor_status"]  # no temp file left
    assert Path(f"{out}/.executor_status").read_text() == "SUCCESS"
    info = json.loads(Path(f"{out}/.executor_info").read_text())
    assert info["name"] == "files/marin" and info["output_path"] == out
    record = parse_record(Path(f"{out}/.artifact.json").read_bytes())  # Marin's reader's rules
    assert record["name"] == "files/marin" and record["output_path"] == out


def test_a_forked_child_names_its_temp_files_with_its_own_pid(tmp_path: Path) -> None:
    # The pid in temp names is kept, not asked for per write: a forked child must not reuse its parent's.
    tag = local_store._tag
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child reports its tag and leaves at once
        os.write(write, local_store._tag.encode())
        os._exit(0)
    os.close(write)
    child_tag = os.read(read, 100).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert tag == f"{os.getpid()}-{local_store._NONCE}"
    assert child_tag == f"{pid}-{local_store._NONCE}"
