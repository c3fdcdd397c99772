"""``retry_transient``: retry an object-store request through transient failures for a bounded time.

Shared by the GCS and S3 stores. It retries only what ``is_transient`` accepts (never a failed precondition)
and raises ``StorageUnavailable`` naming the operation when the budget runs out.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from marin_exec.errors import StorageUnavailable

logger = logging.getLogger(__name__)

T = TypeVar("T")

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
                raise StorageUnavailable(
                    f"{what}: the object store did not answer within {timeout:g} s (last error: {error!r}); "
                    "check that its endpoint is reachable, or give the store a longer retry_timeout"
                ) from error
            if not retried:
                logger.warning(f"{what}: transient error {error!r}; retrying for up to {timeout:g} s")
            retried = True
            time.sleep(min(delay * random.uniform(0.5, 1.5), remaining))
            delay = min(delay * 2, _MAX_DELAY)
