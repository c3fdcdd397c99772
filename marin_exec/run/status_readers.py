"""The threads a run reads statuses on: batches of ``BATCH`` steps handed to a small pool sized for the store.

Object stores (stores with their own ``read_many``) overlap a batch's requests on their event loop, and four
readers keep ~256 requests in flight, which a real bucket's latency needs. A local read is a few system calls
made with our own CPU under the GIL, so more threads only contend for it: a 10,000-step cached re-run on local disk
took 1.05-1.47 s with four readers, 0.77-0.84 s with two, 0.70-0.74 s with one. So stores without batch reads (local
disk, ``memory://``) are read on the runner's own thread (``Inline``): no thread to start or hand batches to, which
was a third of a cached re-run of a small plan. This module reads nothing itself.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any

from marin_exec.storage.store import store_for

BATCH = 64
OBJECT_STORE_READERS = 4
# How many input steps may be pulled ahead of those settled: enough to keep every reader busy with full batches
# twice over, never the whole input (an unbounded generator may stop once a step it yielded runs).
READ_AHEAD = 2 * OBJECT_STORE_READERS * BATCH


class Inline(Executor):
    """Runs what is submitted at once, in the submitting thread; the returned future is already done. An error
    (``Exception``) is kept in the future as a pool would keep it; an interrupt propagates to the caller."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as error:
            future.set_exception(error)
        return future


def reader_pool(output_path: str) -> Executor:
    """Where to read the statuses of steps stored like ``output_path``: a pool for object stores, else inline."""
    try:
        overlapping = getattr(store_for(output_path), "read_many", None) is not None
    except Exception:  # the read itself will say what is wrong with the path
        overlapping = True
    return ThreadPoolExecutor(OBJECT_STORE_READERS, thread_name_prefix="marin-status") if overlapping else Inline()
