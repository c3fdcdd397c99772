"""The tracing context: which body (``Frame``) is being traced in this context, held in a ``ContextVar``.

``@step`` and ``trace()`` enter a frame with ``run_in_frame`` (set with a token, reset in ``finally``); everything
else only reads it. This module records no steps (``trace.graph`` does) and imports nothing else of the tracer, so
every tracing module can read the context without an import cycle.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator
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


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector paused for a block (tracing, compiling), then left as it was found.

    Tracing and compiling allocate many objects that all live on, so the collector's passes find nothing to free
    and re-scan a growing graph: 0.75 s instead of 1.15 s to trace 10,000 steps. Within one block it is harmless to
    other threads (collection is only delayed) and it nests.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if gc.get_count()[0] > _PROMOTE_AFTER and nothing_frozen_by_caller():
                # The collector's first pass would scan everything the block made (0.2 s after tracing 10,000
                # steps) only to find it alive. Freezing and unfreezing moves it to the oldest generation without a
                # scan; garbage among it is freed by the next full collection instead of a young one.
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def nothing_frozen_by_caller() -> bool:
    """True unless the program froze objects itself (then it manages freezing; marin_exec neither freezes nor
    unfreezes). Python 3.12 starts with objects frozen already (375 in 3.12.1), so the count at import is the
    baseline, not 0."""
    return gc.get_freeze_count() <= _FROZEN_AT_START


_FROZEN_AT_START = gc.get_freeze_count()

# Objects the collector tracks, made within a paused block, past which they are promoted rather than scanned.
_PROMOTE_AFTER = 100_000
