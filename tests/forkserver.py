"""Real racing workers for race tests: processes forked from a forkserver that has already imported marin_exec,
and threads released together."""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable
from typing import Any


def worker_context(test_module: str) -> Any:
    """A multiprocessing context whose server preloads marin_exec and ``test_module`` (the module defining the
    worker functions), so each worker starts in milliseconds. The preload list only counts for the first call
    of a session: the server outlives it."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["marin_exec", test_module])
    return context


def race_in_threads(count: int, work: Callable[[], Any], *, timeout: float) -> list[Any]:
    """Run ``work`` in ``count`` threads released together by a barrier; what each returned or raised."""
    barrier = threading.Barrier(count)
    results: list[Any] = []

    def racer() -> None:
        barrier.wait(timeout=timeout)
        try:
            results.append(work())
        except BaseException as error:
            results.append(error)

    threads = [threading.Thread(target=racer) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return results


def record_execution(executions: str) -> None:
    """Append this worker's id to ``executions`` (O_APPEND: lines from threads and processes never interleave), so
    a test counts how often a step's function ran, on any backend."""
    from marin_exec import worker_id

    fd = os.open(executions, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, f"{worker_id()}\n".encode())
    finally:
        os.close(fd)
