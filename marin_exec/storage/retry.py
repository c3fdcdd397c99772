"""``retry_transient``: retry an object-store request through transient failures for a bounded time.

Shared by the GCS and S3 stores. It retries only what ``is_transient`` accepts (never a failed precondition)
and raises ``StorageUnavailable`` naming the operation when the budget runs out. ``overlapped`` is their batch
read: many requests in flight on the store's event loop at once, each answer or error returned in order.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from marin_exec.errors import StorageUnavailable

logger = logging.getLogger(__name__)

T = TypeVar("T")
S = TypeVar("S")

#: Requests one batch read keeps in flight at once.
MAX_IN_FLIGHT = 64

DEFAULT_RETRY_TIMEOUT = 60.0
DEFAULT_REQUEST_TIMEOUT = 30.0
_FIRST_DELAY = 0.05
_MAX_DELAY = 5.0


def retry_transient(
    attempt: Callable[[bool], T], *, what: str, is_transient: Callable[[BaseException], bool], timeout: float
) -> T:
    """Call ``attempt(retried)`` until it returns or fails for good, retrying transient errors for ``timeout`` s.

    ``retried`` is True once an earlier attempt failed transiently: that attempt may have been applied by the server
    even though its reply was lost (``delete_if`` reads a 404 after it as its own delete). Shared by the S3 store.
    """
    deadline = time.monotonic() + timeout
    delay = _FIRST_DELAY
    retried = False
    while True:
        try:
            return attempt(retried)
        except Exception as error:
            if isinstance(error, StorageUnavailable) or not is_transient(error):
                raise
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _unavailable(what, timeout, error) from error
            if not retried:
                logger.warning(f"{what}: transient error {error!r}; retrying for up to {timeout:g} s")
            retried = True
            time.sleep(min(delay * random.uniform(0.5, 1.5), remaining))
            delay = min(delay * 2, _MAX_DELAY)


def _unavailable(what: str, timeout: float, error: BaseException) -> StorageUnavailable:
    return StorageUnavailable(
        f"{what}: the object store did not answer within {timeout:g} s (last error: {error!r}); "
        "check that its endpoint is reachable, or give the store a longer retry_timeout"
    )


def overlapped_retrying(
    loop: Any,
    one: Callable[[S], Awaitable[T]],
    items: Sequence[S],
    *,
    what: Callable[[S], str],
    is_transient: Callable[[BaseException], bool],
    timeout: float,
) -> list[T | Exception]:
    """``overlapped``, then the items that failed transiently again, together, with backoff, until they answer or
    ``timeout`` seconds pass (one budget for the whole batch: a slow item does not hold the others back); an item
    still failing then gets StorageUnavailable naming it (``what(item)``)."""
    results = overlapped(loop, one, items)
    deadline = time.monotonic() + timeout
    delay = _FIRST_DELAY
    warned = False
    while True:
        pending = [i for i, r in enumerate(results) if isinstance(r, Exception) and is_transient(r)]
        if not pending:
            return results
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            for i in pending:
                results[i] = _unavailable(what(items[i]), timeout, results[i])  # type: ignore[arg-type]
            return results
        if not warned:  # once per batch, naming the error: the outcome (answer or StorageUnavailable) follows
            warned = True
            logger.warning(
                f"{what(items[pending[0]])} and {len(pending) - 1} more: transient error {results[pending[0]]!r}; "
                f"retrying for up to {timeout:g} s"
            )
        time.sleep(min(delay * random.uniform(0.5, 1.5), remaining))
        delay = min(delay * 2, _MAX_DELAY)
        for i, result in zip(pending, overlapped(loop, one, [items[i] for i in pending]), strict=True):
            results[i] = result


def overlapped(loop: Any, one: Callable[[S], Awaitable[T]], items: Sequence[S]) -> list[T | Exception]:
    """``one(item)`` for every item on the event ``loop`` (fsspec's), at most MAX_IN_FLIGHT at a time, from a
    synchronous caller: the results in order, with an exception in place of a result that raised one."""
    from fsspec.asyn import sync

    async def run_all() -> list[T | Exception]:
        limit = asyncio.Semaphore(MAX_IN_FLIGHT)

        async def guarded(item: S) -> T | Exception:
            async with limit:
                try:
                    return await one(item)
                except Exception as error:
                    return error

        return list(await asyncio.gather(*(guarded(item) for item in items)))

    if not items:
        return []
    result: list[T | Exception] = sync(loop, run_all)
    return result
