"""Processes a step forks are not bound by executor_main's signal handlers (DESIGN §5a; issue 20, item 4).

End to end: a step under ``executor_main`` in a real process forks ``multiprocessing`` children and stops them with
``Process.terminate()`` and with SIGINT; each stops as a child of a plain program would. At the handler: one that a
forked child still has (a fork the at-fork hook did not see) does what the replaced handler would, not the run's stop.
"""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time

from marin_exec import Artifact
from marin_exec.run.interrupts import Interrupts

SCRIPT = pathlib.Path(__file__).parent / "cli_scripts" / "fork_in_step.py"


def test_a_child_a_step_forks_stops_on_terminate_and_on_ctrl_c(prefix: str) -> None:
    # Regression (issue 20, item 4): the child inherited executor_main's handlers, so terminate() only asked the
    # (parent's) run to stop and the child went on; the step waited for it forever.
    proc = subprocess.run([sys.executable, str(SCRIPT), "--prefix", prefix], capture_output=True, text=True)

    assert proc.returncode == 0, proc.stderr
    [out] = pathlib.Path(prefix, "fork").iterdir()
    # handlers 0: the child started with Python's defaults; interrupt 1: a KeyboardInterrupt ended it
    assert Artifact.load(str(out)) == {"handlers": 0, "terminate": -signal.SIGTERM, "interrupt": 1}


def test_the_run_s_handler_left_in_a_forked_child_acts_as_the_handler_it_replaced() -> None:
    with Interrupts() as interrupts:
        pid = os.fork()
        if pid == 0:  # the child: put the run's handler back, as a fork that skipped the at-fork hooks would have it
            try:
                signal.signal(signal.SIGTERM, interrupts._handle)
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(30)
            finally:
                os._exit(3)  # only reached if the signal did not end the child
        _, status = os.waitpid(pid, 0)
        assert interrupts.signum is None  # the parent's run was asked for nothing

    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM, status


def _child_writes(path: str) -> None:
    pathlib.Path(path, "child.txt").write_text("done")


def test_a_multiprocessing_child_a_step_forks_exits_0_when_it_succeeds(prefix: str) -> None:
    # Regression (review): the child started in a copy of the step's worker thread, and CPython's thread-pool exit
    # bookkeeping joined that thread at the child's exit ("cannot join current thread"): exit code 1 on success.
    import multiprocessing

    from marin_exec import StepRunner, StepSpec

    def forks(output_path: str) -> int | None:
        child = multiprocessing.get_context("fork").Process(target=_child_writes, args=(output_path,))
        child.start()
        child.join(60)
        return child.exitcode

    step = StepSpec(name="fork/child", fn=forks, output_path_prefix=prefix)
    StepRunner().run([step])

    assert pathlib.Path(step.output_path, "child.txt").read_text() == "done"
    assert Artifact.load(step.output_path, int) == 0
