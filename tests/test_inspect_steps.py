"""``python -m marin_exec status`` and ``unlock`` on real leases: a worker process holding a step is live, the same
worker SIGKILLed is dead-on-this-host (and the dry run calls its step interrupted); unlock refuses the live lease
without --force and removes the dead one."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from marin_exec.status.failure import ERROR_FILENAME
from tests.test_cli_why import MODEL, RAW, SCRIPT

HOLDER = pathlib.Path(__file__).parent / "cli_scripts" / "hold_lease.py"


def _marin_exec(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "marin_exec", *args], capture_output=True, text=True)


@pytest.fixture
def holder(prefix):
    """A real process holding the lease of the model step (RUNNING), with the corpus step done beside it."""
    subprocess.run([sys.executable, str(SCRIPT), "--prefix", prefix], check=True, capture_output=True, cwd=prefix)
    out = f"{prefix}/{MODEL}"
    os.remove(f"{out}/.executor_status")
    proc = subprocess.Popen(
        [sys.executable, str(HOLDER), out], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline() == "held\n"
    yield proc
    proc.kill()
    proc.wait()


def _kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()  # reaped: its pid no longer exists


def test_status_shows_a_live_holder_with_its_pid_and_heartbeat_age(prefix, holder):
    proc = _marin_exec("status", prefix)

    assert proc.returncode == 0, proc.stderr
    assert f"{MODEL}: RUNNING\n  lease: live, held by " in proc.stdout
    assert f" pid {holder.pid}, heartbeat " in proc.stdout
    assert f"{RAW}: SUCCESS\n  lease: free" in proc.stdout


def test_status_of_a_sigkilled_holder_is_dead_on_this_host_and_interrupted(prefix, holder):
    _kill(holder)

    proc = _marin_exec("status", f"{prefix}/{MODEL}")
    dry = subprocess.run(
        [sys.executable, str(SCRIPT), "--prefix", prefix, "--dry_run", "true"], capture_output=True, text=True
    )

    assert "RUNNING (interrupted: no live lease)\n  lease: dead-on-this-host, held by " in proc.stdout
    assert f"pid {holder.pid}" in proc.stdout and RAW not in proc.stdout
    assert (
        f"why: interrupted: status RUNNING, but its worker's process {holder.pid} on this machine is gone" in dry.stdout
    )


def test_status_shows_the_last_error_line(prefix, holder):
    record = {"type": "builtins.KeyError", "message": "'train'\nmore", "attempt": 1}
    pathlib.Path(prefix, MODEL, ERROR_FILENAME).write_text(json.dumps(record))

    proc = _marin_exec("status", prefix)

    assert "  last error: KeyError: 'train'\n" in proc.stdout


def _fails_once(output_path: str) -> None:
    marker = pathlib.Path(output_path).parent / "failed-once"
    if not marker.exists():
        marker.touch()
        raise KeyError("train")


def test_status_of_a_step_that_succeeded_after_a_failure_says_the_error_was_an_earlier_attempt(prefix):
    """Issue 20 item 8: a SUCCESS step showed an earlier attempt's error as its "last error", unqualified."""
    from marin_exec import StepRunner, StepsFailed, StepSpec

    spec = StepSpec(name="models/flaky", fn=_fails_once, output_path_prefix=prefix)
    with pytest.raises(StepsFailed):
        StepRunner().run([spec])
    StepRunner().run([spec])

    proc = _marin_exec("status", prefix)

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        f"{spec.name_with_hash}: SUCCESS\n"
        "  lease: free\n"
        "  the last attempt succeeded; an earlier one failed: KeyError: 'train'\n"
    )


def test_unlock_refuses_a_live_lease_without_force_and_removes_it_with_force(prefix, holder):
    lock = pathlib.Path(prefix, MODEL, ".executor_status.lock")

    refused = _marin_exec("unlock", prefix)
    assert (
        refused.returncode == 1
        and "refusing to remove the live lease" in refused.stderr
        and "--force" in (refused.stderr)
    )
    assert lock.exists()

    forced = _marin_exec("unlock", f"{prefix}/{MODEL}", "--force")
    assert forced.returncode == 0 and "removed the live lease" in forced.stdout
    assert not lock.exists()


def test_unlock_removes_the_lease_of_a_sigkilled_holder_and_the_step_runs_again(prefix, holder):
    _kill(holder)

    proc = _marin_exec("unlock", prefix)
    rerun = subprocess.run([sys.executable, str(SCRIPT), "--prefix", prefix], capture_output=True, text=True)

    assert proc.returncode == 0 and f"{MODEL}: removed the dead-on-this-host lease of " in proc.stdout
    assert not pathlib.Path(prefix, MODEL, ".executor_status.lock").exists()
    assert "Summary: 1 ran here, 1 cached" in rerun.stdout
    assert "taking over" not in rerun.stderr  # nothing stale was left to take over


def test_unlock_removes_a_stale_lease_and_leaves_a_prefix_without_leases_alone(prefix):
    out = pathlib.Path(prefix, "models", "y-abcdef")
    out.mkdir(parents=True)
    (out / ".executor_status").write_text("RUNNING")
    (out / ".executor_status.lock").write_text(json.dumps({"worker_id": "far-away", "timestamp": time.time() - 120}))

    proc = _marin_exec("unlock", prefix, "--lease_timeout", "60", "--clock_skew_allowance", "0")
    again = _marin_exec("unlock", prefix)

    assert proc.returncode == 0 and "removed the stale lease of far-away" in proc.stdout
    assert again.returncode == 0 and "no lease held" in again.stdout


def test_status_of_a_path_without_steps_says_so_and_exits_1(tmp_path):
    proc = _marin_exec("status", str(tmp_path))

    assert proc.returncode == 1 and "no step found" in proc.stderr


def test_status_and_unlock_on_gcs_find_the_steps_under_a_bucket_prefix(gcs_bucket, capsys):
    from marin_exec.run import inspect_steps, unlock_steps
    from marin_exec.storage.store import store_for

    out = f"{gcs_bucket}/run/models/y-abcdef"
    stale = json.dumps({"worker_id": "far-away", "host": "elsewhere", "timestamp": time.time() - 1000})
    store_for(out).write(f"{out}/.executor_status", b"RUNNING")
    store_for(out).write(f"{out}/.executor_status.lock", stale.encode())

    assert inspect_steps.main([f"{gcs_bucket}/run", "--clock_skew_allowance", "0"]) == 0
    shown = capsys.readouterr().out
    assert unlock_steps.main([f"{gcs_bucket}/run", "--clock_skew_allowance", "0"]) == 0
    removed = capsys.readouterr().out

    assert "models/y-abcdef: RUNNING (interrupted: no live lease)\n" in shown
    assert "  lease: stale, held by far-away on elsewhere, heartbeat " in shown
    assert f"{out}: removed the stale lease of far-away" in removed
    assert store_for(out).read(f"{out}/.executor_status.lock") is None
