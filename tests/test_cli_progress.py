"""Progress through the command line: without a terminal, a 3 s step gets status lines on stderr every
``--progress_interval`` seconds naming it as running; stdout keeps only the summary."""

from __future__ import annotations

import subprocess
import sys

from tests.test_cli_why import MODEL, SCRIPT


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
