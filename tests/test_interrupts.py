"""Interrupts (DESIGN §5a). At the primitives: a KeyboardInterrupt or SystemExit inside a step writes no FAILED,
releases the lease and propagates; ``release_all`` gives up every lease of the process; RUNNING without a live
lease reads as interrupted and reruns at once, even with force_run_failed off. End to end: ``executor_main`` in a
real process receives real signals — one Ctrl-C drains (exit 130), a second one or SIGTERM stops at once (130 / 143)
with the lease of a step blocked in user code released — and the dry run then shows the step as interrupted.

Steps run in real threads or processes on local disk; the parent synchronises on files the steps write, and on the
CLI's prompt (``AGAIN_TO_STOP``), which is itself under test.
"""

from __future__ import annotations

import os
import pathlib
import re
import signal
import subprocess
import sys
import threading
from typing import Any

import pytest

from marin_exec import (
    STATUS_RUNNING,
    Artifact,
    LeaseLostError,
    StatusFile,
    StepSpec,
    disk_cached,
    distributed_lock,
    executor_main,
)
from marin_exec.run.cli import ExecutorMainConfig, run_executor
from marin_exec.run.interrupts import AGAIN_TO_STOP
from marin_exec.runtime.heartbeat import release_all
from marin_exec.status.lease_record import FREE, LIVE
from marin_exec.status.step_status import is_interrupted, read_lease_view
from tests import interrupt_pipeline
from tests.fault_workers import wait_for
from tests.golden_messages import assert_golden
from tests.test_distributed_lock import WAIT, Calls, lease_holder, start

INTERRUPTS = [KeyboardInterrupt(), SystemExit(143)]


def _raise(error: BaseException) -> Any:
    def fn(path: str) -> Any:
        raise error

    return fn


@pytest.mark.parametrize("interrupt", INTERRUPTS, ids=["ctrl-c", "exit"])
def test_an_interrupt_inside_a_step_writes_no_failed_releases_the_lease_and_propagates(
    prefix: str, interrupt: BaseException
) -> None:
    # Regression (issue 10, item 2): a KeyboardInterrupt was recorded as FAILED, so a rerun refused the step.
    out = f"{prefix}/step"
    with pytest.raises(type(interrupt)):
        disk_cached(distributed_lock(_raise(interrupt)), out)
    assert StatusFile(out).read() == STATUS_RUNNING
    assert lease_holder(out) is None
    assert is_interrupted(StatusFile(out).read(), read_lease_view(out))


@pytest.mark.parametrize("interrupt", INTERRUPTS, ids=["ctrl-c", "exit"])
def test_an_interrupt_inside_save_writes_no_failed_and_releases_the_lease(
    prefix: str, interrupt: BaseException
) -> None:
    out = f"{prefix}/step"

    def save(result: Any, path: str) -> None:
        raise interrupt

    with pytest.raises(type(interrupt)):
        disk_cached(distributed_lock(lambda path: 1), out, save=save)
    assert StatusFile(out).read() == STATUS_RUNNING
    assert lease_holder(out) is None


def test_a_standalone_lock_releases_its_lease_on_an_interrupt(prefix: str) -> None:
    out = f"{prefix}/step"
    with pytest.raises(KeyboardInterrupt):
        distributed_lock(_raise(KeyboardInterrupt()))(out)
    assert lease_holder(out) is None


def test_an_interrupted_step_reruns_at_once_even_with_force_run_failed_off(prefix: str) -> None:
    out = f"{prefix}/step"
    with pytest.raises(KeyboardInterrupt):
        disk_cached(distributed_lock(_raise(KeyboardInterrupt())), out)
    fn = Calls(result={"value": 2})
    assert disk_cached(distributed_lock(fn, force_run_failed=False), out, save=Artifact.save) == {"value": 2}
    assert fn.paths == [out]


def test_release_all_gives_up_every_lease_of_the_process_and_the_steps_commit_nothing(prefix: str) -> None:
    paths = [f"{prefix}/step-{i}" for i in range(3)]
    entered = [threading.Event() for _ in paths]
    resume = threading.Event()

    def blocking(index: int) -> Any:
        def fn(path: str) -> Any:
            entered[index].set()
            assert resume.wait(WAIT)
            return {"value": index}

        return fn

    running = [start(disk_cached, distributed_lock(blocking(i)), path) for i, path in enumerate(paths)]
    assert all(event.wait(WAIT) for event in entered)
    assert all(read_lease_view(path).state == LIVE for path in paths)

    released = release_all()

    assert set(paths) <= set(released)  # with any lease an earlier test of this process left held
    assert all(lease_holder(path) is None for path in paths)
    assert all(is_interrupted(StatusFile(path).read(), read_lease_view(path)) for path in paths)
    resume.set()
    for thread, outcome in running:
        thread.join(WAIT)
        assert isinstance(outcome.get("error"), LeaseLostError), outcome
        assert "released while the step ran" in str(outcome["error"])  # said, not blamed on a stall alone
    assert all(StatusFile(path).read() == STATUS_RUNNING and not Artifact.exists(path) for path in paths)
    assert release_all() == []


def test_a_step_running_elsewhere_is_not_interrupted(prefix: str) -> None:
    out = f"{prefix}/step"
    entered, resume = threading.Event(), threading.Event()

    def fn(path: str) -> int:
        entered.set()
        assert resume.wait(WAIT)
        return 1

    thread, _ = start(disk_cached, distributed_lock(fn), out)
    try:
        assert entered.wait(WAIT)
        view = read_lease_view(out)
        assert not is_interrupted(StatusFile(out).read(), view)
        assert (view.state, view.host is not None, view.pid is not None) == (LIVE, True, True)
    finally:
        resume.set()
        thread.join(WAIT)
    assert read_lease_view(out).state == FREE


# -- executor_main in a real process, with real signals (issue 10, item 2) ---------------------------------------

REPO = pathlib.Path(__file__).resolve().parents[1]
EXIT = 60.0  # bound on a process that must end by itself; only reached when a test fails


class Pipeline:
    """``tests.interrupt_pipeline`` run by executor_main in a subprocess, with its signal files in ``signals``."""

    def __init__(self, prefix: str, signals: pathlib.Path, remote: bool = False) -> None:
        self.prefix, self.signals, self.remote = prefix, signals, remote
        signals.mkdir(exist_ok=True)
        self.hold, self.after = [spec.output_path for spec in interrupt_pipeline.build(prefix, remote)]

    def start(self, *flags: str, stdout: int | None = None) -> subprocess.Popen[str]:
        # A lease timeout of an hour: a rerun that waited for a lease instead of starting at once would never end.
        command = [sys.executable, "-m", "tests.interrupt_pipeline", "--prefix", self.prefix, "--lease_timeout", "3600"]
        env = {**os.environ, "INTERRUPT_SIGNALS": str(self.signals), "INTERRUPT_REMOTE": str(int(self.remote))}
        return subprocess.Popen(
            [*command, *flags],
            cwd=REPO,
            env=env,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=interrupt_pipeline.as_from_a_terminal,
        )

    def started(self, proc: subprocess.Popen[str], step: str) -> None:
        wait_for(lambda: (self.signals / f"started-{step}").exists() or proc.poll() is not None, f"{step} to start")
        assert (self.signals / f"started-{step}").exists(), proc.communicate()[1]

    def files(self) -> set[str]:
        return {path.name for path in self.signals.iterdir()}


def _read_until(proc: subprocess.Popen[str], text: str) -> str:
    """The process's stderr up to the line containing ``text`` (the prompt under test, a constant of the CLI)."""
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if text in line:
            return "".join(seen)
    raise AssertionError(f"{text!r} never printed; stderr was:\n{''.join(seen)}")


def _rerun_starts_at_once(pipeline: Pipeline) -> None:
    (pipeline.signals / "resume").touch()
    proc = pipeline.start("--force_run_failed", "false")
    _, err = proc.communicate(timeout=EXIT)
    assert proc.returncode == 0, err
    assert StatusFile(pipeline.hold).read() == StatusFile(pipeline.after).read() == "SUCCESS"


def test_one_ctrl_c_starts_nothing_new_names_the_running_step_lets_it_finish_and_exits_130(
    prefix: str, tmp_path: pathlib.Path
) -> None:
    # Regression (issue 10, item 2): one Ctrl-C printed nothing and, once the step ended, ran the next one.
    pipeline = Pipeline(prefix, tmp_path / "signals")
    proc = pipeline.start()
    pipeline.started(proc, "hold")

    proc.send_signal(signal.SIGINT)
    said = _read_until(proc, AGAIN_TO_STOP)
    (pipeline.signals / "resume").touch()
    _, rest = proc.communicate(timeout=EXIT)

    assert proc.returncode == 130, said + rest
    assert "interrupts/hold" in said.splitlines()[-1]  # the prompt names the step still running
    assert StatusFile(pipeline.hold).read() == "SUCCESS"  # the running step finished and committed
    assert "started-after" not in pipeline.files() and StatusFile(pipeline.after).read() is None
    assert read_lease_view(pipeline.hold).state == FREE


@pytest.mark.parametrize(
    ("signals", "code", "remote"),
    [([signal.SIGINT, signal.SIGINT], 130, False), ([signal.SIGTERM], 143, False), ([signal.SIGTERM], 143, True)],
    ids=["ctrl-c-twice", "sigterm", "sigterm-fray-job"],
)
def test_stopping_now_releases_the_lease_of_a_blocked_step_writes_no_failed_and_a_rerun_starts_at_once(
    prefix: str, tmp_path: pathlib.Path, signals: list[signal.Signals], code: int, remote: bool
) -> None:
    # Regression (issue 10, item 2): a second Ctrl-C or SIGTERM left RUNNING plus a live-looking lease, and the
    # rerun waited for it; the step (blocked in user code) must not keep the process alive either.
    pipeline = Pipeline(prefix, tmp_path / "signals", remote)
    proc = pipeline.start()
    pipeline.started(proc, "hold")

    for i, signum in enumerate(signals):
        proc.send_signal(signum)
        if i + 1 < len(signals):
            _read_until(proc, AGAIN_TO_STOP)  # the first Ctrl-C was taken in: the second is the second
    _, err = proc.communicate(timeout=EXIT)  # the step is still blocked: "resume" does not exist

    assert proc.returncode == code, err
    assert "ended-hold" not in pipeline.files()
    assert "interrupted: interrupts/hold" in err and "released 1 lease(s)" in err
    assert StatusFile(pipeline.hold).read() == STATUS_RUNNING  # no FAILED: nothing to force
    assert read_lease_view(pipeline.hold).state == FREE  # released, not merely left by a dead process
    assert not Artifact.exists(pipeline.hold)
    if remote:  # the job this run submitted was terminated, and said so
        assert re.search(r"Fray job \S+ \(interrupts/hold-\w+\): terminated", err), err
    _rerun_starts_at_once(pipeline)


@pytest.mark.parametrize(
    ("signals", "code"),
    [([signal.SIGINT], 130), ([signal.SIGINT, signal.SIGINT], 130), ([signal.SIGTERM], 143)],
    ids=["ctrl-c", "ctrl-c-twice", "sigterm"],
)
def test_a_stopped_run_names_what_it_did_not_start_and_says_how_to_continue_once(
    prefix: str, tmp_path: pathlib.Path, signals: list[signal.Signals], code: int
) -> None:
    # Regression (issue 20, item 17): after a second Ctrl-C or SIGTERM no command to continue was printed; the
    # steps not started were counted, never named; the continue command added --force_run_failed true though
    # nothing had failed; "released 1 lease(s)" was printed twice.
    pipeline = Pipeline(prefix, tmp_path / "signals")
    proc = pipeline.start(stdout=subprocess.PIPE)
    pipeline.started(proc, "hold")
    said = ""
    for i, signum in enumerate(signals):
        proc.send_signal(signum)
        if i + 1 < len(signals) or signals == [signal.SIGINT]:
            said += _read_until(proc, AGAIN_TO_STOP)
    if signals == [signal.SIGINT]:
        (pipeline.signals / "resume").touch()  # the running step ends; the drained run then exits
    out, err = proc.communicate(timeout=EXIT)
    err = said + err

    assert proc.returncode == code, err
    assert f"  not started: interrupts/{pathlib.Path(pipeline.after).name}\n" in out
    [command] = [line.split("to continue: ", 1)[1] for line in err.splitlines() if "to continue: " in line]
    assert "--force_run_failed" not in command and "tests/interrupt_pipeline.py" in command
    assert err.count("released 1 lease(s)") == (0 if signals == [signal.SIGINT] else 1), err
    if signals == [signal.SIGTERM]:
        shown = [line for line in err.splitlines() if " INFO " not in line and "run record" not in line]
        text = re.sub(r"^\d\d:\d\d:\d\d ", "", "\n".join(shown), flags=re.MULTILINE).replace(prefix, "PREFIX")
        assert_golden("sigterm", text.replace(sys.executable, "PYTHON").replace(str(REPO), "REPO") + "\n")


def test_the_dry_run_shows_a_step_stopped_by_sigterm_as_interrupted_and_to_be_run(
    prefix: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pipeline = Pipeline(prefix, tmp_path / "signals")
    proc = pipeline.start()
    pipeline.started(proc, "hold")
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=EXIT)

    executor_main(interrupt_pipeline.build(prefix), config=ExecutorMainConfig(prefix=prefix, dry_run=True))

    out = capsys.readouterr().out
    assert "[will run]  interrupts/hold" in out
    assert "why: interrupted: status RUNNING, but its worker released the lease" in out
    assert "running elsewhere" not in out.split("Summary:")[0]


def test_run_executor_changes_no_signal_handler_and_executor_main_restores_the_previous_ones(prefix: str) -> None:
    seen: list[Any] = []

    def record(output_path: str) -> None:
        seen.append((signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)))

    def custom(signum: int, frame: Any) -> None:
        pass

    before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))  # SIGINT ignored if in background
    step = StepSpec(name="signals/record", fn=record, output_path_prefix=prefix)
    run_executor([step], ExecutorMainConfig(prefix=prefix))
    assert seen == [before]  # programmatic: untouched

    previous = signal.signal(signal.SIGTERM, custom)
    try:
        step = StepSpec(name="signals/record", fn=record, hash_attrs={"v": 2}, output_path_prefix=prefix)
        executor_main([step], config=ExecutorMainConfig(prefix=prefix))
        assert seen[1][1] not in (custom, signal.SIG_DFL)  # ours while the run ran
        assert signal.getsignal(signal.SIGTERM) is custom and signal.getsignal(signal.SIGINT) is seen[0][0]
    finally:
        signal.signal(signal.SIGTERM, previous)
