"""``Artifact``: a step's return value as JSON at ``{path}/.artifact.json`` (DESIGN §6), inside Marin's
``ArtifactRecord`` (DESIGN §4b; ``marin_exec.artifact_record``). Never pickles.

Saves pydantic models, dataclasses, dicts, lists and scalars, and the values steps commonly return besides
(NumPy scalars and arrays, sets, dates: ``to_json``); loads the plain JSON value, or rebuilds a given type
(dataclass, nested dataclasses included, pydantic model, set). A value of Marin's own ``Artifact`` subclass is
recorded as Marin records it (its class as ``result_type``, its declared fields as ``result``) and loaded back as that
class (``storage.artifact_class``). It does not know about statuses or leases.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import inspect
import json
import pathlib
import re
import sys
import types
import typing
from typing import Any, TypeVar, get_args, get_origin

from marin_exec.plain import PASS, json_text, to_plain
from marin_exec.storage.store import store_for

T = TypeVar("T")

ARTIFACT_FILENAME = ".artifact.json"
LEGACY_ARTIFACT_FILENAME = ".artifact"
INFO_FILENAME = ".executor_info"  # read here only for its marker: is this output's artifact the older result-only file


class Artifact:
    @staticmethod
    def path(output_path: str) -> str:
        return f"{output_path.rstrip('/')}/{ARTIFACT_FILENAME}"

    @staticmethod
    def save(obj: Any, path: str) -> None:
        """Write ``obj`` to ``{path}/.artifact.json`` as Marin's minimal record (its ``write_artifact``: the output
        path and the value as ``result``), atomically for readers; Marin's ``read_artifact`` reads it too. A value
        of Marin's own ``Artifact`` subclass is recorded as Marin's lazy runner records it instead (its class as
        ``result_type``, ``result_payload()`` as ``result``: no ``path``), so its class's ``raw_load`` reads it."""
        Artifact.write(Artifact.encode(obj, output_path=path.rstrip("/")), path)

    @staticmethod
    def encode(obj: Any, **record: Any) -> bytes:
        """The record bytes for ``obj`` (a pydantic model's ``model_dump`` runs here): ``record`` gives the other
        fields of Marin's ``ArtifactRecord`` (``artifact_record.build_record``'s keywords)."""
        from marin_exec.artifact_record import build_record, record_text
        from marin_exec.storage.artifact_class import is_artifact, type_name

        fields = {"name": "", "output_path": "", "result_type": "", **record}
        if is_artifact(obj):  # Marin's own Artifact subclass: its declared fields, and its class to load it as
            fields["result_type"] = fields["result_type"] or type_name(type(obj))
            obj = obj.result_payload()
        return record_text(build_record(result=to_json(obj), **fields)).encode()

    @staticmethod
    def encode_result_only(obj: Any) -> bytes:
        """The older result-only file (the value as JSON), which outputs marked so in ``.executor_info`` hold."""
        return json_text(to_json(obj)).encode()  # json.dumps(..., indent=2), faster

    @staticmethod
    def write(data: bytes, path: str) -> None:
        """Write ``data`` (from ``encode``) as ``{path}/.artifact.json`` (atomically for readers)."""
        target = Artifact.path(path)
        store_for(target).write(target, data)

    @staticmethod
    def exists(path: str) -> bool:
        base = path.rstrip("/")
        return any(
            store_for(p).read(p) is not None
            for p in (f"{base}/{ARTIFACT_FILENAME}", f"{base}/{LEGACY_ARTIFACT_FILENAME}")
        )

    @staticmethod
    def load(path: str, type: Any = None) -> Any:
        """The saved value (rebuilt as ``type`` when given), or None when no artifact exists.

        ``.artifact.json`` is Marin's ``ArtifactRecord`` (ours or Marin's): the value is its ``result``, unwrapped.
        An output whose ``.executor_info`` marks it as marin_exec's older result-only file, and the legacy
        ``.artifact``, hold the bare value. The marker decides, never the file's keys.

        A record that names a Marin ``Artifact`` subclass loads as that class, rebuilt as its ``raw_load`` would
        (``path`` is ``path``), when the class is found here (``storage.artifact_class``: its module already
        imported, or in an installed package); else as plain data, with a warning. A Marin ``Artifact`` class given
        as ``type`` loads the record's fields as that class (the recorded subclass of it, when found), refusing only
        a record of an unrelated artifact class (an error that is also that package's
        ``ArtifactTypeMismatchError``). Unlike Marin's ``raw_load``, no artifact at all gives None (DESIGN §6).
        """
        return load_value(path, type, source=path)


def load_value(path: str, tp: Any = None, *, source: str, step: str | None = None) -> Any:
    """``Artifact.load(path, tp)``, a Marin ``Artifact`` value's ``path`` being ``source`` (an adopted step's data,
    as Marin's ``run`` gives it, rather than where its record is); ``step`` names the step in a refusal."""
    base = path.rstrip("/")
    for name in (ARTIFACT_FILENAME, LEGACY_ARTIFACT_FILENAME):
        p = f"{base}/{name}"
        found = store_for(p).read(p)
        if found is not None:
            record = _record(found[0], base) if name == ARTIFACT_FILENAME else None
            return _typed(found[0], record, source, tp, step)
    return None


def _record(data: bytes, base: str) -> dict[str, Any] | None:
    """The record in an ``.artifact.json``, or None when the output's info marks it as the older result-only file."""
    from marin_exec.artifact_record import is_result_only, parse_record

    info_path = f"{base}/{INFO_FILENAME}"
    found = store_for(info_path).read(info_path)
    try:
        info = json.loads(found[0]) if found is not None else None
    except ValueError:
        info = None
    return None if is_result_only(info) else parse_record(data)


def _typed(data: bytes, record: dict[str, Any] | None, source: str, tp: Any, step: str | None = None) -> Any:
    """The value as ``tp`` (a Marin ``Artifact`` class: loaded as its ``raw_load`` does), or, with no ``tp``, as the
    Marin ``Artifact`` subclass the record names when it can be found here, else the plain JSON value."""
    from marin_exec.artifact_record import record_value

    if record is not None:
        from marin_exec.storage import artifact_class

        wanted = artifact_class_in(tp)
        if wanted is not None:
            if wanted is not tp and artifact_class.is_none_value(wanted, record):  # ``X | None``: it was None
                return None
            return artifact_class.rebuild(wanted, record, source, step)
        if tp is None and artifact_class.names_artifact_subclass(record):
            typed = artifact_class.recorded_value(record, source)
            if typed is not None:
                return typed
    value = json.loads(data) if record is None else record_value(record)
    return value if tp is None else from_json(value, tp)


def artifact_class_in(tp: Any) -> Any:
    """``tp`` (or ``X`` of ``X | None``) when it is Marin's ``Artifact`` or a subclass, else None."""
    from marin_exec.storage.artifact_class import is_artifact_class

    if get_origin(tp) is typing.Union or get_origin(tp) is types.UnionType:
        args = [arg for arg in get_args(tp) if arg is not type(None)]
        tp = args[0] if len(args) == 1 else None
    return tp if is_artifact_class(tp) else None


def to_json(obj: Any) -> Any:
    """Plain JSON data for a pydantic model, dataclass, Enum, Path, timedelta, dict, list/tuple or scalar, and for
    what a step commonly returns beyond those: NumPy (JAX, PyTorch) scalars and arrays as numbers and lists of
    numbers, sets as sorted lists, dates and times as ISO strings.

    Anything else raises ``UnsaveableValue`` naming where it is in ``obj`` (``result.metrics[2]``) and what to
    return instead. The one encoding of a step's result: callers that write it in another record reuse it.
    """
    return to_plain(obj, unknown=_refuse, intercept=_artifact_value, str_keys=True)


class UnsaveableValue(TypeError):
    """A value inside a step's result has no JSON form. ``where`` reads like code (``result.metrics[2]``), and
    the message says what to return instead."""

    def __init__(self, value: Any, key: str) -> None:
        self.where = "result" + re.sub(r"\.\[(\d+)\]", r"[\1]", key)
        name = type(value).__qualname__
        self.a_type = f"{'an' if name[:1].lower() in tuple('aeiou') else 'a'} {name}"  # "an Opaque", "a Model"
        self.instead = _instead(value)
        super().__init__(f"{self.where} is {self.a_type}, which cannot be saved as JSON; {self.instead}")


_ARRAY_MODULES = frozenset({"numpy", "jax", "jaxlib", "torch"})
_PLAIN = frozenset({str, int, float, bool, type(None)})


def _artifact_value(obj: Any, key: str) -> Any:
    if type(obj) in _PLAIN:
        return PASS
    model_dump = getattr(obj, "model_dump", None)
    if callable(model_dump) and not isinstance(obj, type):
        return model_dump(mode="json")
    module = type(obj).__module__.partition(".")[0]  # numpy is never imported here: its values say what they are
    if module in _ARRAY_MODULES and callable(getattr(obj, "tolist", None)):
        return to_json(obj.tolist())  # a scalar or 0-d array -> a number, an array -> nested lists
    if isinstance(obj, (set, frozenset)):
        return _sorted([to_plain(item, unknown=_refuse, intercept=_artifact_value, key=key) for item in obj])
    if isinstance(obj, (datetime.date, datetime.time)):
        return obj.isoformat()
    return PASS


def _sorted(items: list[Any]) -> list[Any]:
    """A set's items in one order in every process: by value when they compare, else by their JSON text."""
    try:
        return sorted(items)
    except TypeError:
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))


def _refuse(obj: Any, key: str) -> Any:
    raise UnsaveableValue(obj, key)


def _instead(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return "return it decoded (value.decode()), or write it to a file under the output path and return that path"
    if isinstance(value, complex):
        return "return [value.real, value.imag]"
    if hasattr(value, "__next__") or inspect.isgenerator(value):
        return "return list(...) of it"
    if callable(value) or inspect.ismodule(value):
        return "leave it out of the result"
    return (
        "return a dataclass, pydantic model, dict, list or number in its place (its fields or a summary), or save "
        "it under the output path (e.g. obj.save(path)) and return that path"
    )


_UNSAVEABLE = (bytes, bytearray, complex)


def unsaveable_reason(tp: Any) -> str | None:
    """Why a value of type ``tp`` (a return annotation) could never be saved as a JSON artifact, or None when it
    can or when the annotation does not tell (unknown classes are judged by their values, when saved)."""
    origin = get_origin(tp) or tp
    if isinstance(origin, type) and issubclass(origin, _UNSAVEABLE):
        return f"a {origin.__name__} has no JSON form"
    if origin is typing.Union or origin is types.UnionType or origin in (list, tuple, dict, set, frozenset):
        args = get_args(tp)[1:] if origin is dict else get_args(tp)
        for arg in args:
            reason = None if arg is Ellipsis else unsaveable_reason(arg)
            if reason is not None:
                return reason
    return None


def from_json(value: Any, tp: Any) -> Any:
    """Rebuild ``tp`` from plain JSON data; unknown or Any types get the value unchanged."""
    if value is None or tp is Any or tp is None:
        return value
    origin = get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        for arg in get_args(tp):
            if arg is type(None):
                continue
            try:
                return from_json(value, arg)
            except (TypeError, ValueError):
                continue
        return value
    if origin in (list, tuple, set, frozenset) and isinstance(value, list):
        args = get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            return tuple(from_json(v, a) for v, a in zip(value, args, strict=False))
        item = args[0] if args else Any
        return origin(from_json(v, item) for v in value)
    if origin is dict and isinstance(value, dict):
        args = get_args(tp)
        item = args[1] if len(args) == 2 else Any
        return {k: from_json(v, item) for k, v in value.items()}
    if isinstance(tp, type):
        validate = getattr(tp, "model_validate", None)
        if callable(validate):
            return validate(value)
        if dataclasses.is_dataclass(tp) and isinstance(value, dict):
            hints = _field_types(tp)
            kwargs = {
                f.name: from_json(value[f.name], hints.get(f.name, Any))
                for f in dataclasses.fields(tp)
                if f.name in value
            }
            return tp(**kwargs)
        if issubclass(tp, enum.Enum):
            return tp(value)
        if issubclass(tp, pathlib.PurePath):
            return tp(value)
        if issubclass(tp, (datetime.date, datetime.time)) and isinstance(value, str):
            return tp.fromisoformat(value)
    return value


def _field_types(tp: type) -> dict[str, Any]:
    """The dataclass's resolved field types; a field whose annotation cannot be resolved here (a name imported
    only under TYPE_CHECKING, a class local to a function) maps to Any, so its plain JSON value is kept."""
    try:
        return typing.get_type_hints(tp)
    except NameError:
        pass
    module_globals = getattr(sys.modules.get(tp.__module__), "__dict__", {})
    resolved: dict[str, Any] = {}
    for field in dataclasses.fields(tp):
        try:
            holder = types.SimpleNamespace(__annotations__={field.name: field.type})
            resolved[field.name] = typing.get_type_hints(holder, module_globals)[field.name]
        except NameError:
            resolved[field.name] = Any
    return resolved
