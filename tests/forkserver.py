"""Real worker processes for race tests: forked from a forkserver that has already imported marin_exec."""

from __future__ import annotations

import multiprocessing
from typing import Any


def worker_context(test_module: str) -> Any:
    """A multiprocessing context whose server preloads marin_exec and ``test_module`` (the module defining the
    worker functions), so each worker starts in milliseconds. The preload list only counts for the first call
    of a session: the server outlives it."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["marin_exec", test_module])
    return context
