"""Marin's recipe fingerprint: canonical JSON of a config, its 8-hex md5, and a field-level drift diff.

The same bytes as marin-core 0.2.227's ``marin.execution.fingerprint`` for every value that has a stable form
(pinned by tests/golden/lazy_marin_0227.json): ``json.dumps(sort_keys=True)`` where dataclasses become ``asdict``,
enums their value, ``Path`` a string, ``timedelta`` ``{days, seconds, microseconds}``, sets
``{"__set__": sorted}``, classes ``{"__type__": "module.Qualname"}`` (numpy scalar types and builtin ``int``/``float``/
``bool``/``complex`` ``{"__dtype__": name}``), numpy dtypes/scalars/arrays as Marin encodes them, then encoders
registered with ``register_fingerprint`` (subclasses included), and last a fallback: ``{"__repr__": "module.Qualname",
"vars": vars(value)}`` or ``{"__repr__": ..., "str": repr(value)}``.

One deliberate difference: where Marin records a repr that holds a memory address (the default ``object`` repr, or
any repr with ``at 0x...``), which differs in every process, this module records ``DEFAULT_REPR`` instead, so the
payload is stable; ``describe_drift`` treats both forms as not comparable and never reports them as drift.

API (all pure; nothing runs at import; numpy is looked at only when the caller has imported it):

- ``canonical_json(value, *, strict=False) -> str``: the payload text. ``strict=True`` raises ``TypeError`` where
  the fallback would be used (Marin's ``set_strict(True)``).
- ``fingerprint(payload: str) -> str``: ``md5(payload)[:8]``.
- ``fingerprint_of(value) -> str``: ``fingerprint(canonical_json(value))``.
- ``register_fingerprint(tp, encode)`` / ``unregister_fingerprint(tp)``: a canonical form for a custom type.
- ``describe_drift(old_payload, new_payload) -> list[str]``: dotted-path changes (at most 20 lines, then
  ``…and N more``), full values compared, long values shortened for display only; ``[]`` when either payload is
  missing or nothing comparable changed. ``has_drift(old, new) -> bool`` is ``bool(describe_drift(old, new))``.

It does not decide what goes into a payload (placeholders for the output path, prefix, region, run-time arguments
and dependencies are the caller's), and reads or writes no files.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import inspect
import json
import logging
import re
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_REPR = "<default repr: not comparable>"
MAX_DRIFT_LINES = 20
_DISPLAY_LIMIT = 80
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
# What numpy's dtype() makes of a builtin class, for when numpy is not loaded (Marin always asks numpy).
_BUILTIN_DTYPES: dict[type, str] = {bool: "bool", int: "int64", float: "float64", complex: "complex128"}

_REGISTRY: dict[type, Callable[[Any], object]] = {}
_WARNED: set[str] = set()


def register_fingerprint(tp: type, encode: Callable[[Any], object]) -> None:
    """Fingerprint values of ``tp`` (and its subclasses) as ``encode(value)``, which is itself canonicalised.

    Consulted after the built-in forms, as Marin does: registering a dataclass or an Enum changes nothing."""
    _REGISTRY[tp] = encode


def unregister_fingerprint(tp: type) -> None:
    _REGISTRY.pop(tp, None)


def canonical_json(value: object, *, strict: bool = False, sort_keys: bool = True) -> str:
    """The canonical JSON text a fingerprint hashes (Marin's ``canonical_json``). ``sort_keys=False``: the same
    encodings with every dict in its own key order (what Marin records for an adopted artifact's config)."""
    return json.dumps(value, sort_keys=sort_keys, cls=_StrictEncoder if strict else _Encoder)


def fingerprint(payload: str) -> str:
    """The 8-hex fingerprint of a canonical payload (Marin's ``fingerprint_hash``)."""
    return hashlib.md5(payload.encode()).hexdigest()[:8]


def fingerprint_of(value: object, *, strict: bool = False) -> str:
    return fingerprint(canonical_json(value, strict=strict))


def _type_name(tp: type) -> str:
    return f"{tp.__module__}.{tp.__qualname__}"


def _registered(tp: type) -> Callable[[Any], object] | None:
    for klass in tp.__mro__:
        if klass in _REGISTRY:
            return _REGISTRY[klass]
    return None


def _class_form(tp: type) -> dict[str, str]:
    np = sys.modules.get("numpy")
    if np is None:
        name = _BUILTIN_DTYPES.get(tp)
        return {"__dtype__": name} if name else {"__type__": _type_name(tp)}
    try:
        dtype = np.dtype(tp)
    except TypeError:
        dtype = None
    if dtype is not None and dtype.kind in "biufcV":
        return {"__dtype__": dtype.name}
    return {"__type__": _type_name(tp)}


def _numpy_form(o: object) -> object:
    np = sys.modules.get("numpy")
    if np is None:
        return NotImplemented
    if isinstance(o, np.dtype):
        return {"__dtype__": o.name}
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray) or type(o).__module__.startswith(("jax", "jaxlib")) and hasattr(o, "__array__"):
        array = np.asarray(o)
        return {"__array__": array.tolist(), "dtype": array.dtype.name, "shape": list(array.shape)}
    return NotImplemented


class _Encoder(json.JSONEncoder):
    strict = False

    def default(self, o: object) -> object:
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            return dataclasses.asdict(o)
        if isinstance(o, enum.Enum):
            return o.value
        if isinstance(o, timedelta):
            return {"days": o.days, "seconds": o.seconds, "microseconds": o.microseconds}
        if isinstance(o, Path):
            return str(o)
        if isinstance(o, set | frozenset):
            return {"__set__": sorted(o, key=lambda item: json.dumps(item, sort_keys=True, cls=type(self)))}
        numpy_form = _numpy_form(o)
        if numpy_form is not NotImplemented:
            return numpy_form
        if isinstance(o, type):
            return _class_form(o)
        encode = _registered(type(o))
        if encode is not None:
            return encode(o)
        if self.strict:
            raise TypeError(_unfingerprintable(o))
        return _fallback(o)


class _StrictEncoder(_Encoder):
    strict = True


def _unfingerprintable(o: object) -> str:
    if inspect.isroutine(o) or isinstance(o, functools.partial):
        why = "a callable has no stable identity"
    elif type(o).__repr__ is object.__repr__:
        why = "it has only the default repr (a memory address)"
    else:
        why = "no canonical form is known"
    return (
        f"cannot fingerprint a config value of type {_type_name(type(o))}: {why}; make it a dataclass or an Enum, "
        "or register a form with marin_exec.fingerprint.register_fingerprint"
    )


def _fallback(o: object) -> dict[str, object]:
    name = _type_name(type(o))
    if name not in _WARNED:
        _WARNED.add(name)
        logger.warning(f"fingerprint: no canonical form for {name}; recording it by its type and fields")
    if hasattr(o, "__dict__"):
        return {"__repr__": name, "vars": vars(o)}
    text = repr(o)
    return {"__repr__": name, "str": DEFAULT_REPR if _ADDRESS.search(text) else text}


def _not_comparable(value: object) -> bool:
    """A fallback form whose repr is an address (Marin's) or our mark for one: equal or not, it tells nothing."""
    if not (isinstance(value, dict) and "__repr__" in value and "str" in value):
        return False
    text = value["str"]
    return isinstance(text, str) and (text == DEFAULT_REPR or _ADDRESS.search(text) is not None)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _DISPLAY_LIMIT else f"{text[: _DISPLAY_LIMIT - 12]}…{text[-10:]} ({len(text)} chars)"


def _changes(old: object, new: object, path: str) -> list[str]:
    if _not_comparable(old) or _not_comparable(new):
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        found: list[str] = []
        for key in sorted(set(old) | set(new)):
            sub = f"{path}.{key}" if path else key
            if key not in old:
                found.append(f"{sub}: (added) {_show(new[key])}")
            elif key not in new:
                found.append(f"{sub}: {_show(old[key])} (removed)")
            else:
                found.extend(_changes(old[key], new[key], sub))
        return found
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return [f"{path}: list of {len(old)} -> list of {len(new)}"]
        return [line for i, (a, b) in enumerate(zip(old, new, strict=True)) for line in _changes(a, b, f"{path}[{i}]")]
    if old != new or type(old) is not type(new):
        return [f"{path or '(root)'}: {_show(old)} -> {_show(new)}"]
    return []


def describe_drift(old_payload: str | None, new_payload: str | None) -> list[str]:
    """The dotted paths where two canonical payloads differ, one line each (Marin's ``describe_drift`` lines)."""
    if old_payload is None or new_payload is None:
        return []
    found = _changes(json.loads(old_payload), json.loads(new_payload), "")
    if len(found) > MAX_DRIFT_LINES:
        return [*found[:MAX_DRIFT_LINES], f"…and {len(found) - MAX_DRIFT_LINES} more"]
    return found


def has_drift(old_payload: str | None, new_payload: str | None) -> bool:
    """Whether a comparable value changed (fingerprints may differ only by a masked default repr)."""
    return bool(describe_drift(old_payload, new_payload))
