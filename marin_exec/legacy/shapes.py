"""Recognise ExecutorStep-era objects by shape, whoever made them: ``marin_exec.legacy`` or Marin's own
``marin.execution`` (never imported: CI has no Marin), encode version values exactly as Marin does, and rebuild a
config's containers exactly as Marin's ``instantiate_config`` does before the function receives it. A
``RemoteCallable`` (Marin's or marin_exec's) is taken apart into its function and job settings.

A kind is a class name plus the attributes Marin's class has. This module does not find references or lower
anything: what replaces a placeholder is the caller's ``leaf``.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import logging
import pathlib
from collections.abc import Callable
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
REBUILD = object()  # a ``marin_rebuild`` leaf's answer: not a placeholder, rebuild it as Marin does
_ATOMS = frozenset({str, int, float, bool, bytes, complex, type(None)})
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


def unwrap_remote(fn: Any, resources: Any = None) -> tuple[Callable[..., Any], Any, Any, Any]:
    """A ``RemoteCallable`` (marin_exec's or Marin's) as its function and its job settings: the step is submitted
    whole (lock, cache and commit inside the job), as for a resourced ``@step``."""
    if type(fn).__name__ == "RemoteCallable" and hasattr(fn, "fn") and hasattr(fn, "resources"):
        return (
            fn.fn,
            fn.resources if resources is None else resources,
            getattr(fn, "env_vars", None),
            getattr(fn, "pip_dependency_groups", None),
        )
    return fn, resources, None, None


def marin_rebuild(config: Any, leaf: Callable[[Any], Any]) -> Any:
    """``config`` as Marin's ``instantiate_config`` rebuilds it, whatever is in it: every dataclass anew
    (``dataclasses.replace`` of its init fields), every list and dict as a plain ``list`` / ``dict`` (subclasses
    such as ``OrderedDict`` too), tuples as plain tuples but NamedTuples in their own type; sets and other objects
    as they are. ``leaf(obj)`` answers first for each value: its replacement, or ``REBUILD``."""

    def recurse(obj: Any) -> Any:
        if type(obj) in _ATOMS:
            return obj
        replaced = leaf(obj)
        if replaced is not REBUILD:
            return replaced
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            fields = dataclasses.fields(obj)
            return dataclasses.replace(obj, **{f.name: recurse(getattr(obj, f.name)) for f in fields if f.init})
        if isinstance(obj, list):
            return [recurse(x) for x in obj]
        if isinstance(obj, tuple):
            items = [recurse(x) for x in obj]
            return type(obj)(*items) if hasattr(obj, "_fields") else tuple(items)
        if isinstance(obj, dict):
            return {k: recurse(v) for k, v in obj.items()}
        return obj

    return recurse(config)
