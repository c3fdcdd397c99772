"""Values of Marin's own ``Artifact`` subclasses (marin-core's ``marin.execution.artifact.Artifact``, or
``marin_exec.lazy``'s with the same signatures) in a record: the ``result_type`` they are recorded under, what the
record keeps of them (``result_payload()``: the declared fields but ``path``), and the value rebuilt from a record as
Marin's ``raw_load`` rebuilds it (``path`` = the path loaded from).

Loading as a given class refuses only a record of an unrelated Marin ``Artifact`` class, with an error that is both
a ``MarinExecError`` and that package's ``ArtifactTypeMismatchError``. A record naming Marin's base class says nothing
of its type (marin_exec records every plain value so), and a record of a subclass of the wanted class (or of a class
the wanted one derives from) loads: as the recorded subclass when it is found here.

With no class given, the class a record names is found by name (``storage.class_lookup``: a module is imported only
when its package is already imported or installed; decided there) and used if it derives from Marin's ``Artifact``;
a ``__main__`` class only if it declares the record's fields (another script's class of the same name does not). A
class that cannot be found or no longer takes the record's fields gives plain data and one warning per path saying
what to do. Marin is never imported here unless a record names one of its classes. This module reads no files (the
caller passes the record it read) and writes none.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Mapping
from typing import Any

logger = logging.getLogger(__name__)

BASE_TYPE = "marin.execution.artifact.Artifact"  # how records name the base class (ours is named as Marin's)
_BASES = frozenset({BASE_TYPE, "marin_exec.lazy.artifact.Artifact"})
_WARNED: set[tuple[str, str]] = set()
_LOCK = threading.Lock()


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _base(cls: Any) -> type | None:
    """Marin's ``Artifact`` (either package's) if ``cls`` is it or derives from it, else None."""
    if not isinstance(cls, type):
        return None
    return next((klass for klass in cls.__mro__ if _name(klass) in _BASES), None)


def is_artifact_class(cls: Any) -> bool:
    """Whether ``cls`` is Marin's ``Artifact`` or a subclass of it, with its ``raw_load`` and ``result_payload``."""
    return (
        callable(getattr(cls, "result_payload", None))  # first: a plain value's class has none, and this is cheap
        and callable(getattr(cls, "raw_load", None))
        and _base(cls) is not None
    )


def is_artifact(value: Any) -> bool:
    """Whether ``value`` is an instance of Marin's ``Artifact`` or a subclass of it."""
    return not isinstance(value, type) and is_artifact_class(type(value))


def type_name(cls: type) -> str:
    """The ``result_type`` a record names ``cls`` by (Marin's ``result_type_name``; either base is Marin's name)."""
    return BASE_TYPE if _name(cls) in _BASES else _name(cls)


def find_class(result_type: str) -> tuple[type | None, str]:
    """The Marin ``Artifact`` class named ``result_type`` (``module.Qualname``), or None and why not, in words."""
    from marin_exec.storage.class_lookup import find_class as lookup

    return lookup(result_type, is_artifact_class)


def fields_of(record: Mapping[str, Any]) -> dict[str, Any]:
    """The value fields a record's ``result`` gives a Marin ``Artifact`` (never ``path``: the loader sets it).
    Records that marin_exec wrote before it recorded ``result_payload()`` (the whole ``model_dump``, wrapped) and
    Marin's ``write_artifact`` records (its ``model_dump``, ``path`` too) give their fields but ``path``."""
    from marin_exec.artifact_record import record_value

    result = record_value(record)
    return {key: value for key, value in result.items() if key != "path"} if isinstance(result, dict) else {}


def is_none_value(cls: type, record: Mapping[str, Any]) -> bool:
    """Whether a record loaded as ``cls | None`` holds None: no result, and the record does not name ``cls`` (a step
    annotated ``cls | None`` records its None under the base type) or any ``cls`` value has a result (``cls``
    declares value fields). A class with no value fields records None for its values: under its own name such a
    record loads as the class, as Marin's ``raw_load`` loads it."""
    if record.get("result") is not None:
        return False
    declares = bool(set(getattr(cls, "model_fields", {})) - {"path"})
    return declares or _name(cls) in _BASES or record.get("result_type") != type_name(cls)


def rebuild(cls: type, record: Mapping[str, Any], source: str, step: str | None = None) -> Any:
    """``cls.raw_load(source)`` on ``record`` (the record at ``source``, already read): the type check (Marin's,
    widened: see the module's docstring), then ``cls(path=source, **fields)``, as the recorded subclass of ``cls``
    when the record names one found here. A class that overrides ``raw_load`` is asked itself (it reads the record
    again). ``step``: the step whose output is loaded, for the message of a refusal."""
    klass = _class_to_build(cls, record.get("result_type") or "", source, step)
    load: Any = getattr(klass, "raw_load")  # noqa: B009  (not every type has one: mypy)
    if getattr(load, "__func__", None) is not getattr(getattr(_base(klass), "raw_load", None), "__func__", None):
        return load(source)  # the class loads itself its own way
    return klass(path=source, **fields_of(record))


def _class_to_build(cls: type, recorded: str, source: str, step: str | None) -> type:
    if not recorded or recorded in _BASES or recorded == type_name(cls):  # the base: no type recorded (marin_exec's)
        return cls
    subclass = next((sub for sub in _subclasses(cls) if _name(sub) == recorded), None)
    if subclass is not None:
        return subclass
    found, why = find_class(recorded)
    if found is None:  # not known to be another artifact class: its fields, as the class asked for
        _warn_once(
            recorded,
            source,
            f"it is built as {recorded}, which is not found here ({why}); loaded as {type_name(cls)}, as asked",
        )
        return cls
    if issubclass(found, cls):  # a subclass of the class asked for, its module imported just now
        return found
    if issubclass(cls, found):  # the class asked for derives from the recorded one
        return cls
    raise _mismatch_error(cls)(_mismatch_message(cls, recorded, source, step))


def _subclasses(cls: type) -> list[type]:
    direct: list[type] = type.__subclasses__(cls)
    return [klass for sub in direct for klass in (sub, *_subclasses(sub))]


_MISMATCH: dict[type, type[Exception]] = {}


def _mismatch_error(cls: type) -> type[Exception]:
    """An error that is a ``MarinExecError`` and ``cls``'s package's ``ArtifactTypeMismatchError`` (TypeError if
    that package has none), so that ``except ArtifactTypeMismatchError`` catches it as it catches Marin's."""
    base = _base(cls)
    theirs = getattr(sys.modules.get(base.__module__ if base else ""), "ArtifactTypeMismatchError", TypeError)
    if theirs not in _MISMATCH:
        from marin_exec.errors import MarinExecError

        doc = "A record of one Marin artifact class loaded as another, unrelated one (DESIGN §8: one line)."
        _MISMATCH[theirs] = type("ArtifactClassMismatch", (MarinExecError, theirs), {"__doc__": doc})
    return _MISMATCH[theirs]


def _mismatch_message(cls: type, recorded: str, source: str, step: str | None) -> str:
    wanted, short = type_name(cls), recorded.rpartition(".")[2]
    if step is not None:  # the runner loads a cached step's output as the class its function now declares
        return (
            f"{step}: its output {source} was built as {recorded}, loaded as {wanted} (what the step now returns), an "
            f"unrelated artifact class; rebuild it with --force_rerun, or declare {short} as the step's return again"
        )
    return (
        f"{source}: built as {recorded}, loaded as {wanted}, an unrelated artifact class; load it as {short} "
        f"(Artifact.load(path, {short}), or without a type), or rebuild it with --force_rerun if its step now returns "
        f"{cls.__qualname__}"
    )


def recorded_value(record: Mapping[str, Any], source: str) -> Any:
    """The value of a record that names a Marin ``Artifact`` subclass, as that class when it can be found here and
    takes the record's fields; else None (the caller returns the plain data), with one warning per path and class
    saying what to do."""
    from marin_exec.storage.class_lookup import fields_cover

    recorded = record.get("result_type") or ""
    cls, why = find_class(recorded)
    if cls is not None and recorded.startswith("__main__.") and not fields_cover(cls, fields_of(record)):
        cls, why = None, f"this script's {recorded[9:]} declares other fields: it is another script's class"
    if cls is None:
        _warn_once(
            recorded,
            source,
            f"its value was built as {recorded}, which cannot be loaded here ({why}); "
            "returning its fields as plain data: if it is a Marin Artifact class, import its module before "
            "loading, or load it with Artifact.load(path, SomeArtifactClass)",
        )
        return None
    try:
        return rebuild(cls, record, source)
    except Exception as error:  # the class changed since (a new required field), or the record holds null for nan
        _warn_once(
            recorded,
            source,
            f"its value was built as {recorded}, whose fields no longer load as that class "
            f"({type(error).__name__}: {_one_line(error)}); returning them as plain data: rebuild the output "
            "with --force_rerun (or a new version) to get the class back",
        )
        return None


def _one_line(error: Exception) -> str:
    errors = getattr(error, "errors", None)
    if callable(errors):  # pydantic's ValidationError: each error's field and message, on one line
        try:
            return "; ".join(f"{'.'.join(map(str, e['loc'])) or '-'}: {e['msg']}" for e in errors()[:3])
        except Exception:  # noqa: S110  (any other errors(): its text instead)
            pass
    return (str(error).splitlines() or [""])[0]


def _warn_once(recorded: str, source: str, what: str) -> None:
    with _LOCK:
        if (recorded, source) in _WARNED:
            return
        _WARNED.add((recorded, source))
    logger.warning(f"{source}: {what}")


def names_artifact_subclass(record: Mapping[str, Any]) -> bool:
    """Whether a record's ``result_type`` names a class other than Marin's base ``Artifact`` (nothing to import)."""
    recorded = record.get("result_type")
    return isinstance(recorded, str) and bool(recorded) and recorded not in _BASES
