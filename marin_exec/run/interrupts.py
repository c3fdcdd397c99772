"""Ctrl-C and SIGTERM for ``executor_main`` (DESIGN §5a): one Ctrl-C drains the run, a second one or SIGTERM stops now.

While ``Interrupts`` is entered (main thread only) its handlers replace the previous ones, which are restored on
exit. During a run, the first Ctrl-C asks the runner (through ``RunStop``) to start nothing new, and the runner
names the steps still running, which this module prints with ``AGAIN_TO_STOP``; the run ends when they have, with
exit status 130. A second Ctrl-C or a SIGTERM stops at once: the runner returns without waiting for its step threads,
then ``abandon`` releases every lease this process holds (so nothing those threads write later is committed: each
commit write is fenced), terminates the Fray jobs still being waited for, names what was interrupted and ends the
process with ``os._exit`` (130 / 143), since a step thread blocked in user code cannot be joined. Outside a run
(tracing, compiling, printing) a first Ctrl-C is an ordinary ``KeyboardInterrupt``, and a SIGTERM ends that work
with ``StopNow``. This module schedules nothing and keeps no step state: the runner does.

The handlers are this process's alone: a process a step forks (``multiprocessing``, ``os.fork``) starts with the
handlers that were there before ``executor_main`` (``os.register_at_fork``), so ``Process.terminate()`` stops it;
and should a handler still run in another process, it behaves as the handler it replaced would.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Any

from marin_exec.run.run_files import continue_command
from marin_exec.run.run_report import RunReport, StepState
from marin_exec.run.stop import RunStop, StopLevel
from marin_exec.runtime.heartbeat import release_all
from marin_exec.runtime.remote import running_jobs

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
AGAIN_TO_STOP = "Ctrl-C again to stop now"
# How long releasing the leases and terminating jobs may take before the process ends anyway (a store may hang).
_ABANDON_WAIT = 10.0
# The entered Interrupts whose handlers are installed now (main thread only), for forked children to undo them.
_INSTALLED: Interrupts | None = None
_FORK_HOOK: list[bool] = []  # one os.register_at_fork per process (it cannot be undone)


class StopNow(BaseException):
    """Raised in the main thread by a second Ctrl-C or a SIGTERM that arrives while no run is there to obey it."""


class Interrupts:
    """The signal handlers of one ``executor_main`` call, and what they asked for (``stop``, ``signum``)."""

    def __init__(self) -> None:
        self.stop = RunStop(on_drain=self._say_draining)
        self.signum: int | None = None  # the signal that asked to stop (the last one, if several)
        self._previous: dict[int, Any] = {}
        self._abandoning = False
        self._pid = os.getpid()  # the process whose run these handlers serve

    @property
    def exit_code(self) -> int | None:
        return None if self.signum is None else EXIT_CODES[signal.Signals(self.signum)]

    def __enter__(self) -> Interrupts:
        global _INSTALLED
        if threading.current_thread() is not threading.main_thread():
            return self  # only the main thread may install handlers: a run in another thread keeps the defaults
        if not _FORK_HOOK:
            _FORK_HOOK.append(True)
            os.register_at_fork(after_in_child=_previous_handlers_in_child)
        self._pid = os.getpid()
        _INSTALLED = self
        for signum in EXIT_CODES:
            previous = signal.getsignal(signum)
            if previous is signal.SIG_IGN:  # e.g. started in the background with SIGINT ignored: keep ignoring
                continue
            self._previous[signum] = previous
            signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        global _INSTALLED
        if _INSTALLED is self:
            _INSTALLED = None
        self._restore()

    def _restore(self) -> None:
        """Put back the handlers that were there before ours."""
        for signum, previous in self._previous.items():
            signal.signal(signum, signal.SIG_DFL if previous is None else previous)  # None: set outside Python
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        """Runs in the main thread between two bytecodes: it only records and wakes; it prints nothing."""
        if os.getpid() != self._pid:  # a forked child that kept our handler: not the run's signal
            self._as_before(signum, frame)
            return
        if self._abandoning:
            return  # leases are being released already; the process ends within _ABANDON_WAIT
        first_ctrl_c = signum == signal.SIGINT and self.stop.level == StopLevel.NONE
        if first_ctrl_c and not self.stop.attached:
            raise KeyboardInterrupt  # no run yet (or any more): the default behaviour
        self.signum = signum
        if first_ctrl_c:
            self.stop.drain()
        elif self.stop.attached:
            self.stop.now()  # the runner returns at once; executor_main then calls abandon()
        else:
            self.stop.now()
            raise StopNow

    def _as_before(self, signum: int, frame: FrameType | None) -> None:
        """In a process other than the run's: do what the handler we replaced would have done (by default, SIGTERM
        ends the process and SIGINT raises KeyboardInterrupt)."""
        previous = self._previous.get(signum)
        if callable(previous):
            previous(signum, frame)
            return
        signal.signal(signum, signal.SIG_DFL if previous is None else previous)
        signal.raise_signal(signum)

    def _say_draining(self, running: Sequence[str]) -> None:
        """Called by the runner, in the main thread, when it starts draining."""
        if running:
            names = ", ".join(running)
            text = f"Ctrl-C: starting no new step; waiting for {len(running)} running step(s) to end: {names}."
        else:
            text = "Ctrl-C: starting no new step; none is running."
        print(f"{text} {AGAIN_TO_STOP} (their leases are then released: they rerun at once).", file=sys.stderr)

    def abandon(self, report: RunReport | None) -> None:
        """Release every lease, terminate our Fray jobs, say what was interrupted, and end the process now."""
        self._abandoning = True
        code = self.exit_code or EXIT_CODES[signal.SIGTERM]
        outcome: dict[str, Any] = {}
        helper = threading.Thread(target=_release_and_terminate, args=(outcome,), name="marin-abandon", daemon=True)
        helper.start()
        helper.join(_ABANDON_WAIT)
        name = signal.Signals(self.signum or signal.SIGTERM).name
        lines = [f"{name}: stopped now."]
        interrupted = [] if report is None else [o.spec.name_with_hash for o in report.by_state(StepState.INTERRUPTED)]
        if interrupted:
            lines.append(f"  interrupted: {', '.join(interrupted)} (no FAILED written; they rerun at once)")
        if "released" not in outcome:  # (those released are logged by release_all, once)
            lines.append(f"  the leases could not be released within {_ABANDON_WAIT:g} s: they go stale instead")
        jobs = list(outcome.get("jobs", []))  # a copy: the helper may still be terminating
        tried = {id(job) for job, _ in jobs}
        jobs += [(job, "terminate did not answer in time") for job in running_jobs() if id(job) not in tried]
        for job, error in jobs:
            what = "terminated" if error is None else f"LEFT RUNNING ({error}); stop it yourself"
            lines.append(f"  Fray job {job.job_id} ({job.step_name}): {what}")
        lines.append(f"to continue: {continue_command(report)}")
        print("\n".join(lines), file=sys.stderr)
        _exit_now(code)


def _previous_handlers_in_child() -> None:
    """After a fork, in the child: the run's handlers are the parent's business; the child gets the ones before."""
    global _INSTALLED
    installed, _INSTALLED = _INSTALLED, None
    if installed is None:
        return
    try:
        installed._restore()
    except (ValueError, OSError):  # signal.signal refused: the pid check in _handle still holds
        pass


def _release_and_terminate(outcome: dict[str, Any]) -> None:
    """Leases first (so a step thread can commit nothing more), then the Fray jobs we still wait for."""
    outcome["released"] = release_all()
    jobs: list[tuple[Any, str | None]] = []
    outcome["jobs"] = jobs
    for job in running_jobs():
        try:
            job.terminate()
            jobs.append((job, None))
        except Exception as error:  # reported as left running
            jobs.append((job, f"terminate failed: {error!r}"))


def _exit_now(code: int) -> None:
    """End the process without joining the step threads (one may be blocked in user code forever)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
