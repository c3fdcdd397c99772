"""One set of rules for walking a step's config: what enters its identity, and the config with values replaced.

A config is walked the way DESIGN §4 numbers it: dataclass fields in declaration order, dict values in insertion
order, list and tuple items in order; keys join field names and dict keys with ``.`` and write positions as
``.[i]``. Sets and dict keys are looked into only to refuse references and versioned values there. ``call_roots``
says where the walk of a deferred call starts, ``scan_config`` lists the references and encoded versioned values
a traced config holds (refusing misuse on the way), and ``map_config`` rebuilds a config with some values
replaced. It does not number references, compute versions, hashes or paths, or resolve a StepRef to a path (the
compiler does), and it does no I/O.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections.abc import Callable, Iterable
from typing import Any

from marin_exec.errors import TracingError
from marin_exec.naming import qualified_name
from marin_exec.plain import dataclass_fields
from marin_exec.trace.binding import bind, signature_of
from marin_exec.trace.context import Frame
from marin_exec.trace.graph import DeferredCall
from marin_exec.trace.step_ref import StepRef
from marin_exec.versioning import VersionedValue, encode

_ATOMS = frozenset({str, int, float, bool, bytes, complex, type(None)})


def call_roots(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    step_name: str | None = None,
    *,
    check: bool = True,
) -> list[tuple[str, Any]]:
    """Where the config walk starts: one argument is walked at the root (key ''), several under their
    parameter names (in signature order, so the call's style does not matter). ``check`` verifies that ``fn``
    accepts the arguments."""
    if len(args) + len(kwargs) == 1 and not check:
        return [("", args[0] if args else next(iter(kwargs.values())))]
    try:
        arguments: dict[str, Any] | None = bind(fn, args, kwargs)
    except ValueError:  # no signature (some builtins): arguments are taken as given
        arguments = None
    except TypeError as e:
        raise TracingError(
            f"step '{step_name}': {qualified_name(fn)}() cannot be called with these arguments: {e}. Pass "
            f"what its signature takes: {getattr(fn, '__name__', 'fn')}{signature_of(fn)}"
        ) from None
    if len(args) + len(kwargs) == 1:
        return [("", args[0] if args else next(iter(kwargs.values())))]
    if arguments is None:
        return [(f"[{i}]", arg) for i, arg in enumerate(args)] + list(kwargs.items())
    return list(arguments.items())


def scan_config(call: DeferredCall, frame: Frame, lowered: frozenset[str] = frozenset()) -> tuple[tuple[str, Any], ...]:
    """What a step's config contributes to its identity, in walk order: ``(key, StepRef)`` for references and
    ``(key, encoded value)`` for versioned values. Raises ``TracingError`` for misuse found on the way, and for a
    foreign object of a class in ``lowered`` (its kind has rewritten the config already: it could not reach it).
    """
    found: list[tuple[str, Any]] = []
    try:
        for key, value in call_roots(call.fn, call.args, call.kwargs, frame.name):
            _scan(value, key, frame, found)
    except _MarinObject as marin:  # issue 13: see MarinPlaceholderFound
        if marin.kind in lowered:
            raise TracingError(
                f"step '{frame.name}': config key '{marin.key}' holds Marin's {marin.kind} where marin_exec cannot "
                "replace it (inside a set or a non-dataclass object); use the marin_exec equivalent there"
            ) from None
        raise MarinPlaceholderFound(marin.kind, marin.key) from None
    return tuple(found)


# -- issue 13 hook: Marin placeholders (ExecutorStep, InputName, versioned, mirrored, THIS_OUTPUT_PATH) -----------
# A config holding one is handed to its foreign kind (marin_exec.legacy; marin_exec.lazy for a lazy ArtifactStep
# handle, imported only then), which rewrites it with marin_exec's own values or refuses it; nothing Marin made
# passes through tracing silently. Keyed by class name and one attribute of Marin's class, so Marin's own objects
# are recognised without importing Marin.
_MARIN_KINDS = {
    "ArtifactStep": "build_config",
    "ExecutorStep": "fn",
    "InputName": "block_on_step",
    "OutputName": "name",
    "VersionedValue": "value",
    "MirroredValue": "budget_gb",
}


class _MarinObject(Exception):
    def __init__(self, kind: str, key: str):
        self.kind, self.key = kind, key


class MarinPlaceholderFound(Exception):
    """A config holds a Marin object: the caller (``@step``) hands it to ``marin_exec.legacy`` and scans again.

    A signal, not an error: this module does not import the legacy layer (it imports this one).
    """

    def __init__(self, kind: str, key: str):
        super().__init__(f"Marin's {kind} at config key '{key}'")
        self.kind, self.key = kind, key


def _marin_kind(obj: Any) -> str | None:
    kind = _kind_of_class(type(obj))  # type: ignore[arg-type]  # types are hashable
    return kind if kind is not None and hasattr(obj, _MARIN_KINDS[kind]) and not isinstance(obj, type) else None


@functools.lru_cache(maxsize=4096)
def _kind_of_class(cls: Any) -> str | None:
    """By class name; a lazy handle also by a base class's (a subclass of ``ArtifactStep`` is a handle too)."""
    if cls.__name__ in _MARIN_KINDS:
        return cls.__name__
    return "ArtifactStep" if any(base.__name__ == "ArtifactStep" for base in cls.__mro__[1:]) else None


def _is_step_value(value: Any) -> bool:
    """A reference, a versioned value or a foreign step object: what a config walk must reach to see."""
    return isinstance(value, (StepRef, VersionedValue)) or _marin_kind(value) is not None


def _shown(value: Any) -> str:
    """How a message names ``value``: a lazy handle by its ``name@version`` (its repr lists every field)."""
    if _marin_kind(value) == "ArtifactStep":
        return f"the lazy handle {getattr(value, 'name', '?')}@{getattr(value, 'version', '?')}"
    return repr(value)


def _scan(obj: Any, key: str, frame: Frame, found: list[tuple[str, Any]]) -> None:
    if type(obj) in _ATOMS:
        return
    if isinstance(obj, StepRef):
        _check_reference(obj, key, frame)
        if obj.frame is None and not obj.on_prefix:  # output() and StepRef.under_prefix contribute nothing
            found.append((key, obj))
        return
    if isinstance(obj, VersionedValue):
        _check_versioned(obj.value, key, frame)
        found.append((key, encode(obj.value, key or "<whole config>", frame.name, refuse=(StepRef,))))
        return
    if (kind := _marin_kind(obj)) is not None:
        raise _MarinObject(kind, key)
    if isinstance(obj, DeferredCall):
        raise TracingError(
            f"step '{frame.name}': config key '{key}' holds the result of {qualified_name(obj.fn)}(...), which "
            "does not exist while tracing. Make that call its own @step and pass its StepRef here."
        )
    prefix = f"{key}." if key else ""
    fields = dataclass_fields(type(obj))
    if fields is not None:
        for field in fields:
            value = getattr(obj, field.name)
            if type(value) not in _ATOMS:
                _scan(value, prefix + field.name, frame, found)
    elif isinstance(obj, dict):
        for name, value in obj.items():
            if isinstance(name, (StepRef, VersionedValue)) or _marin_kind(name) is not None:
                raise TracingError(
                    f"step '{frame.name}': config key '{key}' is a dict with {_shown(name)} as a key; only dict "
                    "values are walked for references and versioned values. Key the dict by a name and put this in "
                    "the value."
                )
            if type(value) not in _ATOMS:
                _scan(value, f"{prefix}{name}", frame, found)
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            if type(value) not in _ATOMS:
                _scan(value, f"{prefix}[{i}]", frame, found)
    elif isinstance(obj, (set, frozenset)):
        inside: list[tuple[str, Any]] = []
        for value in obj:
            _scan(value, f"{prefix}[?]", frame, inside)
        if inside:
            raise TracingError(
                f"step '{frame.name}': config key '{key}' is a set holding {inside[0][1]!r}; sets have no stable "
                "order, so references and versioned values in them cannot be numbered. Use a list (sorted)."
            )
    else:
        hidden = next((v for v in getattr(obj, "__dict__", {}).values() if _is_step_value(v)), None)
        if hidden is not None:
            raise TracingError(
                f"step '{frame.name}': config key '{key or '<root>'}' is a {type(obj).__qualname__} holding "
                f"{_shown(hidden)}. "
                "Only dataclasses, dicts, lists and tuples are walked, so it would be neither a dependency nor part of "
                "the version, and the function would get it as it is at run time. Make this config a dataclass or a "
                "dict."
            )


def _check_reference(ref: StepRef, key: str, frame: Frame) -> None:
    if ref.frame is not None and ref.frame is not frame:
        raise TracingError(
            f"step '{frame.name}': config key '{key}' holds {ref!r} of step '{ref.frame.name}'. output() stands "
            "for the output path of the step whose body calls it; pass that step's StepRef instead, or call "
            "output() in this step's own body."
        )
    if ref.node is not None and ref.node.is_group:
        raise TracingError(
            f"step '{frame.name}': config key '{key}' references '{ref.node.name}', which is a group (its body "
            "returns no deferred call) and has no output path. Reference one of the steps it calls "
            f"({', '.join(child.name for child in ref.node.children) or 'it calls none'}) instead."
        )


def _check_versioned(value: Any, key: str, frame: Frame) -> None:
    if type(value) in _ATOMS:
        return
    if isinstance(value, StepRef):
        raise TracingError(
            f"step '{frame.name}': config key '{key}' versions {value!r}; a StepRef cannot be versioned (its step's "
            "version enters this step's version already). Pass it without versioned()."
        )
    if isinstance(value, VersionedValue):
        raise TracingError(
            f"step '{frame.name}': config key '{key}' has versioned() inside versioned(); versioned values cannot "
            "be nested. Apply versioned() once, to the outer value or to the inner ones."
        )
    if isinstance(value, DeferredCall):
        raise TracingError(
            f"step '{frame.name}': config key '{key}' versions the result of {qualified_name(value.fn)}(...), which "
            "does not exist while tracing; make that call its own @step and pass its StepRef."
        )
    if _marin_kind(value) == "ArtifactStep":
        raise TracingError(
            f"step '{frame.name}': config key '{key}' versions {_shown(value)}; a lazy handle cannot be versioned "
            "(its name@version enters this step's version as a dependency's). Pass it without versioned()."
        )
    fields = dataclass_fields(type(value))
    if fields is not None:
        for field in fields:
            _check_versioned(getattr(value, field.name), f"{key}.{field.name}", frame)
    elif isinstance(value, dict):
        for name, item in value.items():
            _check_versioned(item, f"{key}.{name}", frame)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_versioned(item, f"{key}.[{i}]", frame)


DESCEND: Any = object()
"""Returned by a ``map_config`` leaf function: not a leaf, walk into it."""


def map_config(obj: Any, leaf: Callable[[Any], Any]) -> Any:
    """``obj`` with every value for which ``leaf`` does not return ``DESCEND`` replaced by what it returns.

    Walks dataclasses (rebuilt with ``dataclasses.replace``), dicts, lists and tuples (NamedTuples keep their
    type). Unchanged parts are returned as they are, not copied.
    """
    if type(obj) in _ATOMS:
        return obj
    replaced = leaf(obj)
    return replaced if replaced is not DESCEND else _descend(obj, leaf)


def _descend(obj: Any, leaf: Callable[[Any], Any]) -> Any:
    """``map_config`` of a value that is not a leaf: its parts mapped, the value rebuilt only if one changed."""
    fields = dataclass_fields(type(obj))
    if fields is not None:
        changes: dict[str, Any] = {}
        for field in fields:
            value = getattr(obj, field.name)
            new = _mapped(value, leaf)
            if new is not value:
                changes[field.name] = new
        if not changes:
            return obj
        init = {f.name: changes[f.name] for f in fields if f.init and f.name in changes}
        result = dataclasses.replace(obj, **init) if init else copy.copy(obj)
        for field in fields:
            if not field.init and field.name in changes:
                object.__setattr__(result, field.name, changes[field.name])
        return result
    if isinstance(obj, dict):
        items, changed = _map_items(obj.values(), leaf)
        if not changed:
            return obj
        if type(obj) is dict:
            return dict(zip(obj, items, strict=True))
        rebuilt = copy.copy(obj)
        rebuilt.update(zip(obj, items, strict=True))
        return rebuilt
    if isinstance(obj, (list, tuple)):
        new_items, changed = _map_items(obj, leaf)
        if not changed:
            return obj
        if isinstance(obj, list):
            if type(obj) is list:
                return new_items
            rebuilt_list = copy.copy(obj)
            rebuilt_list[:] = new_items
            return rebuilt_list
        if hasattr(obj, "_fields"):  # NamedTuple
            return type(obj)(*new_items)
        return tuple(new_items) if type(obj) is tuple else type(obj)(new_items)
    return obj


def _map_items(values: Iterable[Any], leaf: Callable[[Any], Any]) -> tuple[list[Any], bool]:
    """``map_config`` of each value (atoms kept without a call), and whether any changed."""
    mapped = []
    changed = False
    for value in values:
        new = _mapped(value, leaf)
        changed = changed or new is not value
        mapped.append(new)
    return mapped, changed


def _mapped(value: Any, leaf: Callable[[Any], Any]) -> Any:
    """``map_config(value, leaf)`` for a part of a config, without a call for an atom."""
    if type(value) in _ATOMS:
        return value
    replaced = leaf(value)
    return replaced if replaced is not DESCEND else _descend(value, leaf)
