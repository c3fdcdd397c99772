"""Settings that would break exactly-once are refused before anything runs (DESIGN §5a; issue 20, item 3).

A lease timeout of 0 or less makes every live lease stale at once (a second worker runs the step), a heartbeat not
shorter than the timeout lets a healthy holder look stale between beats, a heartbeat of 0 refreshes in a busy loop,
a negative clock-skew allowance makes a live lease from another machine look stale, and ``max_concurrent`` 0 could
run nothing. ``executor_main`` prints one line and exits 2; ``StepRunner.run``, ``run_settings`` and
``distributed_lock`` raise ``UnsafeSettingsError``. Nothing runs, no lease or status is written.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
from typing import Any

import pytest

from marin_exec import StepRunner, StepSpec, disk_cached, distributed_lock, executor_main, run_settings
from marin_exec.errors import MarinExecError, UnsafeSettingsError
from marin_exec.run.cli import ExecutorMainConfig

REPO = pathlib.Path(__file__).resolve().parents[1]

# (keyword arguments, what the one line must say)
UNSAFE: list[tuple[dict[str, Any], str]] = [
    ({"lease_timeout": 0}, "--lease_timeout 0: a lease timeout must be more than 0 s"),
    ({"lease_timeout": -1}, "--lease_timeout -1: a lease timeout must be more than 0 s"),
    ({"heartbeat_interval": 0}, "--heartbeat_interval 0: a heartbeat interval must be more than 0 s"),
    (
        {"lease_timeout": 20, "heartbeat_interval": 30},
        "--heartbeat_interval 30 is not shorter than --lease_timeout 20: a healthy holder would look stale",
    ),
    ({"lease_timeout": 20}, "--heartbeat_interval 30 (the default) is not shorter than --lease_timeout 20"),
    ({"heartbeat_interval": 90}, "--heartbeat_interval 90 is not shorter than --lease_timeout 90 (the default)"),
    ({"clock_skew_allowance": -1}, "--clock_skew_allowance -1: must be 0 or more"),
    ({"max_concurrent": 0}, "--max_concurrent 0: at least 1 step must be allowed to run at once"),
]
IDS = ["timeout-0", "timeout-negative", "heartbeat-0", "heartbeat-above", "default-heartbeat", "default-timeout",
       "skew-negative", "concurrency-0"]  # fmt: skip


class Ran:
    def __init__(self) -> None:
        self.paths: list[str] = []

    def __call__(self, output_path: str) -> int:
        self.paths.append(output_path)
        return 1


@pytest.mark.parametrize(("flags", "said"), UNSAFE, ids=IDS)
def test_executor_main_refuses_in_one_line_with_exit_2_before_anything_runs(
    prefix: str, capsys: pytest.CaptureFixture[str], flags: dict[str, Any], said: str
) -> None:
    # Regression (issue 20, item 3): --lease_timeout 0 took a live lease over (the step ran twice), and the rest ran.
    fn = Ran()
    step = StepSpec(name="unsafe/step", fn=fn, output_path_prefix=prefix)
    with pytest.raises(SystemExit) as exited:
        executor_main([step], config=ExecutorMainConfig(prefix=prefix, **flags))

    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert err.startswith(f"error: {said}") and err.count("\n") == 1, err
    assert fn.paths == [] and not os.listdir(prefix)  # nothing ran, nothing was written


def test_an_experiment_script_given_lease_timeout_0_exits_2_with_one_line(prefix: str, tmp_path: pathlib.Path) -> None:
    command = [sys.executable, "-m", "tests.interrupt_pipeline", "--prefix", prefix, "--lease_timeout", "0"]
    env = {**os.environ, "INTERRUPT_SIGNALS": str(tmp_path)}
    proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)

    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: --lease_timeout 0: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert not (tmp_path / "executions").exists() and not os.listdir(prefix)


@pytest.mark.parametrize(("flags", "said"), UNSAFE, ids=IDS)
def test_step_runner_run_raises_unsafe_settings_before_any_step(prefix: str, flags: dict[str, Any], said: str) -> None:
    fn = Ran()
    name = said.split()[0].lstrip("-")
    with pytest.raises(UnsafeSettingsError, match=f"^{name}=") as raised:
        StepRunner().run([StepSpec(name="unsafe/step", fn=fn, output_path_prefix=prefix)], **flags)
    assert isinstance(raised.value, MarinExecError) and "\n" not in str(raised.value)
    assert fn.paths == [] and not os.listdir(prefix)


def test_run_settings_refuses_a_heartbeat_not_shorter_than_the_lease_timeout() -> None:
    with pytest.raises(UnsafeSettingsError, match=r"^heartbeat_interval=6 is not shorter than lease_timeout=6"):
        with run_settings(heartbeat_interval=6, lease_timeout=6):
            pass
    with run_settings(heartbeat_interval=2, lease_timeout=6) as settings:  # together, a safe pair is fine
        assert (settings.heartbeat_interval, settings.lease_timeout) == (2, 6)


@pytest.mark.parametrize("arguments", [{"lease_timeout": 0}, {"heartbeat_interval": -1}, {"heartbeat_interval": 5.0,
                                        "lease_timeout": 5.0}])  # fmt: skip
def test_distributed_lock_refuses_unsafe_arguments_when_wrapping(arguments: dict[str, float]) -> None:
    with pytest.raises(UnsafeSettingsError, match=r"\(from distributed_lock\)"):
        distributed_lock(Ran(), **arguments)


def test_distributed_lock_refuses_a_timeout_below_the_run_s_heartbeat_when_called_and_writes_nothing(
    prefix: str,
) -> None:
    fn = Ran()
    locked = distributed_lock(fn, lease_timeout=10)  # the default heartbeat (30 s) comes from the run settings
    with pytest.raises(UnsafeSettingsError, match=r"heartbeat_interval=30.0 \(from the run settings\) is not shorter"):
        disk_cached(locked, f"{prefix}/step")
    assert fn.paths == [] and not os.listdir(prefix)  # no FAILED written without a lease, no lease taken
