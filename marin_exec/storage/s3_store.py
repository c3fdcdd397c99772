"""Atomic small objects on ``s3://``: ``If-None-Match: *`` creates, ``If-Match: <etag>`` swaps; the token is the ETag.

Requests go straight to the botocore client of an s3fs filesystem, so each operation is one request whose errors
keep their HTTP status: ``read`` is one ``GetObject`` (bytes and ETag together), a failed precondition is a 412
whichever condition failed (s3fs itself maps only ``If-None-Match`` to FileExistsError and a stale ``If-Match`` to
OSError EINVAL). Transient failures (connection errors, timeouts, 408/429/5xx, 409 ConditionalRequestConflict) are
retried within the budget as in ``gcs_store``, and a lost reply is recognised the same way (``object_store``): that
matters here even without our retries, because aiohttp silently re-sends a PUT or DELETE once when its connection
drops, and the re-sent conditional PUT then fails the precondition its first copy satisfied.

Endpoint and credentials come from the environment through botocore: ``AWS_ENDPOINT_URL_S3`` or
``AWS_ENDPOINT_URL`` (read when the client is built), ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_PROFILE``,
``AWS_DEFAULT_REGION``. fsspec's ``FSSPEC_S3_ENDPOINT_URL`` works too, but fsspec reads it once, when it is imported.
The client is rebuilt when one of these variables changes or after a fork.

An ETag is the MD5 of the bytes, so rewriting identical bytes gives the same token: tokens tell versions apart only
because lease and status records differ (worker id, time). Deliberately not done: no listing, no caching, no lease
logic, no multipart uploads (records are small).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import Any

from marin_exec.errors import StorageConflict
from marin_exec.storage.object_store import CREATE, ObjectStore, split_bucket_path
from marin_exec.storage.protocol import Found, Token

logger = logging.getLogger(__name__)

# The variables that choose where requests go and as whom; a change rebuilds the client.
_ENVIRONMENT = (
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
)
_TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}


class S3Store(ObjectStore):
    """``AtomicStore`` for ``s3://`` paths (see the module docstring). Safe to share between threads."""

    # S3-compatible servers other than AWS may ignore If-Match on DELETE; release swaps first
    conditional_delete = False
    token_name = "ETag"
    environment = _ENVIRONMENT

    def read(self, path: str) -> tuple[bytes, Token] | None:
        bucket, key = split_bucket_path(path)

        def attempt(retried: bool) -> tuple[bytes, Token] | None:
            try:
                response = self._call("get_object", Bucket=bucket, Key=key)
            except Exception as error:
                if _status(error) == 404:
                    return None
                raise
            return response["Body"], response["ETag"]

        return self._retrying(f"read {path}", attempt)

    def read_many(self, paths: Sequence[str]) -> list[Found]:
        """``read`` of every path, the requests overlapped on s3fs's event loop (one thread hand-off for the
        batch); the requests that failed transiently are retried together under one retry budget."""
        fs = self._filesystem()

        async def one(path: str) -> tuple[bytes, Token] | None:
            bucket, key = split_bucket_path(path)
            try:
                response = await _client_call(fs, "get_object", {"Bucket": bucket, "Key": key})
            except Exception as error:
                if _status(error) == 404:
                    return None
                raise
            return response["Body"], response["ETag"]

        return self._read_overlapped(fs.loop, one, paths)

    def create(self, path: str, data: bytes) -> Token:
        bucket, key = split_bucket_path(path)
        return self._conditional_put(
            path,
            data,
            CREATE,
            lambda: self._call("put_object", Bucket=bucket, Key=key, Body=data, IfNoneMatch="*")["ETag"],
            lambda error: _status(error) == 412,
        )

    def swap(self, path: str, data: bytes, expected: Token) -> Token:
        bucket, key = split_bucket_path(path)
        return self._conditional_put(
            path,
            data,
            expected,
            lambda: self._call("put_object", Bucket=bucket, Key=key, Body=data, IfMatch=expected)["ETag"],
            lambda error: _status(error) in (404, 412),
        )

    def delete_if(self, path: str, expected: Token) -> bool:
        bucket, key = split_bucket_path(path)

        def attempt(retried: bool) -> bool:
            try:
                self._call("delete_object", Bucket=bucket, Key=key, IfMatch=expected)
            except Exception as error:
                if _status(error) == 412:
                    return False
                if _status(error) == 404:
                    # Already gone. After an attempt that got no reply, that attempt most likely deleted it.
                    return retried
                raise
            return True

        return self._retrying(f"delete {path}", attempt)

    def write(self, path: str, data: bytes) -> None:
        bucket, key = split_bucket_path(path)
        self._retrying(f"write {path}", lambda retried: self._call("put_object", Bucket=bucket, Key=key, Body=data))

    @contextlib.contextmanager
    def fenced(self, path: str, expected: Token) -> Iterator[None]:
        bucket, key = split_bucket_path(path)

        def attempt(retried: bool) -> str | None:
            try:
                return self._call("head_object", Bucket=bucket, Key=key)["ETag"]
            except Exception as error:
                if _status(error) == 404:
                    return None
                raise

        current = self._retrying(f"check {path}", attempt)
        if current != expected:
            raise StorageConflict(f"{path}: expected ETag {expected}, found {current}; it changed since it was read")
        yield

    def _call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        """One request on the botocore client, no retries (s3fs's and botocore's are switched off)."""
        from fsspec.asyn import sync

        fs = self._filesystem()
        return sync(fs.loop, _client_call, fs, method, kwargs)

    @staticmethod
    def _is_transient(error: BaseException) -> bool:
        import aiohttp
        from botocore.exceptions import ConnectionError, HTTPClientError

        status = _status(error)
        if status is not None:
            code = error.response.get("Error", {}).get("Code")  # type: ignore[attr-defined]
            return status in _TRANSIENT_STATUS or code == "ConditionalRequestConflict"
        return isinstance(error, ConnectionError | HTTPClientError | aiohttp.ClientError | TimeoutError)

    def _build_filesystem(self) -> Any:
        from marin_exec.extras import import_extra

        s3fs = import_extra("s3fs", extra="s3", needed_for="s3:// storage")

        fs = s3fs.S3FileSystem(
            use_listings_cache=False,
            skip_instance_cache=True,
            config_kwargs={
                "retries": {"total_max_attempts": 1},
                "connect_timeout": self.request_timeout,
                "read_timeout": self.request_timeout,
            },
        )
        fs.retries = 1  # s3fs's own retry loop; ours decides
        return fs


async def _client_call(fs: Any, method: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    client = await fs.set_session()
    response: dict[str, Any] = await getattr(client, method)(**kwargs)
    if method == "get_object":
        async with response["Body"] as stream:
            response["Body"] = await stream.read()
    return response


def _status(error: BaseException) -> int | None:
    response = getattr(error, "response", None)  # botocore ClientError
    if not isinstance(response, dict):
        return None
    return response.get("ResponseMetadata", {}).get("HTTPStatusCode")
