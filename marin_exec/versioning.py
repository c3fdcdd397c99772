"""Step identity values: the ``VersionedValue`` marker, Marin's encoding of version values, and the 6-hex md5 hash.

The encoding and hash are Marin's ``ExecutorStep`` scheme (DESIGN §4), so paths computed here equal Marin's.
Shared bottom of the package: ``versioned()`` itself lives in ``trace.markers`` (it refuses StepRefs, which this
module does not know). It does not walk configs for references (the tracer does) and does no I/O.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Generic, TypeVar

from marin_exec.errors import VersioningError
from marin_exec.plain import PASS, to_plain

T = TypeVar("T")

HASH_LENGTH = 6


@dataclasses.dataclass(frozen=True)
class VersionedValue(Generic[T]):
    """A config value that is part of its step's identity (see ``versioned``)."""

    value: T

    def __repr__(self) -> str:
        return f"versioned({self.value!r})"


@dataclasses.dataclass(frozen=True)
class RuntimeArg(Generic[T]):
    """A config value the run decides (a TPU type, a region): the function receives ``value``, while the step's
    fingerprint sees the placeholder ``<key>`` (Marin's ``ctx.runtime_arg(key)``). ``key`` None: the name of the
    field or dict key holding it. It never enters a hash (see ``runtime_arg``)."""

    value: T
    key: str | None = None

    def __repr__(self) -> str:
        shown = f", key={self.key!r}" if self.key is not None else ""
        return f"runtime_arg({self.value!r}{shown})"


def encode(value: Any, key: str, step: str | None = None, *, refuse: tuple[type, ...] = ()) -> Any:
    """``value`` as plain JSON data, encoded the way Marin encodes version values (``plain.to_plain``).

    Dataclasses become their field dicts, Enums their value, paths strings, timedeltas
    ``{"days", "seconds", "microseconds"}``. Anything else that JSON cannot hold raises ``VersioningError``
    naming ``key`` (a dotted config path) and the type; so do nested ``VersionedValue``s and instances of
    ``refuse`` (the caller passes ``StepRef``, which this module cannot know about).
    """
    if type(value) in _SCALARS:  # the common case (and every value the tracer encoded already): as it is
        return value
    refused = (VersionedValue, *refuse)

    def intercept(item: Any, where: str) -> Any:
        if isinstance(item, refused):
            raise VersioningError(
                f"{_where(step)}'{where}' holds {item!r}; versioned values cannot be nested and StepRefs cannot be "
                "versioned: pass the plain value (or the StepRef itself, outside versioned())"
            )
        return PASS

    def unknown(item: Any, where: str) -> Any:
        raise VersioningError(_unencodable(step, where, item))

    return to_plain(value, unknown=unknown, key=key, intercept=intercept)


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _where(step: str | None) -> str:
    return f"step '{step}': " if step else ""


def _unencodable(step: str | None, key: str, value: Any) -> str:
    where = _where(step)
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
    import hashlib  # here: loading OpenSSL costs ~5 ms of ``import marin_exec``; only compiling needs it

    return hashlib.md5(version_str.encode("utf-8")).hexdigest()[:HASH_LENGTH]
