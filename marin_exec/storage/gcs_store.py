"""Atomic small objects on ``gs://``: generation preconditions on multipart uploads; the token is the generation.

``create`` is a multipart upload with ``ifGenerationMatch=0``, ``swap`` one with ``ifGenerationMatch=<generation>``
(multipart is the only upload type on which fake-gcs-server, the test emulator, checks preconditions; for real GCS
it is an ordinary JSON-API upload). ``read`` is a single ``GET ?alt=media`` whose ``X-Goog-Generation`` header is the
token, so bytes and version always come from the same write.

Transient failures (connection errors, timeouts, 408/429/5xx) are retried with backoff for ``retry_timeout`` seconds
per operation, then ``StorageUnavailable`` names the path. A failed precondition (412) is never retried; how a lost
reply is recognised, and the client cache, are shared with S3 in ``storage.object_store``.

Endpoint: ``STORAGE_EMULATOR_HOST`` selects an emulator (with anonymous credentials), as gcsfs does. It is looked up
on every operation, so the one store ``store_for`` caches per process follows a changed variable, and a forked
process builds its own connection. The store uses ``gcsfs.core.GCSFileSystem`` directly, never the experimental
class ``gcsfs.GCSFileSystem`` may be bound to, so ``GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT`` does not matter here and the
environment is left untouched (other fsspec users of ``gs://`` against an emulator still need it set to ``false``
before gcsfs is imported, see tests/conftest_stores.py).

``stat_many`` answers size, generation and MD5 of many objects in batches of 100 calls (``storage.gcs_batch``), so
a cached re-run need not download each status and artifact; an endpoint without batch support is asked once.

Deliberately not done: no listing, no caching, no interpretation of the bytes, no lease logic. ``delete_if`` sends
``ifGenerationMatch``, which GCS enforces but fake-gcs-server v1.54 ignores: code whose safety rests on a
conditional delete is untested by the emulator, so release a lease by swapping in a "released" record instead.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from marin_exec.errors import MarinExecError, StorageConflict
from marin_exec.storage.object_store import CREATE, ObjectStore, split_bucket_path
from marin_exec.storage.protocol import Found, ObjectStat, Token

logger = logging.getLogger(__name__)


class GcsStore(ObjectStore):
    """``AtomicStore`` for ``gs://`` paths (see the module docstring). Safe to share between threads."""

    # fake-gcs-server ignores ifGenerationMatch on DELETE, so leases are released by a swap first
    conditional_delete = False
    token_name = "generation"
    environment = ("STORAGE_EMULATOR_HOST",)  # decides anonymous credentials
    #: The filesystem (so the endpoint and process) whose batch endpoint refused batches; asked no more.
    _batches_refused_by: Any = None

    def read(self, path: str) -> tuple[bytes, Token] | None:
        def attempt(retried: bool) -> tuple[bytes, Token] | None:
            try:
                headers, body = self._call("GET", "b/{}/o/{}", *split_bucket_path(path), alt="media")
            except FileNotFoundError:
                return None
            return _with_generation(path, headers, body)

        return self._retrying(f"read {path}", attempt)

    def read_many(self, paths: Sequence[str]) -> list[Found]:
        """``read`` of every path, the requests overlapped on gcsfs's event loop (one thread hand-off for the
        batch). Each request is a bare GET on gcsfs's session with the headers computed once per batch, which costs
        much less CPU per object than ``read`` (the CPU of our process bounds a cached re-run on GCS); errors are
        mapped by gcsfs's own ``validate_response``, and the requests that failed transiently are retried together
        under one retry budget."""
        from gcsfs.core import quote
        from gcsfs.retry import validate_response

        fs = self._filesystem()
        try:  # credentials applied once for the whole batch (a token refresh is retried like a request)
            headers = self._retrying(
                "authorize a batch read", lambda retried: fs._get_headers(None), reaches_endpoint=False
            )
        except Exception as error:
            return [error] * len(paths)
        params = fs._get_params({"alt": "media"})
        url = fs.base + "b/{}/o/{}"

        async def one(path: str) -> tuple[bytes, Token] | None:
            bucket, key = split_bucket_path(path)
            session = await fs._set_session()
            target = url.format(quote(bucket), quote(key))
            async with session.get(target, params=params, headers=headers, timeout=fs.requests_timeout) as response:
                body = await response.read()
                if response.status == 404:
                    return None
                validate_response(response.status, body, path)
                return _with_generation(path, response.headers, body)

        return self._read_overlapped(fs.loop, one, paths)

    def stat_many(self, paths: Sequence[str]) -> list[ObjectStat | None | Exception] | None:
        """Each object's size, generation and MD5 (None: it does not exist), or the exception in its place, from
        batches of metadata calls; None for the whole list when the endpoint serves no batches."""
        from marin_exec.storage.gcs_batch import BatchRefused, stat_many

        fs = self._filesystem()
        if self._batches_refused_by is fs:
            return None
        stats: list[ObjectStat | None | Exception] = []
        objects, asked = [], []
        for i, path in enumerate(paths):
            try:
                objects.append(split_bucket_path(path))
                asked.append(i)
                stats.append(None)
            except ValueError as error:
                stats.append(error)
        try:
            answers = stat_many(fs, objects) if objects else []
        except BatchRefused as error:
            logger.info(f"{error}; reading objects one by one from now on (this endpoint)")
            self._batches_refused_by = fs
            return None
        for i, answer in zip(asked, answers, strict=True):
            stats[i] = answer
        return stats

    def create(self, path: str, data: bytes) -> Token:
        return self._conditional_put(
            path, data, CREATE, lambda: self._upload(path, data, 0), lambda error: isinstance(error, FileExistsError)
        )

    def swap(self, path: str, data: bytes, expected: Token) -> Token:
        return self._conditional_put(
            path,
            data,
            expected,
            lambda: self._upload(path, data, int(expected)),
            # 412: another generation; 404: the bucket is gone
            lambda error: isinstance(error, (FileExistsError, FileNotFoundError)),
        )

    def delete_if(self, path: str, expected: Token) -> bool:
        bucket, key = split_bucket_path(path)

        def attempt(retried: bool) -> bool:
            try:
                self._call("DELETE", "b/{}/o/{}", bucket, key, ifGenerationMatch=str(int(expected)))
            except FileExistsError:  # 412
                return False
            except FileNotFoundError:
                # Already gone. After an attempt that got no reply, that attempt most likely deleted it.
                return retried
            return True

        return self._retrying(f"delete {path}", attempt)

    def write(self, path: str, data: bytes) -> None:
        self._retrying(f"write {path}", lambda retried: self._upload(path, data, if_generation_match=None))

    @contextlib.contextmanager
    def fenced(self, path: str, expected: Token) -> Iterator[None]:
        bucket, key = split_bucket_path(path)

        def attempt(retried: bool) -> int | None:
            try:
                _, content = self._call("GET", "b/{}/o/{}", bucket, key, fields="generation")
            except FileNotFoundError:
                return None
            return int(json.loads(content)["generation"])

        current = self._retrying(f"check {path}", attempt)
        if current != int(expected):
            raise StorageConflict(f"{path}: expected generation {expected}, found {current}; it changed since read")
        yield

    def _upload(self, path: str, data: bytes, if_generation_match: int | None) -> int:
        bucket, key = split_bucket_path(path)
        boundary = uuid.uuid4().hex
        body = b"".join(
            [
                f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n".encode(),
                json.dumps({"name": key}).encode(),
                f"\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\n\r\n".encode(),
                data,
                f"\r\n--{boundary}--".encode(),
            ]
        )
        conditions = {} if if_generation_match is None else {"ifGenerationMatch": str(if_generation_match)}
        _, content = self._call(
            "POST",
            self._filesystem()._location + "/upload/storage/v1/b/{}/o",
            bucket,
            uploadType="multipart",
            headers={"Content-Type": f'multipart/related; boundary="{boundary}"'},
            data=body,
            **conditions,
        )
        return int(json.loads(content)["generation"])

    def _call(self, method: str, url: str, *args: str, **kwargs: Any) -> tuple[Any, bytes]:
        """One HTTP request, no retries: gcsfs's own retry (6 tries, up to ~35 s) would hide lost replies."""
        from fsspec.asyn import sync

        fs = self._filesystem()
        _status, headers, _info, content = sync(fs.loop, _unretried_request(), fs, method, url, *args, **kwargs)
        return headers, content

    @staticmethod
    def _is_transient(error: BaseException) -> bool:
        from gcsfs.retry import is_retriable

        return isinstance(error, TimeoutError) or is_retriable(error)

    def _build_filesystem(self) -> Any:
        import aiohttp
        from gcsfs.core import GCSFileSystem

        emulator = os.environ.get("STORAGE_EMULATOR_HOST", "")
        return GCSFileSystem(
            token="anon" if emulator not in ("", "default") else None,
            use_listings_cache=False,
            skip_instance_cache=True,
            requests_timeout=aiohttp.ClientTimeout(total=self.request_timeout),
        )


def _unretried_request() -> Any:
    """gcsfs's coroutine for one HTTP request, without its retry decorator."""
    from gcsfs.core import GCSFileSystem

    return getattr(GCSFileSystem._request, "__wrapped__", GCSFileSystem._request)


def _with_generation(path: str, headers: Any, body: bytes) -> tuple[bytes, Token]:
    if "X-Goog-Generation" not in headers:
        raise MarinExecError(
            f"{path}: the GCS endpoint sent no X-Goog-Generation header, so writes cannot be made atomic; "
            "use real GCS or fake-gcs-server (gcp-storage-emulator does not implement generations)"
        )
    return body, int(headers["X-Goog-Generation"])
