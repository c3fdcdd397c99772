"""A library function called in a ``@step`` body without ``deferred()``: which function, and which lazy value it
touched (``config.lr = versioned(3.0)``, ``config.output_path = output()``), told in one ``TracingError``.

The function is the first of the user's frames below the step body: the call that ran at once instead of being
recorded. The value is the one the failure was about: the StepRef that refused to be data (it says so itself), or
the ``versioned()`` marker or StepRef whose name appears in the failing expression, else the one of the kind the
error names. It is shown by the path the function reached it by. It reads frames only; ``trace_errors`` decides
when to ask.
"""

from __future__ import annotations

import linecache
import re
import types
from collections.abc import Iterator
from typing import Any

from marin_exec.errors import TracingError
from marin_exec.status.failure import error_line
from marin_exec.trace.step_ref import StepRef, StepRefUsedAsData
from marin_exec.versioning import VersionedValue

_DEPTH = 3  # config.train.optimizer: deep enough for nested configs, shallow enough to stay cheap


def missing_deferred(exc: BaseException, step: str, called: list[types.TracebackType]) -> TracingError | None:
    """The TracingError for ``exc``, raised under ``called`` (the user's frames below the body of step ``step``,
    outermost first), when it came from a lazy value used as data; else None."""
    if not called:
        return None
    touched = exc.ref if isinstance(exc, StepRefUsedAsData) else _touched(exc, called)
    if touched is None:
        return None
    function = called[0].tb_frame
    path = next((p for tb in called for p, v in _markers(tb.tb_frame.f_locals) if v is touched), None)
    shown = f"{path} = {touched!r}" if path else repr(touched)
    if isinstance(touched, StepRef):
        what = f"{touched.describe()}, which exists only when the step runs"
    else:
        what = "a versioned() marker, unwrapped only when a deferred call runs"
    failed = f"used it as data: {exc.use}" if isinstance(exc, StepRefUsedAsData) else f"failed with {error_line(exc)}"
    name = function.f_code.co_name
    builds_config = (
        " If it only builds the config, keep the StepRef as it is there (ref / 'sub/path' for a path under it)."
        if isinstance(touched, StepRef)
        else ""
    )
    return TracingError(
        f"step '{step}': {_qualified(function)}(...) is not wrapped with deferred(), so it ran while tracing and "
        f"received {shown}, {what}; it {failed}. Wrap it (`{name} = deferred({name})`) and call the wrapped "
        f"function: the call is then recorded, and runs with concrete values when the step runs.{builds_config}"
    )


def _touched(exc: BaseException, called: list[types.TracebackType]) -> Any:
    """The lazy value ``exc`` is about, innermost frame first: named in the failing expression, else of the kind
    the error names (``'VersionedValue'``), else the first found."""
    text = str(exc)
    kind = StepRef if "StepRef" in text else VersionedValue if "VersionedValue" in text else None
    if kind is None:
        return None
    for tb in reversed(called):
        found = list(_markers(tb.tb_frame.f_locals))
        if not found:
            continue
        segment = _failing_expression(tb)
        named = [(hit.start(), v) for p, v in found if (hit := re.search(rf"(?<![\w.]){re.escape(p)}(?!\w)", segment))]
        if named:
            return min(named, key=lambda hit: hit[0])[1]
        return next((v for _, v in found if isinstance(v, kind)), found[0][1])
    return None


def _markers(values: Any) -> Iterator[tuple[str, Any]]:
    """(path, value) of each StepRef or VersionedValue reachable from a frame's locals, shallow first."""
    level: list[tuple[str, Any]] = list(values.items())
    for _ in range(_DEPTH):
        deeper: list[tuple[str, Any]] = []
        for path, value in level:
            if isinstance(value, (StepRef, VersionedValue)):
                yield path, value
            elif isinstance(value, dict):
                deeper += [(f"{path}[{k!r}]", v) for k, v in value.items()]
            elif isinstance(value, (list, tuple)):
                deeper += [(f"{path}[{i}]", v) for i, v in enumerate(value)]
            elif hasattr(value, "__dataclass_fields__") and not isinstance(value, type):
                deeper += [(f"{path}.{f}", getattr(value, f, None)) for f in value.__dataclass_fields__]
        level = deeper


def _failing_expression(tb: types.TracebackType) -> str:
    """The source of the expression that raised in ``tb``'s frame (its whole line without column positions)."""
    code = tb.tb_frame.f_code
    positions = list(code.co_positions())
    line, end_line, col, end_col = positions[tb.tb_lasti // 2] if tb.tb_lasti // 2 < len(positions) else (None,) * 4
    line = line or tb.tb_lineno
    lines = [linecache.getline(code.co_filename, n) for n in range(line, (end_line or line) + 1)]
    if col is None or end_col is None or not lines:
        return "".join(lines)
    if len(lines) == 1:
        return lines[0][col:end_col]
    return lines[0][col:] + "".join(lines[1:-1]) + lines[-1][:end_col]


def _qualified(frame: types.FrameType) -> str:
    return f"{frame.f_globals.get('__name__', '?')}.{frame.f_code.co_qualname}"
