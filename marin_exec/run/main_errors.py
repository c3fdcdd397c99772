"""What ``executor_main`` prints when the steps cannot be traced or the run fails: one clean message on stderr.

A tracing error shows the user's frames only (marin_exec's are filtered out, as JAX does); any other
``MarinExecError`` its message, the underlying cause in one line, and the rerun command where a rerun can help.
It exits only where ``trace_entry`` says so; it changes no state and writes no files.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from typing import Any

from marin_exec.errors import MarinExecError, TracingError


def print_error(e: MarinExecError) -> None:
    """``e`` on stderr as one message (a tracing error as the user's frames), and how to rerun if that can help."""
    from marin_exec.run.run_files import rerun_command
    from marin_exec.run.summary import step_results, summarize
    from marin_exec.status.failure import error_line

    report = getattr(e, "report", None)  # a failed run: its summary is printed already
    if isinstance(e, TracingError):
        print(filtered_text(e), file=sys.stderr)
    else:
        print(f"error: {e}", file=sys.stderr)
        cause = e.__cause__
        said = cause is not None and bool(str(cause)) and str(cause) in str(e)  # the message names it already
        if cause is not None and not isinstance(cause, MarinExecError) and not said:
            # a failed run logged the step's traceback; any other error's cause was never printed
            shown = " (its traceback is above)" if report is not None else ""
            print(f"caused by: {error_line(cause)}{shown}", file=sys.stderr)
    if report is not None and summarize(step_results(report), report.seconds).rerun_helps:
        print(f"to rerun: {rerun_command()}", file=sys.stderr)


def trace_entry(entry: Callable[[], Any]) -> list[Any]:
    """Call the entry point; an error it raises becomes a filtered traceback on stderr and exit status 1."""
    try:
        traced = entry()
    except Exception as e:
        from marin_exec.trace.trace_errors import explain_trace_error

        explained = explain_trace_error(e)
        print(filtered_text(explained), file=sys.stderr)
        sys.exit(1)
    return list(traced) if isinstance(traced, list | tuple) else [traced]


def filtered_text(error: BaseException) -> str:
    from marin_exec.trace.trace_errors import filter_traceback

    filter_traceback(error)
    return "".join(traceback.format_exception(error)).rstrip("\n")
