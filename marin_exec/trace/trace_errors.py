"""Errors raised while tracing, made to read like JAX's: marin_exec's frames removed, a missing ``deferred()`` named
as such, and a step that (indirectly) calls itself reported as the cycle of step names instead of a RecursionError.

``explain_trace_error(exc)`` is the one entry point a caller needs (the outermost ``@step`` call, ``executor_main``
tracing an entry point): it returns the exception to raise in place of ``exc``. Everything is read from the
exception's own traceback (the frames of ``tracing.run_in_frame`` hold the ``Frame`` of each step body being
traced). ``install_excepthook`` (called by the outermost ``@step`` call when tracing fails, never at import) makes an
uncaught exception that came out of tracing print without the marin_exec frames it gained on its way out, as in the
documented ``executor_main(steps=[entry()])`` form, which raises before ``executor_main`` is entered. It does not
print, and it never swallows an exception: what it cannot explain comes back as itself, with a filtered traceback.
"""

from __future__ import annotations

import contextlib
import sys
import types
from collections.abc import Iterator, Sequence

from marin_exec.errors import TracingError
from marin_exec.status.failure import is_internal
from marin_exec.trace.context import Frame, run_in_frame
from marin_exec.trace.missing_deferred import missing_deferred
from marin_exec.trace.step_ref import StepRefUsedAsData

_RUN_IN_FRAME = run_in_frame.__code__
_MARK = "__marin_exec_trace_error__"
_HOOK_INSTALLED = False


def explain_trace_error(exc: BaseException) -> BaseException:
    """The exception to raise for ``exc``, raised while tracing: a TracingError naming a cycle of steps or a
    missing ``deferred()``, else ``exc`` itself with marin_exec's frames removed from its traceback."""
    explained = _explain(exc)
    with contextlib.suppress(AttributeError):  # an exception type with __slots__ cannot be marked; rare
        setattr(explained, _MARK, True)
    return explained


def _explain(exc: BaseException) -> BaseException:
    if isinstance(exc, RecursionError):
        cycle = find_cycle(step_names_on_stack(exc.__traceback__))
        if cycle is not None:
            return _suppressed(
                TracingError(
                    f"step '{cycle[0]}' calls itself while tracing: {' -> '.join(cycle)}. A @step body may call "
                    "other steps but not, even indirectly, itself (tracing would never end); pass the upstream "
                    "step's StepRef as a parameter instead"
                )
            )
    if isinstance(exc, (TypeError, AttributeError, ValueError, StepRefUsedAsData)):
        missing = _missing_deferred(exc)
        if missing is not None:  # shown with the user's frames that led to it
            return _suppressed(missing.with_traceback(filter_traceback(exc).__traceback__))
    return filter_traceback(exc)


def install_excepthook() -> None:
    """Once per process: ``sys.excepthook`` filters marin_exec's frames from an uncaught exception that tracing
    raised (``explain_trace_error`` marks it) or any ``TracingError``, then hands it to the previous hook."""
    global _HOOK_INSTALLED
    if _HOOK_INSTALLED:
        return
    _HOOK_INSTALLED = True
    previous = sys.excepthook

    def hook(kind: type[BaseException], value: BaseException, tb: types.TracebackType | None) -> None:
        if isinstance(value, TracingError) or getattr(value, _MARK, False):
            tb = filter_traceback(value).__traceback__
        previous(kind, value, tb)

    sys.excepthook = hook


def filter_traceback(exc: BaseException) -> BaseException:
    """``exc`` (and the exceptions it chains) with marin_exec's frames removed from the traceback, in place.

    When every frame is marin_exec's, the one that raised is kept, so a traceback is never empty.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = list(_tracebacks(current.__traceback__))
        kept = [tb for tb in frames if not is_internal(tb.tb_frame.f_code.co_filename)] or frames[-1:]
        rebuilt: types.TracebackType | None = None
        for tb in reversed(kept):
            rebuilt = types.TracebackType(rebuilt, tb.tb_frame, tb.tb_lasti, tb.tb_lineno)
        current.__traceback__ = rebuilt
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return exc


def step_names_on_stack(tb: types.TracebackType | None) -> list[str]:
    """The names of the @step bodies being traced where ``tb`` was raised, outermost first."""
    names = []
    for entry in _tracebacks(tb):
        if entry.tb_frame.f_code is _RUN_IN_FRAME:
            frame = entry.tb_frame.f_locals.get("frame")
            if isinstance(frame, Frame) and frame.is_step:
                names.append(frame.name)
    return names


def find_cycle(names: Sequence[str]) -> list[str] | None:
    """The first cycle in a stack of step names (outermost first), closed: ``['a', 'b', 'a']``; None without one.

    Scanning inwards, the first name seen a second time closes the cycle that started where it was first seen.
    """
    first_seen: dict[str, int] = {}
    for j, name in enumerate(names):
        i = first_seen.get(name)
        if i is not None:
            return list(names[i : j + 1])
        first_seen[name] = j
    return None


# -- a missing deferred() ------------------------------------------------------------------------------------


def _missing_deferred(exc: BaseException) -> TracingError | None:
    """A TracingError when ``exc`` came from a library function, called in a step body without ``deferred()``,
    using a VersionedValue or StepRef as a concrete value (``trace.missing_deferred``); else None."""
    frames = list(_tracebacks(exc.__traceback__))
    body = max((i + 1 for i, tb in enumerate(frames) if tb.tb_frame.f_code is _RUN_IN_FRAME), default=None)
    if body is None or body >= len(frames):
        return None  # not raised inside a step body being traced
    step_frame = frames[body - 1].tb_frame.f_locals.get("frame")
    step = step_frame.name if isinstance(step_frame, Frame) else "?"
    called = [tb for tb in frames[body + 1 :] if not is_internal(tb.tb_frame.f_code.co_filename)]
    return missing_deferred(exc, step, called)


def _suppressed(error: TracingError) -> TracingError:
    """``error`` set to be raised in place of another, as ``raise error from None`` would."""
    error.__cause__ = None
    error.__suppress_context__ = True
    return error


def _tracebacks(tb: types.TracebackType | None) -> Iterator[types.TracebackType]:
    while tb is not None:
        yield tb
        tb = tb.tb_next
