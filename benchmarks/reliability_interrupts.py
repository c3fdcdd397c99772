"""Reliability rows for issue 10's faults that ``reliability.py``'s worker DAG cannot stage: interrupts of a real
``executor_main`` process (Ctrl-C twice, SIGTERM), a save that outlasts the lease, and holders with skewed clocks.

Each scenario returns a ``reliability.Row`` checked like the others (nothing computed twice, nothing lost):
- *Ctrl-C twice* / *SIGTERM*: ``tests.interrupt_pipeline`` (two steps, a one-hour lease) is stopped while its first
  step is blocked in user code; the row records the exit status and how long after the (last) signal the process
  ended, then a rerun must start at once (an hour's lease would otherwise be waited for) and commit both steps.
- *slow save*: three processes race one step whose save sleeps 1.2 s after the artifact write, with a 0.6 s lease
  (``tests/test_faults.py``'s step): one execution, every racer gets the result.
- *skewed clock*: a simulated holder on another host whose clock is 60 s behind keeps refreshing for four lease
  timeouts and then commits (the waiter must never run the step); a dead holder whose clock was 60 s ahead must be
  taken over about one lease timeout after it was first seen, not timeout + skew.
It asserts nothing itself and writes only under the scratch directory and the backend root it is given.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SKEW_LEASE = 0.5
_EXIT_WAIT = 60.0


def interrupt_row(row_type: Any, scenario: str, backend: str, root: str, work: Path) -> Any:
    """Ctrl-C twice or SIGTERM on a blocked step, then a rerun; see the module docstring."""
    from marin_exec import Artifact, StatusFile
    from marin_exec.status.lease_record import FREE
    from marin_exec.status.step_status import read_lease_view
    from tests import interrupt_pipeline

    signals_dir = work / "signals"
    signals_dir.mkdir(parents=True)
    hold, after = [spec.output_path for spec in interrupt_pipeline.build(root, remote=False)]
    started = time.monotonic()
    proc = _start_pipeline(root, signals_dir)
    _wait_for_file(signals_dir / "started-hold", proc)
    sent = [signal.SIGINT, signal.SIGINT] if scenario == "Ctrl-C twice" else [signal.SIGTERM]
    assert proc.stderr is not None
    for i, signum in enumerate(sent):
        proc.send_signal(signum)
        if i + 1 < len(sent):
            for line in proc.stderr:  # the prompt of the first Ctrl-C: the second one is then a second one
                if "Ctrl-C again" in line:
                    break
    signalled = time.monotonic()
    _, err = proc.communicate(timeout=_EXIT_WAIT)
    stop_seconds = time.monotonic() - signalled
    lease_state, status = read_lease_view(hold).state, StatusFile(hold).read()
    committed_early = Artifact.exists(hold)

    (signals_dir / "resume").touch()
    rerun_started = time.monotonic()
    rerun = _start_pipeline(root, signals_dir, "--force_run_failed", "false")
    _, rerun_err = rerun.communicate(timeout=_EXIT_WAIT)
    rerun_seconds = time.monotonic() - rerun_started
    executions = _executions(signals_dir)
    code = 130 if sent[0] == signal.SIGINT else 143
    row = row_type(
        scenario,
        backend,
        2,
        2,
        3600.0,
        len(executions),
        3,
        rerun_err.count("taking over the stale lease"),
        time.monotonic() - started,
    )
    row.waits = f"exit {proc.returncode} {stop_seconds:.2f} s after the signal; rerun {rerun_seconds:.2f} s"
    problems = [
        (proc.returncode == code, f"exit status {proc.returncode}, expected {code}: {err[-2000:]}"),
        (lease_state == FREE, f"the lease was left {lease_state}, not released"),
        (status == "RUNNING" and not committed_early, f"status {status}, artifact {committed_early} after the stop"),
        (rerun.returncode == 0, f"the rerun exited {rerun.returncode}: {rerun_err[-2000:]}"),
        (sorted(executions) == ["after", "hold", "hold"], f"executions {executions}"),
        (StatusFile(hold).read() == StatusFile(after).read() == "SUCCESS", "the rerun did not commit both steps"),
    ]
    _note(row, problems)
    return row


def slow_save_row(row_type: Any, backend: str, root: str, work: Path) -> Any:
    """Three processes race a step whose save outlasts the lease timeout."""
    tf, context = _slow_save_module()
    work.mkdir(parents=True)
    out, executions = f"{root}/slow-save", str(work / "executions.log")
    barrier, results = context.Barrier(tf.RACERS), context.Queue()
    emulator = os.environ.get("STORAGE_EMULATOR_HOST", "")
    started = time.monotonic()
    workers = [
        context.Process(target=tf._race_in_process, args=(out, executions, emulator, barrier, results))
        for _ in range(tf.RACERS)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=90) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    count = len(Path(executions).read_text().splitlines()) if Path(executions).exists() else 0
    lease = tf.SLOW_SAVE["lease_timeout"]
    row = row_type("slow save (1.2 s)", backend, tf.RACERS, 1, lease, count, 1, "-", time.monotonic() - started)
    _note(row, [(count == 1, f"{count} executions"), (outcomes == [tf.RESULT] * tf.RACERS, f"results {outcomes}")])
    return row


def skew_rows(row_type: Any, backend: str, root: str) -> list[Any]:
    """A live holder 60 s behind (never taken over) and a dead one 60 s ahead (taken over after ~one timeout)."""
    from marin_exec import STATUS_SUCCESS, Lease, StatusFile, StepAlreadyDone, distributed_lock

    behind, ahead = f"{root}/skew-behind", f"{root}/skew-ahead"
    calls: list[str] = []
    outcome: dict[str, Any] = {}

    def fn(path: str) -> None:
        calls.append(path)

    def wait() -> None:
        try:
            distributed_lock(fn, lease_timeout=SKEW_LEASE, heartbeat_interval=0.1)(behind)
        except BaseException as error:
            outcome["error"] = error

    started = time.monotonic()
    _write_record(behind, _skewed("behind", -60))
    waiter = threading.Thread(target=wait)
    waiter.start()
    while time.monotonic() - started < 4 * SKEW_LEASE:  # the simulated holder beats every 20 ms for four timeouts
        time.sleep(0.02)  # its heartbeat interval, not a synchronisation
        _write_record(behind, _skewed("behind", -60))
    StatusFile(behind).write(STATUS_SUCCESS)
    _write_record(behind, {"worker_id": None, "timestamp": time.time() - 60})
    waiter.join(30)
    live = row_type("skewed clock: live holder 60 s behind", backend, 2, 1, SKEW_LEASE, len(calls), 0, 0, 0.0)
    live.seconds = time.monotonic() - started
    _note(live, [(isinstance(outcome.get("error"), StepAlreadyDone), f"the waiter ended with {outcome}")])

    _write_record(ahead, _skewed("ahead", +60))
    lease = Lease(ahead, timeout=SKEW_LEASE)
    first_seen = time.monotonic()
    while not lease.try_acquire() and time.monotonic() - first_seen < 30:
        time.sleep(0.01)
    took = time.monotonic() - first_seen
    held = lease.held
    lease.release()
    dead = row_type("skewed clock: dead holder 60 s ahead", backend, 2, 1, SKEW_LEASE, int(held), 1, int(held), took)
    dead.waits = f"taken over {took:.2f} s after first seen"
    _note(dead, [(held and SKEW_LEASE <= took < 10 * SKEW_LEASE, f"taken over: {held}, after {took:.2f} s")])
    return [live, dead]


def _slow_save_module() -> tuple[Any, Any]:
    """The slow-save step of tests/test_faults.py (tests/test_commit.py once renamed) and a forkserver context."""
    try:
        from tests import test_commit as tf  # type: ignore[attr-defined, unused-ignore]
        from tests.forkserver import worker_context  # type: ignore[import-not-found, unused-ignore]

        return tf, worker_context(tf.__name__)
    except ImportError:
        from tests import test_faults as tf

        return tf, tf.processes()


def _skewed(worker: str, skew: float) -> dict[str, Any]:
    return {"worker_id": worker, "timestamp": time.time() + skew, "host": "other-host", "pid": 1, "boot_id": "b"}


def _write_record(output_path: str, record: dict[str, Any]) -> None:
    from marin_exec.storage.store import store_for

    path = f"{output_path}/.executor_status.lock"
    store_for(path).write(path, json.dumps(record).encode())


def _start_pipeline(root: str, signals_dir: Path, *flags: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "tests.interrupt_pipeline", "--prefix", root, "--lease_timeout", "3600", *flags]
    env = {**os.environ, "INTERRUPT_SIGNALS": str(signals_dir), "INTERRUPT_REMOTE": "0"}
    from tests.interrupt_pipeline import as_from_a_terminal

    return subprocess.Popen(
        command,
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=as_from_a_terminal,  # Ctrl-C must reach it even when this benchmark runs in the background
    )


def _wait_for_file(path: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + _EXIT_WAIT
    while not path.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)


def _executions(signals_dir: Path) -> list[str]:
    log = signals_dir / "executions"
    return [line.split()[0] for line in log.read_text().splitlines()] if log.exists() else []


def _note(row: Any, checks: list[tuple[bool, str]]) -> None:
    for ok, problem in checks:
        if not ok:
            row.ok = False
            row.problems.append(problem)
