"""``retry_transient``: retry an object-store request through transient failures for a bounded time.

Shared by the GCS and S3 stores. It retries only what ``is_transient`` accepts (never a failed precondition)
and raises ``StorageUnavailable`` naming the operation when the budget runs out. Until the endpoint has answered
once in this process (``Contact``), a refused connection or a name that does not resolve is retried for
``FIRST_CONTACT_TIMEOUT`` seconds only, then ``StoreUnreachable`` says so in one line: a wrong endpoint fails a dry
run, ``status`` or a run's first read within seconds, while a run that has reached the store (and may hold leases)
rides out an outage for its whole budget. ``overlapped`` is their batch read: many requests in flight on the
store's event loop at once, each answer or error returned in order.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from marin_exec.errors import StorageUnavailable, StoreUnreachable

logger = logging.getLogger(__name__)

T = TypeVar("T")
S = TypeVar("S")

#: Requests one batch read keeps in flight at once.
MAX_IN_FLIGHT = 64

DEFAULT_RETRY_TIMEOUT = 60.0
DEFAULT_REQUEST_TIMEOUT = 30.0
#: How long a refused connection or an unresolvable name is retried before the endpoint has ever answered.
FIRST_CONTACT_TIMEOUT = 3.0
_FIRST_DELAY = 0.05
_MAX_DELAY = 5.0


class Contact:
    """Whether an endpoint has answered this process yet (any reply, an error status included)."""

    def __init__(self) -> None:
        self.answered = False

    def first(self, error: BaseException) -> bool:
        """``error`` is a refused connection or an unresolvable name, and nothing has answered before it."""
        return not self.answered and unreachable(error)


def unreachable(error: BaseException) -> bool:
    """A refused connection or a name that does not resolve: nothing is there (not merely slow or failing)."""
    seen: BaseException | None = error
    for _ in range(8):  # the cause chain of an HTTP client's error is short
        if seen is None:
            return False
        if isinstance(seen, ConnectionRefusedError | socket.gaierror):
            return True
        os_error = getattr(seen, "os_error", None)  # aiohttp's ClientConnectorError keeps it here
        if isinstance(os_error, ConnectionRefusedError | socket.gaierror):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def retry_transient(
    attempt: Callable[[bool], T],
    *,
    what: str,
    is_transient: Callable[[BaseException], bool],
    timeout: float,
    contact: Contact | None = None,
) -> T:
    """Call ``attempt(retried)`` until it returns or fails for good, retrying transient errors for ``timeout`` s
    (``FIRST_CONTACT_TIMEOUT`` while ``contact`` has never answered and nothing is there).

    ``retried`` is True once an earlier attempt failed transiently: that attempt may have been applied by the server
    even though its reply was lost (``delete_if`` reads a 404 after it as its own delete). Shared by the S3 store.
    """
    started = time.monotonic()
    delay = _FIRST_DELAY
    retried = False
    while True:
        try:
            result = attempt(retried)
        except Exception as error:
            first = contact is not None and contact.first(error)
            if isinstance(error, StorageUnavailable) or not is_transient(error):
                if contact is not None and not first:
                    contact.answered = True
                raise
            budget = min(timeout, FIRST_CONTACT_TIMEOUT) if first else timeout
            remaining = started + budget - time.monotonic()
            if remaining <= 0:
                raise (_unreached(what, error) if first else _unavailable(what, timeout, error)) from error
            if not retried and not first:
                logger.warning(f"{what}: transient error {error!r}; retrying for up to {timeout:g} s")
            retried = True
            time.sleep(min(delay * random.uniform(0.5, 1.5), remaining))
            delay = min(delay * 2, _MAX_DELAY)
        else:
            if contact is not None:
                contact.answered = True
            return result


def _unavailable(what: str, timeout: float, error: BaseException) -> StorageUnavailable:
    last = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return StorageUnavailable(
        f"{what}: the object store did not answer within {timeout:g} s (last error: {last}); "
        "check that its endpoint is reachable, or raise --store_retry_timeout"
    )


def _unreached(what: str, error: BaseException) -> StoreUnreachable:
    return StoreUnreachable(
        f"{what}: cannot reach the object store ({error}); check its endpoint (the URL, the network, "
        "STORAGE_EMULATOR_HOST or AWS_ENDPOINT_URL_S3 if set)"
    )


def overlapped_retrying(
    loop: Any,
    one: Callable[[S], Awaitable[T]],
    items: Sequence[S],
    *,
    what: Callable[[S], str],
    is_transient: Callable[[BaseException], bool],
    timeout: float,
    contact: Contact | None = None,
) -> list[T | Exception]:
    """``overlapped``, then the items that failed transiently again, together, with backoff, until they answer or
    ``timeout`` seconds pass (one budget for the whole batch: a slow item does not hold the others back); an item
    still failing then gets StorageUnavailable naming it (``what(item)``). Before first contact, as
    ``retry_transient``."""
    results = overlapped(loop, one, items)
    started = time.monotonic()
    delay = _FIRST_DELAY
    warned = False
    while True:
        if contact is not None and not all(isinstance(r, Exception) and unreachable(r) for r in results):
            contact.answered = True
        first = contact is not None and not contact.answered
        pending = [i for i, r in enumerate(results) if isinstance(r, Exception) and is_transient(r)]
        if not pending:
            return results
        remaining = started + (min(timeout, FIRST_CONTACT_TIMEOUT) if first else timeout) - time.monotonic()
        if remaining <= 0:
            for i in pending:
                error = results[i]
                assert isinstance(error, Exception)
                results[i] = (
                    _unreached(what(items[i]), error) if first else _unavailable(what(items[i]), timeout, error)
                )
            return results
        if (
            not warned and not first
        ):  # once per batch, naming the error: the outcome (answer or StorageUnavailable) follows
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
