"""Values of Marin's own ``Artifact`` subclasses (marin-core's ``marin.execution.artifact.Artifact``, or
``marin_exec.lazy``'s with the same signatures) in a record: the ``result_type`` they are recorded under, what the
record keeps of them (``result_payload()``: the declared fields but ``path``), and the value rebuilt from a record as
Marin's ``raw_load`` rebuilds it (``path`` = the path loaded from; a record of another artifact class refuses to load
with the class's own ``ArtifactTypeMismatchError``).

The class a record names is found by its ``module.Qualname`` only: a module already loaded is looked in, else it is
imported (nothing is unpickled or evaluated), and the class found is used only if it derives from Marin's
``Artifact``. Marin is never imported here unless a record names one of its classes. This module reads no files (the
caller passes the record it read) and writes none.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Mapping
from typing import Any

logger = logging.getLogger(__name__)

BASE_TYPE = "marin.execution.artifact.Artifact"  # how records name the base class (ours is named as Marin's)
_BASES = frozenset({BASE_TYPE, "marin_exec.lazy.artifact.Artifact"})
_WARNED: set[tuple[str, str]] = set()


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
    if "<locals>" in result_type:
        return None, "it was defined inside a function, so it cannot be imported by name"
    parts = result_type.split(".")
    for cut in range(len(parts) - 1, 0, -1):  # the longest module path first: a class may be nested in a class
        module_name = ".".join(parts[:cut])
        module = sys.modules.get(module_name)
        if module is None:
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as error:
                if error.name is not None and (module_name + ".").startswith(error.name + "."):
                    continue  # this module (or its package) does not exist: try a shorter module path
                return None, f"importing {module_name} failed: {type(error).__name__}: {error}"
            except Exception as error:  # the module exists but its code failed
                return None, f"importing {module_name} failed: {type(error).__name__}: {error}"
        found: Any = module
        for attribute in parts[cut:]:
            found = getattr(found, attribute, None)
        if found is None:
            return None, f"{module_name} has no {'.'.join(parts[cut:])} (renamed or removed?)"
        if not is_artifact_class(found) or _name(found) != result_type:
            return None, f"{result_type} is not a subclass of Marin's Artifact here"
        return found, ""
    return None, f"no module of {result_type} can be imported (ModuleNotFoundError)"


def rebuild(cls: type, record: Mapping[str, Any], source: str) -> Any:
    """``cls.raw_load(source)`` on ``record`` (the record at ``source``, already read): Marin's type check, then
    ``cls(path=source, **result)``. A class that overrides ``raw_load`` is asked itself (it reads the record again).
    Records that marin_exec wrote before it recorded ``result_payload()`` (the whole ``model_dump``, ``path`` too,
    wrapped) give their fields but ``path``."""
    from marin_exec.artifact_record import VALUE_KEY

    recorded = record.get("result_type") or ""
    if recorded and recorded != type_name(cls):
        base = _base(cls)
        mismatch = getattr(sys.modules.get(base.__module__ if base else ""), "ArtifactTypeMismatchError", TypeError)
        raise mismatch(
            f"{source}: built as {recorded}, loaded as {type_name(cls)}; load it as {recorded}, or, if the artifact "
            "type changed under the same version, bump the version"
        )
    result = record.get("result")
    older = isinstance(result, dict) and set(result) == {VALUE_KEY} and isinstance(result[VALUE_KEY], dict)
    if older:
        assert isinstance(result, dict)
        return cls(path=source, **{key: value for key, value in result[VALUE_KEY].items() if key != "path"})
    load: Any = getattr(cls, "raw_load")  # noqa: B009  (not every type has one: mypy)
    if getattr(load, "__func__", None) is not getattr(getattr(_base(cls), "raw_load", None), "__func__", None):
        return load(source)  # the class loads itself its own way
    return cls(path=source, **(result if isinstance(result, dict) else {}))


def recorded_value(record: Mapping[str, Any], source: str) -> Any:
    """The value of a record that names a Marin ``Artifact`` subclass, as that class when it can be found here; else
    None (the caller returns the plain data), with one warning per path and class saying what to do."""
    recorded = record.get("result_type") or ""
    cls, why = find_class(recorded)
    if cls is not None:
        return rebuild(cls, record, source)
    if (recorded, source) not in _WARNED:
        _WARNED.add((recorded, source))
        logger.warning(
            f"{source}: its value was built as {recorded}, which cannot be loaded here ({why}); returning its fields "
            f"as plain data: make that class importable (install or import its module), or load it with "
            f"Artifact.load(path, SomeArtifactClass)"
        )
    return None


def names_artifact_subclass(record: Mapping[str, Any]) -> bool:
    """Whether a record's ``result_type`` names a class other than Marin's base ``Artifact`` (nothing to import)."""
    recorded = record.get("result_type")
    return isinstance(recorded, str) and bool(recorded) and recorded not in _BASES
