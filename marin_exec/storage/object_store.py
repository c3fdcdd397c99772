"""What the GCS and S3 stores share: conditional writes that recognise their own lost replies, the retry budget
per operation, the per-process client cache, and ``bucket/key`` paths.

A failed precondition (412, or a 404 on swap) is never retried, but the object is read back: if it holds exactly
our bytes, an earlier copy of this request landed and its reply was lost (our own retry, or the HTTP client's
silent re-send), so the write counts as ours. Writers must therefore write bytes no other writer would (lease
records carry a worker id and a time). This module sends no request itself: each backend says how to.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from marin_exec.errors import StorageConflict
from marin_exec.settings import current_run_settings
from marin_exec.storage.protocol import Token, strip_protocol
from marin_exec.storage.retry import DEFAULT_REQUEST_TIMEOUT, Contact, overlapped_retrying, retry_transient

logger = logging.getLogger(__name__)

T = TypeVar("T")

CREATE: Any = object()
"""``expected`` of a ``_conditional_put`` that creates the object (it must not exist yet)."""


class ObjectStore:
    """Base of ``GcsStore`` and ``S3Store``: subclasses give ``read``, the requests and what is transient."""

    atomic = True
    #: Servers compatible with GCS/S3 (the emulators) may ignore the condition on DELETE: release swaps first.
    conditional_delete = False
    #: What the token is called in messages ("generation", "ETag").
    token_name = "version"
    #: Environment variables that choose the endpoint and credentials: a change rebuilds the client.
    environment: tuple[str, ...] = ()

    def __init__(self, retry_timeout: float | None = None, request_timeout: float = DEFAULT_REQUEST_TIMEOUT) -> None:
        self._retry_timeout = retry_timeout  # None: the run's store_retry_timeout (settings), 60 s outside a run
        self.request_timeout = request_timeout
        self._lock = threading.Lock()
        self._contact = Contact()
        # ((pid, *environment), filesystem): rebuilt after a fork (the old one is bound to the parent's event
        # loop) or when a variable of ``environment`` changes.
        self._cached: tuple[tuple[Any, ...], Any] | None = None

    def read(self, path: str) -> tuple[bytes, Token] | None:
        raise NotImplementedError

    @property
    def retry_timeout(self) -> float:
        """Seconds a request is retried through transient errors once the endpoint has answered."""
        if self._retry_timeout is not None:
            return self._retry_timeout
        return current_run_settings().store_retry_budget

    @property
    def contact(self) -> Contact:
        """Whether this process's endpoint (``environment``) has answered yet."""
        self._filesystem()
        return self._contact

    @staticmethod
    def _is_transient(error: BaseException) -> bool:
        raise NotImplementedError

    def _build_filesystem(self) -> Any:
        raise NotImplementedError

    def _filesystem(self) -> Any:
        """The backend's fsspec filesystem, one per process and environment."""
        key = (os.getpid(), *(os.environ.get(name, "") for name in self.environment))
        cached = self._cached
        if cached is not None and cached[0] == key:
            return cached[1]
        with self._lock:
            if self._cached is None or self._cached[0] != key:
                self._cached = (key, self._build_filesystem())
                self._contact = Contact()  # another endpoint or process: not answered yet
            return self._cached[1]

    def _retrying(self, what: str, attempt: Callable[[bool], T], *, reaches_endpoint: bool = True) -> T:
        """``attempt`` under the retry budget; ``reaches_endpoint`` False: its success says nothing of the endpoint."""
        contact = self.contact if reaches_endpoint else None
        return retry_transient(
            attempt, what=what, is_transient=self._is_transient, timeout=self.retry_timeout, contact=contact
        )

    def _read_overlapped(self, loop: Any, one: Callable[[str], Any], paths: Sequence[str]) -> list[Any]:
        """``one(path)`` for every path, overlapped on the filesystem's ``loop``, each under the retry budget."""
        return overlapped_retrying(
            loop,
            one,
            paths,
            what="read {}".format,
            is_transient=self._is_transient,
            timeout=self.retry_timeout,
            contact=self.contact,
        )

    def _conditional_put(
        self, path: str, data: bytes, expected: Token, put: Callable[[], Token], lost_race: Callable[[Exception], bool]
    ) -> Token:
        """``put()`` under the retry budget. When ``lost_race`` says its precondition failed: our token if the object
        holds exactly ``data``, else ``FileExistsError`` (``expected`` is ``CREATE``) or ``StorageConflict``."""

        def attempt(retried: bool) -> Token:
            try:
                return put()
            except Exception as error:
                if not lost_race(error):
                    raise
            current = self.read(path)
            if current is not None and current[0] == data:
                logger.info(
                    f"{path}: already holds our bytes, written by an attempt whose reply was lost; counting it as ours"
                )
                return current[1]
            if expected is CREATE:
                raise FileExistsError(f"{path} already exists (another writer created it first)")
            raise StorageConflict(
                f"{path}: no longer at {self.token_name} {expected} (rewritten or deleted since it was read); "
                "read it again and decide from what is there now"
            )

        return self._retrying(f"{'create' if expected is CREATE else 'swap'} {path}", attempt)


def split_bucket_path(path: str) -> tuple[str, str]:
    """``gs://bucket/a/b`` -> (``bucket``, ``a/b``); ValueError naming the path when either part is missing."""
    protocol, rest = strip_protocol(path)
    bucket, _, key = rest.partition("/")
    if not bucket or not key:
        raise ValueError(f"not a {protocol}://bucket/object path: {path}")
    return bucket, key
