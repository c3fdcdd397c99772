"""``@step`` and ``deferred``: calling a step traces its body into a ``StepNode`` and returns a ``StepRef``.

Inside a step body a ``deferred`` function records a ``DeferredCall`` instead of running; the step's config is
that call's arguments. This module also holds the one set of rules for walking a config (dataclass fields in
declaration order, dict values in insertion order, list and tuple items in order): ``scan_config`` finds what
enters a step's identity, ``map_config`` rebuilds a config with placeholders replaced. It computes no version or
path and runs no step: compiling and running are the compiler's and the runner's business.

Choices where DESIGN is silent: ``@step`` always needs a name (it is the step's identity and path; renaming a
Python function must not move outputs). A body makes exactly one deferred call and returns it; one that makes a
call but returns None is an error (a forgotten ``return``), not a group. A deferred call with one argument,
positional or keyword, is walked at the root, so ``f(cfg)`` and ``f(config=cfg)`` hash alike. A set in a config
is fine unless it holds references or versioned values (no stable order to number them).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import inspect
import logging
import string
from collections.abc import Callable
from typing import Any, NoReturn, ParamSpec, TypeVar

from marin_exec.errors import StepDefinitionError, TracingError
from marin_exec.step_ref import StepRef
from marin_exec.step_spec import validate_step_name
from marin_exec.tracing import Frame, StepNode, current_frame, run_in_frame
from marin_exec.versioning import VersionedValue, encode

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

_ATOMS = frozenset({str, int, float, bool, bytes, complex, type(None)})


# -- deferred ---------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class DeferredCall:
    """A call of a deferred function recorded while tracing; its result does not exist yet."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    step_name: str | None = dataclasses.field(default=None, repr=False)

    def __getattr__(self, name: str) -> NoReturn:
        if name.startswith("_"):  # copy, pickle, IPython and friends probe optional hooks
            raise AttributeError(name)
        raise TracingError(
            f"step '{self.step_name}': '.{name}' was read from the result of {_fn_name(self.fn)}(...) while "
            "tracing. Inside a @step body a deferred function does not run: the call is only recorded, so its "
            "result does not exist yet. Return the call from the step body, and pass this step's StepRef to the "
            "steps that need what it produces."
        )

    def __bool__(self) -> bool:
        raise TracingError(
            f"step '{self.step_name}': the result of {_fn_name(self.fn)}(...) was tested with bool() while tracing; "
            "it does not exist until the step runs. Return the call from the step body."
        )

    def __iter__(self) -> NoReturn:
        raise TracingError(
            f"step '{self.step_name}': the result of {_fn_name(self.fn)}(...) was iterated while tracing; it does "
            "not exist until the step runs. Return the call from the step body."
        )

    def __repr__(self) -> str:
        parts = [repr(arg) for arg in self.args] + [f"{key}={value!r}" for key, value in self.kwargs.items()]
        return f"{getattr(self.fn, '__name__', repr(self.fn))}({', '.join(parts)})"


def deferred(fn: Callable[P, T]) -> Callable[P, T]:
    """Wrap a library function: inside a @step body a call returns a ``DeferredCall``; elsewhere it runs ``fn``.

    Outside tracing, ``versioned`` markers in the arguments are unwrapped; a StepRef there is an error.
    """
    if getattr(fn, "__marin_deferred__", False):
        raise StepDefinitionError(f"deferred() was applied twice to {_fn_name(fn)}; apply it once")
    if getattr(fn, "__marin_step__", None) is not None:
        raise StepDefinitionError(
            f"deferred() was applied to the @step function {_fn_name(fn)}; wrap the library function with "
            "deferred() and call it from the @step body"
        )
    if not callable(fn):
        raise StepDefinitionError(f"deferred() needs a function, got {fn!r}")

    @functools.wraps(fn)
    def call(*args: P.args, **kwargs: P.kwargs) -> T:
        frame = current_frame()
        if frame is None:
            return fn(*_concrete(fn, args), **_concrete(fn, kwargs))
        if not frame.is_step:
            raise TracingError(
                f"{_fn_name(fn)}(...) was called during {frame.name} but outside any @step body; call deferred "
                "functions inside a @step function body"
            )
        recorded = DeferredCall(fn, args, dict(kwargs), step_name=frame.name)
        frame.calls.append(recorded)
        return recorded  # type: ignore[return-value]  # a stand-in for the result, typed as the result

    call.__marin_deferred__ = True  # type: ignore[attr-defined]
    return call


def _concrete(fn: Callable[..., Any], arguments: Any) -> Any:
    def leaf(obj: Any) -> Any:
        if isinstance(obj, VersionedValue):
            return obj.value
        if isinstance(obj, StepRef):
            raise TracingError(
                f"{_fn_name(fn)}(...) was called outside any @step body with {obj!r} in its arguments. Outside "
                "tracing a deferred function runs at once, and a StepRef has no path yet: call it inside a @step "
                "function body, or pass concrete paths."
            )
        return DESCEND

    return map_config(arguments, leaf)


# -- @step ------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Template:
    """A name/description/path with ``{param}`` placeholders filled from the step call's arguments."""

    text: str
    fields: tuple[str, ...]

    @staticmethod
    def parse(text: str, what: str, fn: Callable[..., Any], signature: inspect.Signature) -> _Template:
        fields = []
        for _, field, _, _ in string.Formatter().parse(text):
            if field is None:
                continue
            root = field.split(".")[0].split("[")[0]
            if not root:
                raise TracingError(
                    f"@step on {_fn_name(fn)}: {what} '{text}' has a placeholder without a name; use {{param}} "
                    f"with one of the parameters {list(signature.parameters)}"
                )
            fields.append(root)
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())
        for root in fields:
            if root not in signature.parameters and not takes_any:
                _unknown_placeholder(fn, what, text, root, list(signature.parameters))
        return _Template(text, tuple(fields))

    def fill(self, values: dict[str, Any], fn: Callable[..., Any], what: str) -> str:
        if not self.fields:
            return self.text
        for root in self.fields:
            if root not in values:
                _unknown_placeholder(fn, what, self.text, root, list(values))
        try:
            return self.text.format_map(values)
        except TracingError as e:
            raise TracingError(
                f"@step {_fn_name(fn)}: {what} '{self.text}' cannot be filled: {e} Placeholders are filled while "
                "tracing, so they need plain parameters (str, int, ...), not StepRefs."
            ) from None
        except (AttributeError, IndexError, KeyError, TypeError, ValueError) as e:
            raise TracingError(
                f"@step {_fn_name(fn)}: {what} '{self.text}' cannot be filled from the call's arguments: "
                f"{type(e).__name__}: {e}"
            ) from None


def _unknown_placeholder(fn: Callable[..., Any], what: str, text: str, field: str, known: list[str]) -> NoReturn:
    raise TracingError(
        f"@step on {_fn_name(fn)}: {what} '{text}' uses the placeholder {{{field}}}, which is not a parameter of "
        f"{getattr(fn, '__name__', fn)}; use one of {known} or add the parameter"
    )


@dataclasses.dataclass(frozen=True)
class _StepDefinition:
    fn: Callable[..., Any]
    signature: inspect.Signature
    name: _Template
    description: _Template | None
    override_output_path: _Template | None
    resources: Any
    env_vars: dict[str, str] | None
    pip_dependency_groups: list[str] | None

    @functools.cached_property
    def _has_placeholders(self) -> bool:
        templates = (self.name, self.description, self.override_output_path)
        return any(t is not None and t.fields for t in templates)

    def __call__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> StepRef:
        parent = current_frame()
        values = self._arguments(args, kwargs) if self._has_placeholders else {}
        name = self.name.fill(values, self.fn, "name")
        try:
            validate_step_name(name)
        except StepDefinitionError as e:
            raise StepDefinitionError(f"@step {_fn_name(self.fn)}: {e}") from None
        frame = Frame(name=name, qualname=_fn_name(self.fn), is_step=True)
        result = run_in_frame(frame, self.fn, args, kwargs)
        node = self._node(frame, result, values)
        if parent is not None:
            parent.children.append(node)
        return StepRef(node=node)

    def _arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{_fn_name(self.fn)}(): {e}") from None
        bound.apply_defaults()
        values = dict(bound.arguments)
        for param in self.signature.parameters.values():
            if param.kind is inspect.Parameter.VAR_KEYWORD:
                values.update(values.get(param.name, {}))
        return values

    def _node(self, frame: Frame, result: Any, values: dict[str, Any]) -> StepNode:
        where = f"step '{frame.name}' ({frame.qualname})"
        description = self.description.fill(values, self.fn, "description") if self.description else None
        if result is None:
            if frame.calls:
                call = frame.calls[-1]
                raise TracingError(
                    f"{where} called {_fn_name(call.fn)}(...) but returned None, so the call would never run. "
                    f"Return it: `return {getattr(call.fn, '__name__', 'fn')}(...)`. (A body that calls no deferred "
                    "function and returns None is a group.)"
                )
            if self.override_output_path is not None or self.resources is not None:
                raise TracingError(
                    f"{where} is a group (its body returns no deferred call), so override_output_path and "
                    "resources do not apply; put them on the steps it calls"
                )
            return StepNode(frame.name, frame.qualname, description, None, tuple(frame.children), ())
        if not isinstance(result, DeferredCall):
            hint = (
                " (a StepRef: to make a group, call the steps and return nothing)"
                if isinstance(result, StepRef)
                else ""
            )
            raise TracingError(
                f"{where} returned {type(result).__name__} {result!r}{hint}. A @step body must return the call of a "
                "deferred function (`return fn(config)`), or return nothing to be a group of the steps it calls."
            )
        inputs = scan_config(result, frame)  # first: a deferred result inside the config has its own error
        if len(frame.calls) != 1 or frame.calls[0] is not result:
            made = ", ".join(f"{_fn_name(c.fn)}(...)" for c in frame.calls) or "none"
            raise TracingError(
                f"{where} must make exactly one deferred call and return it; it made: {made}. Make each call its "
                "own @step and pass StepRefs between them."
            )
        pinned = (
            self.override_output_path.fill(values, self.fn, "override_output_path")
            if self.override_output_path
            else None
        )
        return StepNode(
            name=frame.name,
            qualname=frame.qualname,
            description=description,
            call=result,
            children=tuple(frame.children),
            inputs=inputs,
            override_output_path=pinned,
            resources=self.resources,
            env_vars=self.env_vars,
            pip_dependency_groups=self.pip_dependency_groups,
        )


def step(
    name: str,
    *,
    description: str | None = None,
    resources: Any = None,
    env_vars: dict[str, str] | None = None,
    pip_dependency_groups: list[str] | None = None,
    override_output_path: str | None = None,
) -> Callable[[Callable[P, Any]], Callable[P, StepRef]]:
    """Declare a step: calling the function traces its body and returns a ``StepRef`` (nothing runs).

    ``name``, ``description`` and ``override_output_path`` may contain ``{param}`` placeholders filled from the
    call's arguments, defaults included. The body returns one deferred call (a job step) or nothing (a group).
    The name is required: it is the step's identity and output path, so it is never derived from the function.
    """
    if not isinstance(name, str):
        shown = getattr(name, "__name__", repr(name))
        raise StepDefinitionError(
            f"@step on {shown} needs a name, the step's identity and output path: write "
            f'@step(name="{shown}") or a path such as @step(name="tokenized/{{dataset}}")'
        )

    def decorate(fn: Callable[P, Any]) -> Callable[P, StepRef]:
        if getattr(fn, "__marin_step__", None) is not None:
            raise StepDefinitionError(
                f"@step was applied twice to {_fn_name(fn)} (as '{fn.__marin_step__.name.text}' and '{name}'); "  # type: ignore[attr-defined]
                "apply it once"
            )
        signature = inspect.signature(fn)
        template = _Template.parse(name, "name", fn, signature)
        try:
            validate_step_name(_with_bare_fields(name))
        except StepDefinitionError as e:
            raise StepDefinitionError(f"@step on {_fn_name(fn)}: {e}") from None
        definition = _StepDefinition(
            fn=fn,
            signature=signature,
            name=template,
            description=_Template.parse(description, "description", fn, signature) if description else None,
            override_output_path=(
                _Template.parse(override_output_path, "override_output_path", fn, signature)
                if override_output_path
                else None
            ),
            resources=resources,
            env_vars=env_vars,
            pip_dependency_groups=pip_dependency_groups,
        )

        @functools.wraps(fn)
        def traced(*args: P.args, **kwargs: P.kwargs) -> StepRef:
            return definition(args, kwargs)

        traced.__marin_step__ = definition  # type: ignore[attr-defined]
        return traced

    return decorate


def _with_bare_fields(text: str) -> str:
    """``text`` with each ``{field!r:spec}`` written ``{field}``, so that only the literal parts are validated."""
    return "".join(
        literal + (f"{{{field}}}" if field is not None else "")
        for literal, field, _, _ in string.Formatter().parse(text)
    )


# -- walking configs ----------------------------------------------------------------------------------------------


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
        bound = _signature(fn).bind(*args, **kwargs)
    except TypeError as e:
        raise TracingError(f"step '{step_name}': {_fn_name(fn)}() cannot be called with these arguments: {e}") from None
    except ValueError:  # no signature (some builtins): arguments are taken as given
        bound = None
    if len(args) + len(kwargs) == 1:
        return [("", args[0] if args else next(iter(kwargs.values())))]
    if bound is None:
        return [(f"[{i}]", arg) for i, arg in enumerate(args)] + list(kwargs.items())
    return list(bound.arguments.items())


@functools.lru_cache(maxsize=4096)
def _signature(fn: Callable[..., Any]) -> inspect.Signature:
    return inspect.signature(fn)


def dataclass_fields(cls: type) -> tuple[dataclasses.Field[Any], ...] | None:
    """The fields of a dataclass type (None for other types), cached: configs are walked several times."""
    return _dataclass_fields(cls)  # type: ignore[arg-type]  # types are hashable


@functools.lru_cache(maxsize=4096)
def _dataclass_fields(cls: Any) -> tuple[dataclasses.Field[Any], ...] | None:
    return dataclasses.fields(cls) if dataclasses.is_dataclass(cls) else None


def scan_config(call: DeferredCall, frame: Frame) -> tuple[tuple[str, Any], ...]:
    """What a step's config contributes to its identity, in walk order: ``(key, StepRef)`` for references and
    ``(key, encoded value)`` for versioned values. Raises ``TracingError`` for misuse found on the way.
    """
    found: list[tuple[str, Any]] = []
    for key, value in call_roots(call.fn, call.args, call.kwargs, frame.name):
        _scan(value, key, frame, found)
    return tuple(found)


def _scan(obj: Any, key: str, frame: Frame, found: list[tuple[str, Any]]) -> None:
    if type(obj) in _ATOMS:
        return
    if isinstance(obj, StepRef):
        _check_reference(obj, key, frame)
        if obj.frame is None:  # output() contributes nothing
            found.append((key, obj))
        return
    if isinstance(obj, VersionedValue):
        _check_versioned(obj.value, key, frame)
        found.append((key, encode(obj.value, key, frame.name)))
        return
    if isinstance(obj, DeferredCall):
        raise TracingError(
            f"step '{frame.name}': config key '{key}' holds the result of {_fn_name(obj.fn)}(...), which does not "
            "exist while tracing. Make that call its own @step and pass its StepRef here."
        )
    prefix = f"{key}." if key else ""
    fields = dataclass_fields(type(obj))
    if fields is not None:
        for field in fields:
            _scan(getattr(obj, field.name), prefix + field.name, frame, found)
    elif isinstance(obj, dict):
        for name, value in obj.items():
            _scan(value, f"{prefix}{name}", frame, found)
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
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
            f"step '{frame.name}': config key '{key}' versions the result of {_fn_name(value.fn)}(...), which "
            "does not exist while tracing; make that call its own @step and pass its StepRef."
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
    if replaced is not DESCEND:
        return replaced
    fields = dataclass_fields(type(obj))
    if fields is not None:
        changes = {}
        for field in fields:
            value = getattr(obj, field.name)
            new = map_config(value, leaf)
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
        items = {name: map_config(value, leaf) for name, value in obj.items()}
        if all(items[name] is value for name, value in obj.items()):
            return obj
        if type(obj) is dict:
            return items
        rebuilt = copy.copy(obj)
        rebuilt.update(items)
        return rebuilt
    if isinstance(obj, (list, tuple)):
        new_items = [map_config(value, leaf) for value in obj]
        if all(a is b for a, b in zip(new_items, obj, strict=True)):
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


def _fn_name(fn: Any) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"
