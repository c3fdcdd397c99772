"""A step result that cannot be saved, told as the user's error: the step, the function that returned it, where in
the result the value is, what to return instead; raised from a frame at the function's ``return`` line, so the
traceback shows the user's code and none of marin_exec's.

Only the error: the encoding is ``storage.artifact.to_json``'s, and writing FAILED is ``disk_cached``'s business.
"""

from __future__ import annotations

import dis
import functools
import linecache
from collections.abc import Callable
from types import CodeType
from typing import Any, NoReturn

from marin_exec.errors import UnsaveableResult
from marin_exec.storage.artifact import UnsaveableValue


def raise_unsaveable(step: str, fn: Callable[..., Any], bad: UnsaveableValue) -> NoReturn:
    """Raise ``UnsaveableResult`` for step ``step`` whose function ``fn`` returned the value ``bad`` is about."""
    user_fn = _user_function(fn)
    code: CodeType | None = getattr(user_fn, "__code__", None)
    name = getattr(user_fn, "__qualname__", None) or repr(user_fn)
    error = UnsaveableResult(
        f"{step}: {name} returned {bad.where}, {bad.a_type}, which cannot be saved in the step's JSON artifact; "
        f"{bad.instead}. The step ran but is not done: it runs again next time"
    )
    if code is None:
        raise error from None
    _raise_at(error, code, _return_line(code))


def _raise_at(error: BaseException, code: CodeType, line: int) -> NoReturn:
    """Raise ``error`` from a frame of ``code``'s file at ``line`` (as jinja2 does for templates), so the traceback
    ends in the user's code. The statement spans the whole line: no carets under part of it."""
    text = linecache.getline(code.co_filename, line)
    indent = len(text) - len(text.lstrip())
    statement = "raise error from (None" + " " * max(0, len(text.strip()) - 23) + ")"  # 23: without the padding
    if indent and line > 1:
        source = "\n" * (line - 2) + "if 1:\n" + text[:indent] + statement
    else:
        source = "\n" * (line - 1) + statement
    at_line = compile(source, code.co_filename, "exec")
    exec(at_line.replace(co_name=code.co_name, co_qualname=code.co_qualname), {"error": error})  # noqa: S102
    raise AssertionError("unreachable")  # pragma: no cover


def _user_function(fn: Any) -> Any:
    """The function the user wrote, under the step's wrappers (``functools.partial``, ``deferred``, StepCall)."""
    while True:
        if isinstance(fn, functools.partial):
            fn = fn.func
        elif hasattr(fn, "__wrapped__"):
            fn = fn.__wrapped__
        else:
            return fn


def _return_line(code: CodeType) -> int:
    """The line of the function's ``return``, when it has one; else the line of its ``def``."""
    lines = {
        i.positions.lineno
        for i in dis.get_instructions(code)
        if i.opname in ("RETURN_VALUE", "RETURN_CONST") and i.positions is not None and i.positions.lineno
    }
    return lines.pop() if len(lines) == 1 else code.co_firstlineno
