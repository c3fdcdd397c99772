"""A failed step, readable: its traceback with the user's frames shown and marin_exec's folded into one line, and
the ``.executor_error`` record (exception, message, traceback, worker, host, time, attempt) next to its outputs.

``format_failure`` is pure text (``fold_traceback_text`` does the same to a remote worker's traceback text);
``write_error_record`` / ``read_error_record`` go through the storage layer as ``.executor_info`` does (one
unconditional, atomic-for-readers write; ``prepare_error_record`` builds the record first and leaves the write for
later, under the lease's fence). ``earlier_attempts`` gives the history a successful retry keeps in
``.executor_info``. This module does not decide when to write (the commit code does: before FAILED, under the
lease), does not print, and does not write status.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
import time
import traceback
from collections.abc import Callable
from typing import Any

from marin_exec.errors import RemoteStepFailed
from marin_exec.status.lease_record import this_host
from marin_exec.status.status import join, worker_id
from marin_exec.storage.protocol import json_object
from marin_exec.storage.store import store_for

ERROR_FILENAME = ".executor_error"
# A traceback longer than this is cut in its middle in the record (a RecursionError's can be megabytes).
MAX_TRACEBACK_CHARS = 20_000

_FILE_LINE = re.compile(r'^  File "(.+)", line \d+')
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # marin_exec/
# The runner's thread pool: plumbing between marin_exec's frames, never where a user's bug is.
_POOL_FILES = (os.sep + os.path.join("concurrent", "futures", "thread.py"), os.sep + "threading.py")


def is_internal(filename: str) -> bool:
    """Whether a frame of ``filename`` is marin_exec's own (or its thread pool's), so it is folded away."""
    path = os.path.abspath(filename)
    return path.startswith(_PACKAGE_DIR + os.sep) or path.endswith(_POOL_FILES)


def format_failure(exc: BaseException) -> str:
    """The exception's traceback (and its causes'), marin_exec's frames folded into one line per traceback.

    The frame that raised is kept even when it is marin_exec's: its message says what to do.
    """
    parts: list[str] = []
    _format_chain(exc, parts, seen=set())
    return "".join(parts).rstrip("\n")


def _format_chain(exc: BaseException, parts: list[str], seen: set[int]) -> None:
    seen.add(id(exc))
    cause, context = exc.__cause__, exc.__context__
    if cause is not None and id(cause) not in seen:
        _format_chain(cause, parts, seen)
        parts.append("\nThe above exception was the direct cause of the following exception:\n\n")
    elif context is not None and not exc.__suppress_context__ and id(context) not in seen:
        _format_chain(context, parts, seen)
        parts.append("\nDuring handling of the above exception, another exception occurred:\n\n")
    frames = traceback.extract_tb(exc.__traceback__)
    shown = [frame for i, frame in enumerate(frames) if not is_internal(frame.filename) or i == len(frames) - 1]
    hidden = len(frames) - len(shown)
    if frames:
        note = f"; {hidden} marin_exec frame(s) hidden" if hidden else ""
        parts.append(f"Traceback (most recent call last{note}):\n")
        parts.extend(traceback.StackSummary.from_list(shown).format())
    parts.extend(traceback.format_exception_only(type(exc), exc))


def fold_traceback_text(text: str) -> str:
    """``format_failure`` for a traceback that is only text (a remote worker's): each ``Traceback`` block loses its
    marin_exec frames except the one that raised, and its header says how many were hidden."""
    out: list[str] = []
    block: list[list[str]] = []  # the frames of the current traceback block, each its lines
    header: int | None = None  # index in ``out`` of the current block's "Traceback" line

    def flush() -> None:
        nonlocal header
        if header is not None:
            kept = [f for i, f in enumerate(block) if not _internal_frame(f[0]) or i == len(block) - 1]
            if len(kept) < len(block):
                out[header] = f"Traceback (most recent call last; {len(block) - len(kept)} marin_exec frame(s) hidden):"
            out.extend(line for frame in kept for line in frame)
        block.clear()
        header = None

    for line in text.splitlines():
        if line.startswith("Traceback (most recent call last"):
            flush()
            header = len(out)
            out.append(line)
        elif header is not None and _FILE_LINE.match(line):
            block.append([line])
        elif header is not None and block and line.startswith("    "):
            block[-1].append(line)  # the frame's source line and its ^^^ markers
        else:
            flush()
            out.append(line)
    flush()
    return "\n".join(out)


def _internal_frame(file_line: str) -> bool:
    match = _FILE_LINE.match(file_line)
    return bool(match) and is_internal(match.group(1))  # type: ignore[union-attr]


def readable_failure(exc: BaseException) -> str:
    """What is printed under a failed step's name: ``format_failure``, or for a Fray job's failure its first line and
    the worker's traceback text folded the same way."""
    if isinstance(exc, RemoteStepFailed) and exc.worker_error:
        return f"{str(exc).splitlines()[0]}\n{fold_traceback_text(exc.worker_error)}"
    recorded = getattr(exc, "_marin_recorded_traceback", None)  # the text .executor_error holds: the same counts
    return recorded if isinstance(recorded, str) else format_failure(exc)


def error_line(exc: BaseException) -> str:
    """``Type: first line of the message``: what a summary or a status listing shows of a failure."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


# -- the .executor_error record ------------------------------------------------------------------------------


def error_record(exc: BaseException, attempt: int, *, history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The JSON record of one failed attempt; ``history`` lists the attempts before it (oldest first)."""
    text = format_failure(exc)
    with contextlib.suppress(AttributeError):  # shown on screen as recorded, not re-folded with more frames
        exc._marin_recorded_traceback = text  # type: ignore[attr-defined]
    if len(text) > MAX_TRACEBACK_CHARS:
        half = MAX_TRACEBACK_CHARS // 2
        text = f"{text[:half]}\n... ({len(text) - 2 * half} characters cut) ...\n{text[-half:]}"
    return {
        "type": f"{type(exc).__module__}.{type(exc).__qualname__}",
        "message": str(exc),
        "traceback": text,
        "worker": worker_id(),
        "host": this_host(),
        "pid": os.getpid(),
        "time": _iso(time.time()),
        "attempt": attempt,
        "history": list(history or []),
    }


def write_error_record(output_path: str, exc: BaseException, attempt: int | None = None) -> dict[str, Any]:
    """Write ``{output_path}/.executor_error`` for a failed attempt, keeping the history of earlier ones; returns
    the record. An earlier record at the path becomes the last entry of the history; ``attempt`` defaults to the
    one after it."""
    record, write = prepare_error_record(output_path, exc, attempt)
    write()
    return record


def prepare_error_record(
    output_path: str, exc: BaseException, attempt: int | None = None
) -> tuple[dict[str, Any], Callable[[], None]]:
    """``write_error_record`` in two parts: the record, built now (the earlier record read, the traceback and the
    exception's message formatted: user code), and its one write, to make later under the lease's fence, which
    must not be held while user code runs (it blocks the heartbeat's refresh)."""
    history = earlier_attempts(output_path)
    record = error_record(exc, next_attempt(history) if attempt is None else attempt, history=history)
    path = join(output_path, ERROR_FILENAME)
    data = json.dumps(record, indent=2, default=repr).encode()  # default=repr: user code too
    return record, lambda: store_for(path).write(path, data)


def read_error_record(output_path: str) -> dict[str, Any] | None:
    """The ``.executor_error`` record at ``output_path``; None when there is none or it is not a JSON object."""
    path = join(output_path, ERROR_FILENAME)
    return json_object(store_for(path).read(path))


def earlier_attempts(output_path: str) -> list[dict[str, Any]]:
    """Every failed attempt recorded at ``output_path``, oldest first, each in short form (attempt, time, worker,
    host, type, message): what ``.executor_info`` keeps as ``"attempts"`` when a retry succeeds."""
    record = read_error_record(output_path)
    if record is None:
        return []
    history = [entry for entry in record.get("history", []) if isinstance(entry, dict)]
    return [*history, attempt_summary(record)]


def next_attempt(history: list[dict[str, Any]]) -> int:
    """The number of the attempt after ``history`` (1 when nothing failed before)."""
    numbers = [entry.get("attempt") for entry in history]
    return max((n for n in numbers if isinstance(n, int)), default=len(history)) + 1


def attempt_summary(record: dict[str, Any]) -> dict[str, Any]:
    """The short form of a failed attempt's record, without the traceback."""
    keys = ("attempt", "time", "worker", "host", "type", "message")
    return {key: record.get(key) for key in keys}


def _iso(t: float) -> str:
    return datetime.datetime.fromtimestamp(t, tz=datetime.UTC).isoformat()
