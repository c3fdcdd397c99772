"""Step identity: ``versioned()`` markers, Marin's JSON encoding of version values, and the 6-hex md5 hash.

The encoding and hash are Marin's ``ExecutorStep`` scheme (DESIGN §4), so paths computed here equal Marin's.
This module does not walk configs for references (the compiler does) and does no I/O.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import hashlib
import json
import pathlib
from typing import Any, Generic, TypeVar

from marin_exec.errors import TracingError, VersioningError

T = TypeVar("T")

HASH_LENGTH = 6


@dataclasses.dataclass(frozen=True)
class VersionedValue(Generic[T]):
    """A config value that is part of its step's identity (see ``versioned``)."""

    value: T

    def __repr__(self) -> str:
        return f"versioned({self.value!r})"


def versioned(value: T) -> T:
    """Mark ``value`` as part of the step's identity: it enters the hash, so changing it reruns the step.

    Typed as returning ``T`` so that config dataclass fields keep their declared types.
    """
    from marin_exec.trace.step_ref import StepRef  # local: the tracing modules sit above this one

    if isinstance(value, VersionedValue):
        raise TracingError(
            f"{_in_step()}versioned() was applied twice to {value.value!r}; versioned values cannot be nested: "
            "call versioned() once on the plain value"
        )
    if isinstance(value, StepRef):
        raise TracingError(
            f"{_in_step()}versioned({value!r}): a StepRef cannot be versioned; references are part of the version "
            "already (they contribute the dependency's own version), so pass the StepRef without versioned()"
        )
    return VersionedValue(value)  # type: ignore[return-value]


def _in_step() -> str:
    """``step 'name': `` while a @step body is traced, else empty (for messages)."""
    from marin_exec.trace.tracing import current_step_name  # local: the tracing modules sit above this one

    name = current_step_name()
    return f"step '{name}': " if name else ""


def encode(value: Any, key: str, step: str | None = None) -> Any:
    """``value`` as plain JSON data, encoded the way Marin encodes version values.

    Dataclasses become their field dicts, Enums their value, paths strings, timedeltas
    ``{"days", "seconds", "microseconds"}``. Anything else that JSON cannot hold raises ``VersioningError``
    naming ``key`` (a dotted config path) and the type.
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, enum.Enum):
        return encode(value.value, key, step)
    if isinstance(value, pathlib.PurePath):
        return str(value)
    if isinstance(value, datetime.timedelta):
        return {"days": value.days, "seconds": value.seconds, "microseconds": value.microseconds}
    if isinstance(value, VersionedValue) or type(value).__name__ == "StepRef":
        where = f"step '{step}': " if step else ""
        raise VersioningError(
            f"{where}'{key}' holds {value!r}; versioned values cannot be nested and StepRefs cannot be versioned: "
            "pass the plain value (or the StepRef itself, outside versioned())"
        )
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name), f"{key}.{f.name}", step) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, (str, int, float, bool)) and k is not None:
                raise VersioningError(_unencodable(step, f"{key}.<key {k!r}>", k))
            out[k] = encode(v, f"{key}.{k}", step)
        return out
    if isinstance(value, (list, tuple)):
        return [encode(v, f"{key}.[{i}]", step) for i, v in enumerate(value)]
    raise VersioningError(_unencodable(step, key, value))


def _unencodable(step: str | None, key: str, value: Any) -> str:
    where = f"step '{step}': " if step else ""
    hint = " (sets have no stable order: use a sorted list)" if isinstance(value, (set, frozenset)) else ""
    return (
        f"{where}versioned value '{key}' has type {type(value).__module__}.{type(value).__qualname__}, which cannot "
        f"be encoded as JSON{hint}. Version a str/int/float/bool/None, a list/dict/dataclass of those, an Enum, a "
        "Path or a timedelta instead (for example its string form)."
    )


def version_json(version: dict[str, Any]) -> str:
    """The canonical string that is hashed: ``json.dumps(version, sort_keys=True)`` with default separators."""
    return json.dumps(version, sort_keys=True)


def hash_version(version_str: str) -> str:
    """First six hex digits of the md5 of the canonical version string."""
    return hashlib.md5(version_str.encode("utf-8")).hexdigest()[:HASH_LENGTH]
