"""Progress through the command line: without a terminal, a 3 s step gets status lines on stderr every
``--progress_interval`` seconds naming it as running; stdout keeps only the summary."""

from __future__ import annotations

import os
import pty
import re
import socket
import subprocess
import sys

from tests.test_cli_why import MODEL, SCRIPT
from tests.test_inspect_steps import HOLDER


def test_without_a_terminal_a_running_step_is_listed_on_stderr_every_interval(prefix):
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--prefix", prefix, "--seconds", "3", "--progress_interval", "1"],
        capture_output=True,
        text=True,
        cwd=prefix,
        stdin=subprocess.DEVNULL,
    )

    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("progress: ")]
    assert any(line.startswith(f"progress: 1/2 done (1 ran); running: {MODEL} (") for line in lines), proc.stderr
    assert "progress:" not in proc.stdout and "Summary: 2 ran" in proc.stdout


def test_a_dry_run_prints_no_progress(prefix):
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--prefix", prefix, "--dry_run", "true", "--progress_interval", "0.01"],
        capture_output=True,
        text=True,
        cwd=prefix,
    )

    assert proc.returncode == 0 and "progress:" not in proc.stderr


def test_on_a_terminal_the_live_display_shows_the_running_step_and_logs_still_reach_it(prefix):
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--prefix", prefix, "--seconds", "1.5"],
        stdout=subprocess.PIPE,
        stderr=secondary,
        stdin=subprocess.DEVNULL,
        cwd=prefix,
        env={**os.environ, "TERM": "xterm"},
    )
    os.close(secondary)
    shown = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # EIO: the process closed its end
            break
        if not chunk:
            break
        shown += chunk
    os.close(primary)
    out, _ = proc.communicate()

    text = shown.decode(errors="replace")
    assert proc.returncode == 0, text
    assert "steps done" in text and MODEL in text and "progress: " not in text  # rich's display, not status lines
    # Log lines start on a line of their own (the display is erased first), never glued to the display's text.
    assert re.search(r"(\n|\x1b\[2K)\d\d:\d\d:\d\d INFO models/x: finished in", text), text
    assert "Summary: 2 ran" in out.decode()


def test_a_step_waiting_for_another_process_is_listed_with_its_holder_until_that_holder_dies(prefix):
    out = f"{prefix}/{MODEL}"
    holder = subprocess.Popen(
        [sys.executable, str(HOLDER), out], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    run = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--prefix", prefix, "--progress_interval", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        cwd=prefix,
    )
    assert run.stderr is not None
    waiting = None
    for line in run.stderr:  # read until a status line shows the wait, then end the holder
        if line.startswith("progress: ") and "waiting: " in line:
            waiting = line
            break
    holder.kill()
    holder.wait()
    stdout, _ = run.communicate()

    assert waiting is not None and f"waiting: {MODEL} for {_worker_of(holder.pid)}" in waiting
    assert "(heartbeat " in waiting.split("waiting: ", 1)[1]
    assert run.returncode == 0 and "Summary: 2 ran" in stdout


def _worker_of(pid: int) -> str:
    return f"{socket.gethostname()}-{pid}-"
