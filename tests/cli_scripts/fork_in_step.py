"""``executor_main`` runs one step that forks ``multiprocessing`` children (the fork start method): one exits 0 if it
started with Python's default signal handlers; one is stopped with ``Process.terminate()`` (SIGTERM) and one with
SIGINT. The step returns their exit codes (None: still running after ``BOUND`` seconds, then killed). Deliberately no
assertions: tests/test_fork_in_step.py and benchmarks/reliability_holders.py make them."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from typing import Any

from marin_exec import StepSpec, executor_main

BOUND = 30.0  # only reached when a child ignores its signal


def _sleep(ready: Any) -> None:
    ready.set()
    time.sleep(2 * BOUND)


def _check_handlers() -> None:
    defaults = signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    # os._exit: a fork child of a thread-pool thread exits 1 after a clean return (CPython's pool exit hook joins it)
    os._exit(0 if defaults and signal.getsignal(signal.SIGINT) is signal.default_int_handler else 5)


def _stop(how: Callable[[Any], None]) -> int | None:
    context = multiprocessing.get_context("fork")
    ready = context.Event()
    child = context.Process(target=_sleep, args=(ready,))
    child.start()
    ready.wait(BOUND)
    how(child)
    child.join(BOUND)
    code = child.exitcode
    if code is None:
        child.kill()
        child.join()
    return code


def forks(output_path: str) -> dict[str, int | None]:
    child = multiprocessing.get_context("fork").Process(target=_check_handlers)
    child.start()
    child.join(BOUND)
    return {
        "handlers": child.exitcode,
        "terminate": _stop(lambda child: child.terminate()),
        "interrupt": _stop(lambda child: os.kill(child.pid, signal.SIGINT)),
    }


if __name__ == "__main__":
    executor_main([StepSpec(name="fork/children", fn=forks)])
