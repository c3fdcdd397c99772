"""The tracing context: which body (``Frame``) is being traced in this context, held in a ``ContextVar``.

``@step`` and ``trace()`` enter a frame with ``run_in_frame`` (set with a token, reset in ``finally``); everything
else only reads it. This module records no steps (``trace.graph`` does) and imports nothing else of the tracer, so
every tracing module can read the context without an import cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from marin_exec.trace.graph import DeferredCall, StepNode


class Frame:
    """One body being traced: a @step body (``is_step``) or the top level of ``trace()``."""

    __slots__ = ("name", "qualname", "is_step", "children", "calls")

    def __init__(self, name: str, qualname: str, is_step: bool):
        self.name = name
        self.qualname = qualname
        self.is_step = is_step
        self.children: list[StepNode] = []  # steps this body called, in call order
        self.calls: list[DeferredCall] = []  # deferred calls this body made

    def __repr__(self) -> str:
        return f"Frame({self.name!r})"


_FRAME: ContextVar[Frame | None] = ContextVar("marin_exec_tracing_frame", default=None)


def current_frame() -> Frame | None:
    """The frame of the body being traced in this context, None outside any trace."""
    return _FRAME.get()


def current_step_name() -> str | None:
    """The name of the @step being traced now (for error messages), None outside a step body."""
    frame = _FRAME.get()
    return frame.name if frame is not None and frame.is_step else None


def run_in_frame(frame: Frame, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Call ``fn(*args, **kwargs)`` with ``frame`` as the current tracing frame; the previous one is restored."""
    token = _FRAME.set(frame)
    try:
        return fn(*args, **kwargs)
    finally:
        _FRAME.reset(token)
