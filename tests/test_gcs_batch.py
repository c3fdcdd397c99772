"""Metadata of many GCS objects per request (``storage.gcs_batch``) and the reads built on it (``read_known``,
``exist_many``, ``read_statuses``), against fake-gcs-server, and through an HTTP proxy that counts the requests."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from marin_exec import STATUS_FAILED, STATUS_RUNNING, STATUS_SUCCESS, Artifact, StatusFile
from marin_exec.status.step_status import read_statuses
from marin_exec.storage.gcs_batch import parse_response
from marin_exec.storage.gcs_store import GcsStore
from marin_exec.storage.protocol import ObjectStat
from marin_exec.storage.store import exist_many, read_known, read_many, register_store, store_for
from tests.conftest_stores import use_gcs

# Names a Marin step may have (DESIGN §4 as Marin spells them): the batch calls must quote them like a GET does.
ODD_NAMES = ["plain", "with space", "lr=3e-4,wd=0.1", "a:b", "naïve", "x+y", "50%", "q?a#b", "tab\tname"]


class CountingProxy:
    """An HTTP proxy to the emulator that records each request's method and path; optionally it answers every batch
    request itself with ``batch_answer`` (status, body): 404 as a GCS-compatible server without batch support would,
    503 as an overloaded one."""

    def __init__(self, upstream: str, batch_answer: tuple[int, bytes] | None = None) -> None:
        self.requests: list[tuple[str, str]] = []
        target = urlsplit(upstream)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
                proxy.requests.append((self.command, self.path))
                if batch_answer is not None and self.path.startswith("/batch/"):
                    self._answer(batch_answer[0], [("Content-Type", "text/plain")], batch_answer[1])
                    return
                upstream_conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                    upstream_conn.request(self.command, self.path, body=body or None, headers=headers)
                    reply = upstream_conn.getresponse()
                    content = reply.read()
                    skip = ("transfer-encoding", "connection", "content-length")
                    kept = [(k, v) for k, v in reply.getheaders() if k.lower() not in skip]
                    self._answer(reply.status, kept, content)
                finally:
                    upstream_conn.close()

            def _answer(self, status: int, headers: list[tuple[str, str]], content: bytes) -> None:
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self, method: str, path_start: str) -> int:
        return sum(1 for m, p in self.requests if m == method and p.startswith(path_start))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fresh_gcs_store() -> Iterator[GcsStore]:
    """A GcsStore of its own for ``gs://`` (so a store that stopped batching does not outlive the test)."""
    store = GcsStore()
    register_store("gs", lambda: store)
    try:
        yield store
    finally:
        register_store("gs", GcsStore)


@pytest.fixture
def through_proxy(
    gcs_emulator: Any, monkeypatch: pytest.MonkeyPatch, fresh_gcs_store: GcsStore
) -> Iterator[Callable[[tuple[int, bytes] | None], CountingProxy]]:
    """Start a CountingProxy in front of the emulator and point ``gs://`` at it (``through_proxy(batch_answer)``)."""
    proxies: list[CountingProxy] = []

    def start(batch_answer: tuple[int, bytes] | None) -> CountingProxy:
        proxies.append(CountingProxy(gcs_emulator.url, batch_answer))
        use_gcs(monkeypatch, proxies[-1].url)
        return proxies[-1]

    yield start
    for proxy in proxies:
        proxy.close()


@pytest.fixture
def counted(gcs_bucket: str, through_proxy: Callable[..., CountingProxy]) -> tuple[CountingProxy, str]:
    """(proxy, bucket root): the bucket of ``gcs_bucket`` seen through a CountingProxy."""
    return through_proxy(None), gcs_bucket


def test_stat_many_answers_each_objects_size_generation_and_md5_across_batches(gcs_bucket: str) -> None:
    store = store_for(gcs_bucket)
    paths = [f"{gcs_bucket}/{name}/{i}/obj" for i in range(23) for name in ODD_NAMES]  # 207 paths: three batches
    for i, path in enumerate(paths):
        if i % 3:
            store.write(path, f"bytes of {i}".encode())
    stats = store.stat_many(paths)
    assert stats is not None and len(stats) == len(paths)
    for i, (path, stat) in enumerate(zip(paths, stats, strict=True)):
        if i % 3 == 0:
            assert stat is None, path
            continue
        data, token = store.read(path)
        assert stat == ObjectStat(len(data), token, hashlib.md5(data).digest()), path


def test_read_known_and_exist_many_answer_as_reads_do(store_root: str) -> None:
    """On every backend: the same bytes and tokens as ``read_many``, whether or not the bytes were expected."""
    store = store_for(f"{store_root}/x")
    contents = [b"SUCCESS", b"RUNNING", b"something else", None, b'{"status": "SUCCESS"}\n', b"FAILED"]
    paths = [f"{store_root}/{name}/{i}/.executor_status" for i in range(len(contents)) for name in ODD_NAMES[:3]]
    for path, data in zip(paths, [c for c in contents for _ in ODD_NAMES[:3]], strict=True):
        if data is not None:
            store.write(path, data)
    expected = [STATUS_SUCCESS.encode(), STATUS_RUNNING.encode(), STATUS_FAILED.encode()]
    assert read_known(paths, expected) == read_many(paths)
    assert exist_many(paths) == [found is not None for found in read_many(paths)]


def test_a_cached_rerun_on_gcs_downloads_no_status_and_no_artifact(counted: tuple[CountingProxy, str]) -> None:
    """The reason for batches: 150 finished steps cost 4 metadata batches (statuses, then artifacts), not 300 GETs."""
    proxy, root = counted
    outputs = [f"{root}/steps/step-{i}" for i in range(150)]

    def finish(output: str) -> None:
        Artifact.save({"i": 1}, output)
        StatusFile(output).write(STATUS_SUCCESS)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(finish, outputs))
    proxy.requests.clear()
    assert read_statuses(outputs) == [STATUS_SUCCESS] * 150
    assert proxy.count("POST", "/batch/storage/v1") == 4
    assert proxy.count("GET", "") == 0


def test_one_step_alone_is_read_without_a_batch(counted: tuple[CountingProxy, str]) -> None:
    """``StepSpec.read_status`` and the remote pre-check ask about one step: two GETs, as before batches."""
    proxy, root = counted
    Artifact.save(1, f"{root}/one")
    StatusFile(f"{root}/one").write(STATUS_SUCCESS)
    proxy.requests.clear()
    assert read_statuses([f"{root}/one"]) == [STATUS_SUCCESS]
    assert proxy.count("POST", "/batch/") == 0 and proxy.count("GET", "") == 2


def test_statuses_the_metadata_cannot_tell_are_read(counted: tuple[CountingProxy, str]) -> None:
    """An older executor's JSON-lines status is downloaded; so is the info of our SUCCESS whose artifact is missing
    (which makes the step not done)."""
    proxy, root = counted
    older, ours_without_artifact, running = f"{root}/older", f"{root}/ours", f"{root}/running"
    done = f"{root}/done"  # so that the artifacts, too, are asked about in a batch (one alone would be read)
    store = store_for(older)
    store.write(f"{older}/.executor_status", b'{"status": "SUCCESS"}\n')
    store.write(f"{ours_without_artifact}/.executor_info", b'{"executor_version": "marin_exec 0.1.0"}')
    StatusFile(ours_without_artifact).write(STATUS_SUCCESS)
    StatusFile(running).write(STATUS_RUNNING)
    Artifact.save(1, done)
    StatusFile(done).write(STATUS_SUCCESS)
    proxy.requests.clear()
    assert read_statuses([older, ours_without_artifact, running, f"{root}/never", done]) == [
        STATUS_SUCCESS,
        None,
        STATUS_RUNNING,
        None,
        STATUS_SUCCESS,
    ]
    downloaded = sorted(p.split("?")[0].rsplit("%2F", 1)[-1] for m, p in proxy.requests if m == "GET")
    assert downloaded == [".executor_info", ".executor_status"]


def test_an_endpoint_without_batches_is_asked_once_then_read_object_by_object(
    gcs_bucket: str, through_proxy: Callable[..., CountingProxy], fresh_gcs_store: GcsStore
) -> None:
    proxy = through_proxy((404, b"Not Found"))
    outputs = [f"{gcs_bucket}/s{i}" for i in range(5)]
    _finish(outputs[:3])
    for _ in range(2):
        assert read_statuses(outputs) == [STATUS_SUCCESS] * 3 + [None] * 2
    assert proxy.count("POST", "/batch/") == 1
    assert fresh_gcs_store.stat_many(outputs) is None


def test_a_batch_that_fails_as_a_whole_is_read_object_by_object_and_asked_again_next_time(
    gcs_bucket: str, through_proxy: Callable[..., CountingProxy]
) -> None:
    proxy = through_proxy((503, b"overloaded"))
    outputs = [f"{gcs_bucket}/s{i}" for i in range(4)]
    _finish(outputs[:2])
    StatusFile(outputs[2]).write(STATUS_FAILED)
    for _ in range(2):
        assert read_statuses(outputs) == [STATUS_SUCCESS, STATUS_SUCCESS, STATUS_FAILED, None]
    assert proxy.count("POST", "/batch/") == 4  # statuses and artifacts, twice: a 503 is not a refusal


def _finish(outputs: list[str]) -> None:
    """Each output as a finished step of ours: its artifact, then SUCCESS."""
    for output in outputs:
        Artifact.save(1, output)
        StatusFile(output).write(STATUS_SUCCESS)


def _answer(*parts: tuple[bytes, bytes]) -> bytes:
    """A GCS-style batch answer (CRLF lines) of (MIME headers, embedded HTTP answer) parts."""
    body = b"".join(b"--batch_x\r\nContent-Type: application/http\r\n%s\r\n\r\n%s\r\n" % part for part in parts)
    return body + b"--batch_x--\r\n"


def _meta(name: str, data: bytes = b"SUCCESS", generation: int = 42) -> bytes:
    md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
    fields = {"bucket": "b", "name": name, "size": str(len(data)), "generation": str(generation), "md5Hash": md5}
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n" + json.dumps(fields).encode()


def test_batch_answers_are_placed_by_content_id_and_odd_parts_become_errors() -> None:
    """Parts out of order; one call failed, one unanswered, one not HTTP: only the named answers count."""
    objects = [("b", f"k{i}") for i in range(5)]
    content = _answer(
        (b"Content-ID: <response-3>", b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n\r\n{}"),
        (b"Content-ID: <response-0>", _meta("k0")),
        (b"Content-ID: <response-1>", b"HTTP/1.1 503 Service Unavailable\r\n\r\nbackend error"),
        (b"Content-ID: <response-4>", b"garbage"),
    )
    stats = parse_response('multipart/mixed; boundary="batch_x"', content, objects)
    assert stats[0] == ObjectStat(7, 42, hashlib.md5(b"SUCCESS").digest())
    assert stats[3] is None
    assert isinstance(stats[1], OSError) and "503" in str(stats[1])
    assert isinstance(stats[2], OSError) and "no part" in str(stats[2])
    assert isinstance(stats[4], OSError)
    assert all(isinstance(s, OSError) for s in parse_response("text/plain", b"oops", objects[:2]))


def test_batch_answers_that_do_not_name_their_call_or_object_are_not_trusted() -> None:
    """A server answering in its own way (no Content-ID, parts swapped, another object's metadata) must not make
    an absent step look done or a finished one absent: such answers become errors, and the objects are read."""
    objects = [("b", "absent"), ("b", "done")]
    no_ids = _answer((b"", _meta("done")), (b"", b"HTTP/1.1 404 Not Found\r\n\r\n{}"))
    assert all(isinstance(s, OSError) for s in parse_response("multipart/mixed; boundary=batch_x", no_ids, objects))
    swapped = _answer((b"Content-ID: <response-0>", _meta("done")), (b"Content-ID: <response-1>", _meta("absent")))
    stats = parse_response("multipart/mixed; boundary=batch_x", swapped, objects)
    assert all(isinstance(s, OSError) and "where b/" in str(s) for s in stats)
