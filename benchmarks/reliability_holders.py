"""Reliability rows for issue 20's exactly-once holes (items 1-4), on real ``executor_main`` processes.

Each scenario returns a ``reliability.Row`` checked like the others (nothing computed twice, nothing lost):
- *holder in another PID namespace*: run A holds ``tests.interrupt_pipeline``'s blocked first step; run B starts in a
  second PID namespace of this host (``unshare --pid --fork``: same host name and boot id, other pids) and must wait
  for A, not judge it dead by its pid. Skipped (a row saying why) where ``unshare --pid`` is not permitted.
- *long leases vs short*: A runs with ``--lease_timeout 20 --heartbeat_interval 6``, B with ``3``/``1``; B must wait
  through two of A's heartbeats (more than 6 s, twice its own timeout) without taking A's lease over.
- *unsafe settings refused*: five command lines that would break exactly-once (lease timeout 0 and -1, heartbeat 0,
  heartbeat not shorter than the lease, ``--max_concurrent 0``) must each exit 2 with one line, running nothing.
- *forked child terminated*: a step forks ``multiprocessing`` children and stops them with ``terminate()`` and SIGINT;
  both must stop (``tests/cli_scripts/fork_in_step.py``) and the step runs once.
Both pipeline steps finish once in the first two (executions expected: 2). It asserts nothing itself and writes only
under the scratch directory and the backend root it is given.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.reliability_interrupts import _executions, _note

REPO = Path(__file__).resolve().parents[1]
_EXIT_WAIT = 60.0
_WAITING, _TAKING_OVER = "which holds the lease", "taking over the stale lease"
UNSAFE_FLAGS = [
    ["--lease_timeout", "0"],
    ["--lease_timeout", "-1"],
    ["--heartbeat_interval", "0"],
    ["--lease_timeout", "20", "--heartbeat_interval", "30"],
    ["--max_concurrent", "0"],
]


def two_holders_row(row_type: Any, scenario: str, backend: str, root: str, work: Path) -> Any:
    """Run A holds the first step; run B (another PID namespace, or shorter leases) must wait for it."""
    from tests import interrupt_pipeline

    signals = work / "signals"
    signals.mkdir(parents=True)
    namespace = scenario.startswith("holder in another PID namespace")
    a_flags = [] if namespace else ["--lease_timeout", "20", "--heartbeat_interval", "6"]
    b_flags = [] if namespace else ["--lease_timeout", "3", "--heartbeat_interval", "1"]
    wrap = ["unshare", "--pid", "--fork"] if namespace else []
    lease = 90.0 if namespace else 20.0
    hold = interrupt_pipeline.build(root, remote=False)[0].output_path
    if namespace and (why := _no_pid_namespace()) is not None:
        row = row_type(scenario, backend, 2, 2, lease, 0, 0, "-", 0.0, waits=f"skipped: {why}")
        return row
    started = time.monotonic()
    a = _start(root, signals, a_flags)
    _wait_for(lambda: (signals / "started-hold").exists() or a.poll() is not None)
    b_started = time.monotonic()
    b = _start(root, signals, b_flags, wrap)
    said = _read_until(b, (_WAITING, _TAKING_OVER))
    if not namespace and _TAKING_OVER not in said:
        _watch_two_heartbeats(hold)
    waited = time.monotonic() - b_started
    (signals / "resume").touch()
    a_err, b_err = (proc.communicate(timeout=_EXIT_WAIT)[1] for proc in (a, b))
    executions = _executions(signals)
    takeovers = (said + b_err).count(_TAKING_OVER)
    row = row_type(scenario, backend, 2, 2, lease, len(executions), 2, takeovers, time.monotonic() - started)
    row.waits = f"B waited {waited:.2f} s (until A finished), then found the step done"
    _note(
        row,
        [
            (
                a.returncode == 0 and b.returncode == 0,
                f"exit {a.returncode} / {b.returncode}: {(a_err + b_err)[-2000:]}",
            ),
            (takeovers == 0, f"B took A's live lease over: {said[-1000:]}"),
            (sorted(executions) == ["after", "hold"], f"executions {executions}"),
        ],
    )
    return row


def unsafe_settings_row(row_type: Any, backend: str, root: str, work: Path) -> Any:
    """Each unsafe command line exits 2 with one line and runs nothing."""
    signals = work / "signals"
    signals.mkdir(parents=True)
    started = time.monotonic()
    outcomes = []
    for flags in UNSAFE_FLAGS:
        proc = _start(root, signals, flags)
        _, err = proc.communicate(timeout=_EXIT_WAIT)
        outcomes.append((flags, proc.returncode, err))
    executions = _executions(signals)
    seconds = time.monotonic() - started
    row = row_type("unsafe settings refused", backend, len(UNSAFE_FLAGS), 2, 0.0, len(executions), 0, 0, seconds)
    row.waits = f"{sum(code == 2 for _, code, _ in outcomes)} of {len(outcomes)} exit 2 with one line"
    _note(
        row,
        [
            (code == 2 and err.count("\n") == 1 and err.startswith("error: "), f"{flags}: {code} {err[-500:]}")
            for flags, code, err in outcomes
        ]  # fmt: skip
        + [(executions == [], f"executions {executions}")],
    )
    return row


def forked_child_row(row_type: Any, backend: str, root: str, work: Path) -> Any:
    """A step forks children and stops them with terminate() and SIGINT; both must stop, the step runs once."""
    from marin_exec import Artifact

    started = time.monotonic()
    script = REPO / "tests" / "cli_scripts" / "fork_in_step.py"
    proc = subprocess.run([sys.executable, str(script), "--prefix", root], capture_output=True, text=True, cwd=REPO)
    seconds = time.monotonic() - started
    found = [Artifact.load(f"{root}/fork/{name}") for name in _listing(f"{root}/fork")]
    row = row_type("forked child terminated", backend, 1, 1, 90.0, len(found), 1, 0, seconds)
    expected = {"handlers": 0, "terminate": -15, "interrupt": 1}
    codes = found[0] if found else {}
    row.waits = f"child exit: terminate() {codes.get('terminate')}, SIGINT {codes.get('interrupt')}"
    _note(row, [(proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr[-2000:]}"), (found == [expected], "")])
    return row


def _no_pid_namespace() -> str | None:
    try:
        made = subprocess.run(["unshare", "--pid", "--fork", "true"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"unshare could not run ({error})"
    return None if made.returncode == 0 else f"unshare --pid not permitted ({made.stderr.strip()})"


def _start(root: str, signals: Path, flags: list[str], wrap: list[str] | None = None) -> subprocess.Popen[str]:
    command = [*(wrap or []), sys.executable, "-m", "tests.interrupt_pipeline", "--prefix", root, *flags]
    env = {**os.environ, "INTERRUPT_SIGNALS": str(signals), "INTERRUPT_REMOTE": "0"}
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _read_until(proc: subprocess.Popen[str], texts: tuple[str, ...]) -> str:
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if any(text in line for text in texts):
            break
    return "".join(seen)


def _watch_two_heartbeats(output_path: str) -> None:
    """Until the lease's bytes changed twice (a whole heartbeat interval of A seen by B), or A lost it."""
    from marin_exec.status.status import LOCK_FILENAME, join
    from marin_exec.storage.store import store_for

    path = join(output_path, LOCK_FILENAME)
    store = store_for(path)
    first = store.read(path)
    holder = json.loads(first[0]).get("worker_id") if first else None
    seen = [first[0] if first else b""]
    deadline = time.monotonic() + _EXIT_WAIT
    while len(seen) < 3 and time.monotonic() < deadline:
        found = store.read(path)
        data = found[0] if found else b"{}"
        if json.loads(data).get("worker_id") != holder:
            return
        if data != seen[-1]:
            seen.append(data)
        time.sleep(0.05)


def _wait_for(condition: Any) -> None:
    deadline = time.monotonic() + _EXIT_WAIT
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)


def _listing(path: str) -> list[str]:
    import fsspec

    fs, inner = fsspec.core.url_to_fs(path)
    return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(inner, detail=False)) if fs.exists(inner) else []
