"""The key under which a traced step call is remembered within one trace (``trace.step``'s memo): equal arguments
of equal types are one call. It records nothing itself.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from marin_exec.trace.step_ref import StepRef


def memo_key(definition: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A hashable key for a call by content *and type*, or None when an argument cannot be keyed (traced every time).

    Equality alone is not enough: ``1 == 1.0 == True`` and ``0.0 == -0.0``, yet a versioned value encodes each of
    them differently, so two such calls are two steps with two paths.
    """
    try:
        key = (
            id(definition),
            tuple(_typed(a) for a in args),
            tuple(sorted((k, _typed(v)) for k, v in kwargs.items())),
        )
        hash(key)
    except TypeError:
        return None
    return key


def _typed(value: Any) -> Any:
    """``value`` as a hashable tree that tells apart what the version encoding tells apart."""
    kind = type(value)
    if kind is float:
        return (kind, repr(value))  # 0.0 / -0.0, and nan equal to itself
    if kind in (str, int, bool, bytes, type(None)) or isinstance(value, StepRef):
        return (kind, value)
    if kind in (list, tuple) or (isinstance(value, tuple) and not dataclasses.is_dataclass(value)):
        return (kind, tuple(_typed(v) for v in value))
    if isinstance(value, dict):
        return (kind, tuple((_typed(k), _typed(v)) for k, v in value.items()))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (kind, tuple(_typed(getattr(value, f.name)) for f in dataclasses.fields(value)))
    return (kind, value)
