"""A two-step pipeline run by ``executor_main`` in a real process, for the interrupt tests and benchmark.

``python -m tests.interrupt_pipeline --prefix P [executor flags]`` with ``INTERRUPT_SIGNALS`` naming a local
directory. ``hold`` writes ``started-hold`` there (its pid), then blocks until ``resume`` exists, and writes
``ended-hold`` when it returns; ``after`` needs ``hold`` and writes ``started-after``; every call of a step appends a
line to ``executions``. With ``INTERRUPT_REMOTE=1`` ``hold`` runs as a Fray job (the process's own LocalClient, so in a
thread of this process). Files are how the parent synchronises with the steps, on any backend (the prefix may be
gs:// or s3://; the signal files are always local). Deliberately no assertions: the tests and the benchmark make them.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from marin_exec import StepSpec, executor_main

_HOLD_LIMIT = 120.0  # a forgotten process ends by itself


def as_from_a_terminal() -> None:
    """``preexec_fn`` for the process under test: SIGINT as a terminal's foreground process has it. A harness started
    in the background of a non-interactive shell (``cmd &`` in a script) has SIGINT ignored, its children inherit
    that, and executor_main, like any program, keeps an ignored SIGINT ignored: Ctrl-C would test nothing."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _signals() -> Path:
    return Path(os.environ["INTERRUPT_SIGNALS"])


def _executed(step: str) -> None:
    with open(_signals() / "executions", "a") as log:  # O_APPEND: one line per call, from any process
        log.write(f"{step} {os.getpid()}\n")


def hold(output_path: str) -> dict[str, int]:
    signals = _signals()
    _executed("hold")
    (signals / "started-hold").write_text(str(os.getpid()))
    deadline = time.monotonic() + _HOLD_LIMIT
    while not (signals / "resume").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    (signals / "ended-hold").write_text(str(os.getpid()))
    return {"value": 1}


def after(output_path: str) -> dict[str, int]:
    _executed("after")
    (_signals() / "started-after").write_text(str(os.getpid()))
    return {"value": 2}


def build(prefix: str | None = None, remote: bool | None = None) -> list[StepSpec]:
    if remote is None:
        remote = os.environ.get("INTERRUPT_REMOTE") == "1"
    resources = None
    if remote:
        from fray.types import ResourceConfig

        resources = ResourceConfig()
    first = StepSpec(
        name="interrupts/hold", fn=hold, hash_attrs={"v": 1}, output_path_prefix=prefix, resources=resources
    )
    second = StepSpec(
        name="interrupts/after", fn=after, deps=[first], hash_attrs={"in": "DEP[0]"}, output_path_prefix=prefix
    )
    return [first, second]


if __name__ == "__main__":
    executor_main(build())
