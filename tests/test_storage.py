"""The AtomicStore contract on every backend (local, memory://, gs:// on fake-gcs-server, s3:// on moto), plus the
object-store behaviours: retrying through an outage, and recognising our own write after a lost reply."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from marin_exec.errors import StorageConflict, StorageUnavailable
from marin_exec.storage.gcs_store import GcsStore
from marin_exec.storage.s3_store import S3Store
from marin_exec.storage.store import read_many, store_for
from tests.conftest_stores import GcsServer, InProcessMoto, MotoServer, start_gcs_server, use_gcs, use_s3

RACERS = 8


def test_create_is_exclusive_and_keeps_the_first_bytes(store_root: str) -> None:
    store = store_for(store_root)
    path = f"{store_root}/a/.executor_status.lock"
    token = store.create(path, b"first")
    with pytest.raises(FileExistsError):
        store.create(path, b"second")
    assert store.read(path) == (b"first", token)


def test_read_returns_none_for_a_missing_object(store_root: str) -> None:
    assert store_for(store_root).read(f"{store_root}/never/written") is None


def test_read_returns_every_byte_of_an_object_larger_than_one_read_chunk(store_root: str) -> None:
    store = store_for(store_root)
    path = f"{store_root}/big/.artifact.json"
    data = bytes(range(256)) * 1000 + b"tail"  # 256,004 bytes: several 64 KiB chunks and a partial one
    store.write(path, data)
    found = store.read(path)
    assert found is not None and found[0] == data


def test_read_many_answers_like_read_for_each_path_in_order(store_root: str) -> None:
    store = store_for(store_root)
    written = {f"{store_root}/many/{i}/.executor_status": f"body {i}".encode() for i in range(0, 150, 3)}
    for path, data in written.items():
        store.write(path, data)
    paths = [f"{store_root}/many/{i}/.executor_status" for i in range(150)]  # more than one batch in flight
    found = read_many(paths)
    assert found == [store.read(path) for path in paths]
    assert [f[0] if f is not None else None for f in found] == [written.get(path) for path in paths]


def test_read_many_over_several_backends_keeps_the_order_and_reports_errors_per_path(tmp_path: Path) -> None:
    local = f"{tmp_path}/a/.executor_status"
    memory = "memory://read-many-mixed/a/.executor_status"
    store_for(local).write(local, b"SUCCESS")
    store_for(memory).write(memory, b"FAILED")
    found = read_many([memory, str(tmp_path), local, f"{tmp_path}/missing"])  # reading a directory fails
    assert found[0] is not None and found[0][0] == b"FAILED"
    assert isinstance(found[1], IsADirectoryError)
    assert found[2] is not None and found[2][0] == b"SUCCESS"
    assert found[3] is None


def test_read_many_on_an_async_fsspec_backend_without_atomic_writes(gcs_bucket: str) -> None:
    from marin_exec.storage.fsspec_store import BestEffortStore

    store = BestEffortStore("gs")  # gcsfs through plain fsspec: async, so the batch is overlapped on its loop
    paths = [f"{gcs_bucket}/plain/{i}" for i in range(5)]
    store.write(paths[1], b"one")
    store.write(paths[3], b"three")
    assert store.read_many(paths) == [None, (b"one", b"one"), None, (b"three", b"three"), None]


def test_swap_with_a_stale_token_conflicts_and_leaves_the_object_unchanged(store_root: str) -> None:
    store = store_for(store_root)
    path = f"{store_root}/a/lock"
    stale = store.create(path, b"v1")
    current = store.swap(path, b"v2", stale)
    with pytest.raises(StorageConflict):
        store.swap(path, b"v3", stale)
    assert store.read(path) == (b"v2", current)


def test_swap_of_a_deleted_object_conflicts_and_does_not_recreate_it(store_root: str) -> None:
    store = store_for(store_root)
    path = f"{store_root}/a/lock"
    token = store.create(path, b"v1")
    assert store.delete_if(path, token)
    with pytest.raises(StorageConflict):
        store.swap(path, b"v2", token)
    assert store.read(path) is None


def test_write_makes_earlier_tokens_stale(store_root: str) -> None:
    store = store_for(store_root)
    path = f"{store_root}/a/status"
    token = store.create(path, b"RUNNING")
    store.write(path, b"SUCCESS")
    with pytest.raises(StorageConflict):
        store.swap(path, b"FAILED", token)
    assert store.read(path)[0] == b"SUCCESS"  # type: ignore[index]


def test_delete_if_with_a_stale_token_keeps_the_object(store_root: str) -> None:
    if store_root.startswith("gs://"):
        pytest.skip("fake-gcs-server v1.54 ignores ifGenerationMatch on DELETE")
    store = store_for(store_root)
    path = f"{store_root}/a/lock"
    stale = store.create(path, b"v1")
    current = store.swap(path, b"v2", stale)
    assert not store.delete_if(path, stale)
    assert store.read(path) == (b"v2", current)


def test_fenced_refuses_entry_once_the_object_changed(store_root: str) -> None:
    store = store_for(store_root)
    path = f"{store_root}/a/lock"
    stale = store.create(path, b"v1")
    store.swap(path, b"v2", stale)
    entered = False
    with pytest.raises(StorageConflict), store.fenced(path, stale):
        entered = True
    assert not entered


def _race(attempt: Callable[[int], Any]) -> list[tuple[str, Any]]:
    """Run ``attempt(i)`` in RACERS threads released together; each outcome is ("won", result) or ("lost", error)."""
    barrier = threading.Barrier(RACERS)
    outcomes: list[tuple[str, Any]] = [("missing", None)] * RACERS

    def run(i: int) -> None:
        barrier.wait()
        try:
            outcomes[i] = ("won", attempt(i))
        except (FileExistsError, StorageConflict) as error:
            outcomes[i] = ("lost", error)
        except Exception as error:  # reported by the assertion below, with the error
            outcomes[i] = ("error", error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not [o for o in outcomes if o[0] not in ("won", "lost")], outcomes
    return outcomes


@pytest.mark.timeout(60)
def test_one_of_eight_threads_creating_the_same_object_wins(store_root: str) -> None:
    store = store_for(store_root)
    path = f"{store_root}/race/lock"
    outcomes = _race(lambda i: store.create(path, f"worker-{i}".encode()))
    winners = [i for i, (kind, _) in enumerate(outcomes) if kind == "won"]
    assert len(winners) == 1
    assert store.read(path) == (f"worker-{winners[0]}".encode(), outcomes[winners[0]][1])


@pytest.mark.timeout(60)
def test_one_of_eight_threads_swapping_the_same_version_wins(store_root: str) -> None:
    store = store_for(store_root)
    path = f"{store_root}/race/lock"
    token = store.create(path, b"initial")
    outcomes = _race(lambda i: store.swap(path, f"worker-{i}".encode(), token))
    winners = [i for i, (kind, _) in enumerate(outcomes) if kind == "won"]
    assert len(winners) == 1
    assert store.read(path) == (f"worker-{winners[0]}".encode(), outcomes[winners[0]][1])


_WON, _LOST = 10, 11


def _create_in_child(path: str, data: bytes, barrier: Any) -> None:
    store = store_for(path)  # inherited from the parent: must rebuild its connection in this process
    store.read(f"{path}.warm-up")  # connect before the race, so the start is even
    barrier.wait(timeout=30)
    try:
        store.create(path, data)
    except FileExistsError:
        sys.exit(_LOST)
    sys.exit(_WON)


@pytest.mark.timeout(90)
def test_one_of_eight_processes_creating_the_same_object_wins(store_root: str) -> None:
    if store_root.startswith("memory://"):
        pytest.skip("memory:// is private to each process: processes cannot race on it")
    path = f"{store_root}/race/lock"
    store = store_for(path)
    store.read(path)  # the parent has a live connection when it forks
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(RACERS)
    children = [
        context.Process(target=_create_in_child, args=(path, f"worker-{i}".encode(), barrier)) for i in range(RACERS)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=60)
    codes = [child.exitcode for child in children]
    assert sorted(code or 0 for code in codes) == [_WON] + [_LOST] * (RACERS - 1), codes
    assert store.read(path)[0] == f"worker-{codes.index(_WON)}".encode()  # type: ignore[index]


@pytest.fixture(params=["gs", "s3"])
def restartable(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[GcsServer | MotoServer, str, type[GcsStore] | type[S3Store]]]:
    """A dedicated server whose buckets survive a restart on its port, the root of a bucket on it, the store class."""
    server: GcsServer | MotoServer
    if request.param == "gs":
        server = start_gcs_server(root=tmp_path / "gcs")
        use_gcs(monkeypatch, server.url)
    else:
        server = InProcessMoto()
        server.start()
        use_s3(monkeypatch, server.url)
    try:
        store_class = GcsStore if request.param == "gs" else S3Store
        yield server, f"{request.param}://{server.make_bucket()}", store_class
    finally:
        server.stop()


@pytest.mark.timeout(60)
def test_an_operation_completes_when_the_server_comes_back_within_the_retry_budget(restartable: Any) -> None:
    server, root, store_class = restartable
    store = store_class(retry_timeout=20)
    path = f"{root}/a/lock"
    store.read(path)  # leaves a pooled connection to the server that is about to die
    server.stop()
    restart = threading.Timer(0.5, server.start)
    restart.start()
    try:
        token = store.create(path, b"written across a restart")
    finally:
        restart.join()
    assert store.read(path) == (b"written across a restart", token)


def test_an_operation_names_the_path_when_the_server_stays_down(restartable: Any) -> None:
    server, root, store_class = restartable
    store = store_class(retry_timeout=0.3)
    server.stop()
    with pytest.raises(StorageUnavailable, match=f"create {root}/a/lock"):
        store.create(f"{root}/a/lock", b"never written")


@pytest.mark.timeout(60)
def test_a_batch_read_completes_when_the_server_comes_back_within_the_retry_budget(restartable: Any) -> None:
    server, root, store_class = restartable
    store = store_class(retry_timeout=20)
    paths = [f"{root}/batch/{i}" for i in range(10)]
    store.write(paths[4], b"four")
    server.stop()
    restart = threading.Timer(0.5, server.start)
    restart.start()
    try:
        found = store.read_many(paths)
    finally:
        restart.join()
    assert [f if f is None else f[0] for f in found] == [None] * 4 + [b"four"] + [None] * 5


def test_a_batch_read_names_each_path_when_the_server_stays_down(restartable: Any) -> None:
    server, root, store_class = restartable
    store = store_class(retry_timeout=0.3)
    store.read(f"{root}/warm")  # the session exists, so the batch itself is attempted
    server.stop()
    paths = [f"{root}/down/{i}" for i in range(3)]
    found = store.read_many(paths)
    assert all(isinstance(f, StorageUnavailable) for f in found)
    assert all(
        str(f).startswith(f"read {path}: the object store did not answer") for f, path in zip(found, paths, strict=True)
    )


class _ReplyDroppingProxy:
    """A TCP proxy to a loopback port; once armed, it swallows the next reply and cuts that connection.

    The server has then applied the request, but the client never hears of it: a lost reply.
    """

    def __init__(self, upstream_url: str) -> None:
        self._upstream_port = int(upstream_url.rsplit(":", 1)[1])
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._armed = threading.Event()
        self.dropped = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def drop_next_reply(self) -> None:
        self._armed.set()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self._upstream_port))
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, carries_replies: bool) -> None:
        try:
            while chunk := source.recv(65536):
                while carries_replies and self._armed.is_set() and chunk.startswith(b"HTTP/1.1 100 "):
                    # An interim "100 Continue" (botocore sends Expect: 100-continue) is not the reply to drop.
                    interim, separator, chunk = chunk.partition(b"\r\n\r\n")
                    sink.sendall(interim + separator)
                if not chunk:
                    continue
                if carries_replies and self._armed.is_set():
                    self._armed.clear()
                    self.dropped += 1
                    break
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()


@pytest.fixture(params=["gs", "s3"])
def behind_lossy_proxy(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[_ReplyDroppingProxy, GcsStore | S3Store, str]]:
    """The session server of a backend seen through a _ReplyDroppingProxy: (proxy, a store using it, bucket root)."""
    if request.param == "gs":
        root = request.getfixturevalue("gcs_bucket")
        proxy = _ReplyDroppingProxy(request.getfixturevalue("gcs_emulator").url)
        use_gcs(monkeypatch, proxy.url)
        store: GcsStore | S3Store = GcsStore(retry_timeout=20)
    else:
        root = request.getfixturevalue("s3_bucket")
        proxy = _ReplyDroppingProxy(request.getfixturevalue("s3_server").url)
        use_s3(monkeypatch, proxy.url)
        store = S3Store(retry_timeout=20)
    try:
        yield proxy, store, root
    finally:
        proxy.close()


@pytest.mark.timeout(60)
def test_create_whose_reply_was_lost_recognises_its_own_write(
    behind_lossy_proxy: Any, caplog: pytest.LogCaptureFixture
) -> None:
    proxy, store, root = behind_lossy_proxy
    path = f"{root}/a/lock"
    proxy.drop_next_reply()
    with caplog.at_level(logging.INFO, logger="marin_exec"):
        token = store.create(path, b"mine")
    assert proxy.dropped == 1
    assert "reply was lost" in caplog.text  # the retry met the precondition and read our bytes back
    assert store.read(path) == (b"mine", token)


@pytest.mark.timeout(60)
def test_swap_whose_reply_was_lost_recognises_its_own_write(
    behind_lossy_proxy: Any, caplog: pytest.LogCaptureFixture
) -> None:
    proxy, store, root = behind_lossy_proxy
    path = f"{root}/a/lock"
    first = store.create(path, b"v1")
    proxy.drop_next_reply()
    with caplog.at_level(logging.INFO, logger="marin_exec"):
        token = store.swap(path, b"v2", first)
    assert proxy.dropped == 1
    assert "reply was lost" in caplog.text
    assert store.read(path) == (b"v2", token)


def test_gcs_store_follows_a_changed_storage_emulator_host(
    gcs_bucket: str, gcs_emulator: GcsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = GcsStore()  # like the one store_for caches for the whole process
    path = f"{gcs_bucket}/a/lock"
    store.create(path, b"on the session emulator")
    other = start_gcs_server()
    try:
        other.make_bucket(gcs_bucket.removeprefix("gs://"))
        use_gcs(monkeypatch, other.url)
        assert store.read(path) is None
        use_gcs(monkeypatch, gcs_emulator.url)
        assert store.read(path) is not None
    finally:
        other.stop()
