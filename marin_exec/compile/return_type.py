"""A step function's return annotation, judged before anything runs: one that could never be saved as the step's
JSON artifact (a set, bytes, ...) is refused when the plan is compiled. It saves and loads nothing itself.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any

from marin_exec.errors import StepDefinitionError
from marin_exec.naming import qualified_name
from marin_exec.storage.artifact import unsaveable_reason


def refuse_unsaveable_return(name: str, fn: Callable[..., Any]) -> None:
    """Refuse, before any step runs, a return annotation that could never be saved as the step's JSON artifact."""
    reason = _unsaveable_return(fn)
    if reason is not None:
        raise StepDefinitionError(
            f"step '{name}': {qualified_name(fn)} is annotated to return {reason[0]}, which cannot be saved as the "
            f"step's JSON artifact: {reason[1]}. Return a list, dict, dataclass, pydantic model or scalar instead "
            "(e.g. the bytes decoded, annotated str), and fix the annotation"
        )


@functools.lru_cache(maxsize=1024)
def _unsaveable_return(fn: Callable[..., Any]) -> tuple[str, str] | None:
    try:
        annotation = typing.get_type_hints(inspect.unwrap(fn)).get("return")
    except Exception:  # unresolvable annotations: the values are judged when saved
        return None
    reason = unsaveable_reason(annotation)
    return None if reason is None else (_annotation_text(annotation), reason)


def _annotation_text(annotation: Any) -> str:
    return annotation.__name__ if isinstance(annotation, type) else str(annotation).replace("typing.", "")
