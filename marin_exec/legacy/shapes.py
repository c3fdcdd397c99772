"""Recognise ExecutorStep-era objects by shape, whoever made them: ``marin_exec.legacy`` or Marin's own
``marin.execution`` (never imported: CI has no Marin), and encode version values exactly as Marin does.

A kind is a class name plus the attributes Marin's class has. This module does not walk configs or lower anything.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import logging
import pathlib
from typing import Any

logger = logging.getLogger(__name__)

_KINDS: dict[str, tuple[str, ...]] = {
    "ExecutorStep": ("name", "fn", "config"),
    "InputName": ("step", "name", "block_on_step"),
    "OutputName": ("name",),
    "VersionedValue": ("value",),
    "MirroredValue": ("value", "budget_gb"),
}

KIND_NAMES = frozenset(_KINDS)
_KIND_OF_CLASS: dict[type, str | None] = {}


def kind_of(obj: Any) -> str | None:
    """``"ExecutorStep"``, ``"InputName"``, ``"OutputName"``, ``"VersionedValue"``, ``"MirroredValue"`` or None."""
    cls = type(obj)
    known = _KIND_OF_CLASS.get(cls, "")
    if known != "":
        return known
    name = cls.__name__
    attrs = _KINDS.get(name)
    kind = name if attrs is not None and all(hasattr(obj, attr) for attr in attrs) else None
    if len(_KIND_OF_CLASS) < 4096:
        _KIND_OF_CLASS[cls] = kind  # a class's shape is its fields: decided once per class (walks are hot)
    return kind


def marin_encode(value: Any, key: str, step: str) -> Any:
    """``value`` as the JSON data Marin's encoder hashes: dataclasses as ``asdict``, Enums by value, paths as
    str, timedeltas as a dict, and anything else as ``str(value)`` with a warning (Marin's fallback, kept here so
    that an unchanged ExecutorStep keeps its path; ``@step`` code refuses such values instead)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {k: marin_encode(v, f"{key}.{k}", step) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [marin_encode(v, f"{key}.[{i}]", step) for i, v in enumerate(value)]
    if isinstance(value, datetime.timedelta):
        return {"days": value.days, "seconds": value.seconds, "microseconds": value.microseconds}
    if isinstance(value, pathlib.PurePath):
        return str(value)
    if isinstance(value, enum.Enum):
        return marin_encode(value.value, key, step)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return marin_encode(dataclasses.asdict(value), key, step)
    logger.warning(
        f"{step}: versioned value '{key}' of type {type(value).__qualname__} is hashed as its str(), as Marin does"
    )
    return str(value)
