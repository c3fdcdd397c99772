"""The one encoder of plain data: a value as JSON-ready dicts, lists and scalars, with an explicit unknown policy.

Plain vocabulary: None/bool/int/float/str as they are, an Enum as its value, a path as its string, a timedelta as
``{"days", "seconds", "microseconds"}``, a dataclass as its field dict, a dict (keys kept when scalar, or ``str()``
of every key with ``str_keys``), a list or tuple as a list. Anything else goes to the caller's ``unknown`` policy:
versioning refuses it (the hash must not depend on a ``repr``), the artifact refuses it, provenance records its
``repr``. A caller's ``intercept`` sees each value first (pydantic models, step-owned markers, refused types).
``json_text`` writes plain data as ``json.dumps(value, indent=2)`` does, faster (artifacts, ``.executor_info``).
This module does no I/O, knows no step and imports nothing else of marin_exec.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import functools
import json
import math
import pathlib
from collections.abc import Callable
from json.encoder import encode_basestring as _quote_unicode
from json.encoder import encode_basestring_ascii as _quote
from typing import Any

PASS: Any = object()
"""Returned by an ``intercept`` function: not handled, encode the value by the plain rules."""

_SCALAR_KEYS = (str, int, float, bool, type(None))
# Returned as they are by an encoder without an intercept, checked by exact type first (subclasses such as an IntEnum
# take the general path, which returns them as they are too).
_PLAIN_SCALARS = frozenset(_SCALAR_KEYS)

Policy = Callable[[Any, str], Any]


def to_plain(
    value: Any,
    *,
    unknown: Policy,
    key: str = "",
    intercept: Policy | None = None,
    str_keys: bool = False,
) -> Any:
    """``value`` as plain data; ``unknown(value, key)`` decides for anything outside the vocabulary.

    ``key`` is the dotted path of ``value`` inside the outer value (``config.paths.[0]``), for messages.
    """
    return _Encoder(unknown, intercept, str_keys).encode(value, key)


class _Encoder:
    __slots__ = ("unknown", "intercept", "str_keys")

    def __init__(self, unknown: Policy, intercept: Policy | None, str_keys: bool) -> None:
        self.unknown = unknown
        self.intercept = intercept
        self.str_keys = str_keys

    def encode(self, value: Any, key: str) -> Any:
        if self.intercept is not None:
            handled = self.intercept(value, key)
            if handled is not PASS:
                return handled
        elif type(value) in _PLAIN_SCALARS:
            return value
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, enum.Enum):
            return self.encode(value.value, key)
        if isinstance(value, pathlib.PurePath):
            return str(value)
        if isinstance(value, datetime.timedelta):
            return {"days": value.days, "seconds": value.seconds, "microseconds": value.microseconds}
        # Below, a plain scalar item is taken as it is when no intercept must see it: no key is built for it.
        plain = self.intercept is None
        fields = dataclass_fields(type(value))
        if fields is not None:
            out: dict[str, Any] = {}
            for f in fields:
                v = getattr(value, f.name)
                out[f.name] = v if plain and type(v) in _PLAIN_SCALARS else self.encode(v, f"{key}.{f.name}")
            return out
        if isinstance(value, dict):
            return self._encode_dict(value, key, plain)
        if isinstance(value, (list, tuple)):
            return [
                v if plain and type(v) in _PLAIN_SCALARS else self.encode(v, f"{key}.[{i}]")
                for i, v in enumerate(value)
            ]
        return self.unknown(value, key)

    def _encode_dict(self, value: dict[Any, Any], key: str, plain: bool) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for k, v in value.items():
            item = v if plain and type(v) in _PLAIN_SCALARS else self.encode(v, f"{key}.{k}")
            if self.str_keys:
                out[k if type(k) is str else str(k)] = item
            elif isinstance(k, _SCALAR_KEYS):
                out[k] = item
            else:
                out[self.unknown(k, f"{key}.<key {k!r}>")] = item
        return out


def json_text(value: Any, *, ensure_ascii: bool = True) -> str:
    """``json.dumps(value, indent=2, ensure_ascii=ensure_ascii)`` of plain data, character for character, without
    the generators of the standard library's pure-Python indenting encoder (the C encoder does not indent): a few
    times faster."""
    parts: list[str] = []
    _write(value, parts, "\n", _quote if ensure_ascii else _quote_unicode)
    return "".join(parts)


def _write(value: Any, parts: list[str], newline: str, quote: Callable[[str], str]) -> None:
    kind = type(value)
    if kind is str:
        parts.append(quote(value))
    elif kind is dict or kind is list or kind is tuple:
        if not value:
            parts.append("{}" if kind is dict else "[]")
            return
        inner = newline + "  "
        parts.append("{" if kind is dict else "[")
        separator = inner
        if kind is dict:
            for k, v in value.items():
                parts.append(separator)
                parts.append(quote(k) if type(k) is str else _key(k, quote))
                parts.append(": ")
                if type(v) is str:  # the commonest item, written here rather than by a call
                    parts.append(quote(v))
                else:
                    _write(v, parts, inner, quote)
                separator = "," + inner
        else:
            for v in value:
                parts.append(separator)
                if type(v) is str:
                    parts.append(quote(v))
                else:
                    _write(v, parts, inner, quote)
                separator = "," + inner
        parts.append(newline + ("}" if kind is dict else "]"))
    else:
        if kind in _PLAIN_SCALARS:
            parts.append(_scalar(value))
        else:
            text = json.dumps(value, indent=2, ensure_ascii=quote is _quote)
            parts.append(text.replace("\n", newline))


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return int.__repr__(value)
    if value != value:
        return "NaN"
    if value in (math.inf, -math.inf):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


def _key(key: Any, quote: Callable[[str], str]) -> str:
    """A dict key as ``json.dumps`` writes it: strings quoted, scalar keys turned into strings first."""
    if isinstance(key, str):
        return quote(key)
    if isinstance(key, (int, float)) or key is None:  # bool is an int: True -> "true"
        return quote(_scalar(key) if type(key) in _PLAIN_SCALARS else json.dumps(key))
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def as_repr(value: Any, key: str) -> str:
    """Unknown policy for records meant for people (provenance): keep the value's ``repr``."""
    return repr(value)


def dataclass_fields(cls: type) -> tuple[dataclasses.Field[Any], ...] | None:
    """The fields of a dataclass type (None for other types), cached: configs are walked several times."""
    return _dataclass_fields(cls)  # type: ignore[arg-type]  # types are hashable


@functools.lru_cache(maxsize=4096)
def _dataclass_fields(cls: Any) -> tuple[dataclasses.Field[Any], ...] | None:
    return dataclasses.fields(cls) if dataclasses.is_dataclass(cls) else None
