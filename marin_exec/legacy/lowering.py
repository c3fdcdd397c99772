"""Lower ExecutorStep graphs onto marin_exec's traced graph: each ExecutorStep becomes one ``StepNode``, so the
compiler gives it exactly Marin's version, hash and output path, and the runner runs it like any ``@step``.

Marin's config walk is followed to the letter (DESIGN §4 is the same scheme): dataclass fields, then dict values
(keys must be str), then list, tuple and set items, every reference numbered on one counter. A node's identity
(``inputs``) is computed here; its call is ``fn(config)`` with every placeholder replaced by marin_exec's own
(``StepRef``, ``output()``, ``versioned``), which the compiler resolves to what Marin's executor would pass.
``mirrored(p)`` becomes the literal ``mirror://p`` (Marin hashes only a ``versioned`` inside it). This module does
not compute hashes or paths, and runs nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

from marin_exec.errors import CycleError, MarinExecError, TracingError
from marin_exec.legacy.shapes import kind_of, marin_encode
from marin_exec.legacy.types import LegacyValueError
from marin_exec.naming import qualified_name
from marin_exec.trace.config_walk import DESCEND, map_config
from marin_exec.trace.context import Frame
from marin_exec.trace.graph import DeferredCall, StepNode
from marin_exec.trace.step_ref import StepRef
from marin_exec.versioning import VersionedValue

_NODE_ATTR = "__marin_exec_node__"
_NODES: dict[int, tuple[Any, StepNode]] = {}  # for step objects that refuse a new attribute (slots)
_ATOMS = frozenset({str, int, float, bool, bytes, complex, type(None)})

Event = tuple[str, str, Any]  # (config key, kind, object)


def lower_steps(items: Iterable[Any]) -> list[Any]:
    """``executor_main``'s step list with every ExecutorStep and InputName replaced by the StepRef of its node.

    A hard-coded InputName names no step and is dropped, as Marin's executor does. Other items pass unchanged.
    """
    lowered: list[Any] = []
    for item in items:
        kind = kind_of(item)
        if kind == "InputName":
            item = item.step
            if item is None:
                continue
            kind = kind_of(item)
        lowered.append(StepRef(node=node_of(item)) if kind == "ExecutorStep" else item)
    return lowered


def node_of(step: Any) -> StepNode:
    """The ``StepNode`` of an ExecutorStep (built once per step object, with every step it references)."""
    found = _cached(step)
    if found is not None:
        return found
    stack = [step]
    expanded: set[int] = set()
    while stack:
        current = stack[-1]
        if _cached(current) is not None:
            stack.pop()
            continue
        events = walk(current.config, "", current.name)
        pending = [s for s in _steps_in(events) if _cached(s) is None]
        if pending:
            if id(current) in expanded:
                raise CycleError(f"step '{current.name}' depends on itself through {[s.name for s in pending]}")
            expanded.add(id(current))
            stack.extend(pending)
            continue
        _remember(current, _build(current, events))
        stack.pop()
    node = _cached(step)
    assert node is not None
    return node


def _cached(step: Any) -> StepNode | None:
    node = getattr(step, _NODE_ATTR, None)
    if node is None and id(step) in _NODES:
        node = _NODES[id(step)][1]
    return node


def _remember(step: Any, node: StepNode) -> None:
    try:
        object.__setattr__(step, _NODE_ATTR, node)
    except (AttributeError, TypeError):
        _NODES[id(step)] = (step, node)  # keeps the step alive, so its id stays its own


def _steps_in(events: list[Event]) -> list[Any]:
    steps = []
    for _, kind, obj in events:
        if kind == "ExecutorStep":
            steps.append(obj)
        elif kind == "InputName" and obj.step is not None:
            steps.append(obj.step)
    return steps


def walk(obj: Any, key: str, step: str) -> list[Event]:
    """Marin's placeholder events in ``obj``, in its walk order: ExecutorStep, InputName, VersionedValue,
    ``MirroredVersion`` (a versioned value inside ``mirrored``), OutputName and marin_exec ``StepRef``."""
    events: list[Event] = []
    _walk(obj, key, step, events)
    return events


def _walk(obj: Any, key: str, step: str, events: list[Event]) -> None:
    if type(obj) in _ATOMS:
        return
    kind = kind_of(obj)
    if kind == "MirroredValue":
        inner = kind_of(obj.value)
        if inner in ("ExecutorStep", "InputName", "OutputName", "MirroredValue"):
            raise LegacyValueError(
                f"step '{step}': config key '{key}' is mirrored({obj.value!r}); marin_exec mirrors a path or a "
                "versioned path only. Pass the upstream output without mirrored()."
            )
        if inner == "VersionedValue":
            events.append((key, "MirroredVersion", obj.value))
        return
    if kind is not None:
        events.append((key, kind, obj))
        return
    if isinstance(obj, StepRef):
        events.append((key, "StepRef", obj))
        return
    prefix = f"{key}." if key else ""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for field in dataclasses.fields(obj):
            _walk(getattr(obj, field.name), prefix + field.name, step, events)
    elif isinstance(obj, dict):
        for name, value in obj.items():
            if not isinstance(name, str):
                raise LegacyValueError(f"step '{step}': dict keys must be strs, but got {name!r} under '{key}'")
            _walk(value, prefix + name, step, events)
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            _walk(value, f"{prefix}[{i}]", step, events)
    elif isinstance(obj, (set, frozenset)):
        inside: list[Event] = []
        for i, value in enumerate(obj):
            _walk(value, f"{prefix}[{i}]", step, inside)
        if inside:
            raise LegacyValueError(
                f"step '{step}': config key '{key}' is a set holding {inside[0][2]!r}; sets have no stable order "
                "and are passed to the function as they are. Use a list."
            )


def input_of(kind: str, obj: Any, key: str, step: str) -> Any:
    """What one event contributes to the step's identity: a StepRef, or an encoded versioned value."""
    if kind in ("VersionedValue", "MirroredVersion"):
        return marin_encode(obj.value, key or "<whole config>", step)
    if kind == "StepRef":
        if obj.node is not None and obj.node.is_group:
            raise TracingError(
                f"step '{step}': config key '{key}' references '{obj.node.name}', a group with no output path; "
                "reference one of the steps it calls"
            )
        return obj
    return replacement(obj, kind, None)


def replacement(obj: Any, kind: str | None, frame: Frame | None) -> Any:
    """The marin_exec value that stands for a Marin placeholder in a config (``DESCEND`` for anything else)."""
    if kind == "ExecutorStep":
        return StepRef(node=node_of(obj))
    if kind == "InputName":
        if obj.step is None:
            return StepRef(hardcoded_path=obj.name)
        return StepRef(node=node_of(obj.step), subpath=obj.name or None, blocking=bool(obj.block_on_step))
    if kind == "VersionedValue":
        return obj if isinstance(obj, VersionedValue) else VersionedValue(obj.value)
    if kind == "MirroredValue":
        inner = obj.value.value if kind_of(obj.value) == "VersionedValue" else obj.value
        return f"mirror://{inner}" if isinstance(inner, str) and not inner.startswith("mirror://") else inner
    if kind == "OutputName":
        assert frame is not None
        return StepRef(frame=frame, subpath=obj.name or None)
    return DESCEND


def rewrite(config: Any, frame: Frame | None) -> Any:
    """``config`` with every Marin placeholder replaced by its marin_exec value."""

    def leaf(obj: Any) -> Any:
        if isinstance(obj, (StepRef, VersionedValue)):
            return obj
        return replacement(obj, kind_of(obj), frame)

    return map_config(config, leaf)


def _build(step: Any, events: list[Event]) -> StepNode:
    name = step.name
    inputs = tuple((key, input_of(kind, obj, key, name)) for key, kind, obj in events if kind != "OutputName")
    frame = Frame(name=name, qualname=f"ExecutorStep({name})", is_step=True)
    fn, resources, env_vars, pip_groups = _unwrap_remote(step.fn)
    original = getattr(step, "_original_step_spec", None)  # Marin's StepSpec.as_executor_step(): run the StepSpec
    if original is not None:
        fn, resources, env_vars, pip_groups = _unwrap_remote(original.fn, original.resources)
        call = DeferredCall(fn, (StepRef(frame=frame),), {}, step_name=name)
    elif fn is None or not callable(fn):
        raise MarinExecError(f"step '{name}': ExecutorStep fn is {fn!r}; give it the function to call with the config")
    else:
        call = DeferredCall(fn, (rewrite(step.config, frame),), {}, step_name=name)
    own_resources = getattr(step, "resources", None)
    own_env = getattr(step, "env_vars", None)
    return StepNode(
        name=name,
        qualname=f"ExecutorStep({qualified_name(fn)})",
        description=getattr(step, "description", None),
        call=call,
        children=(),
        inputs=inputs,
        override_output_path=getattr(step, "override_output_path", None),
        resources=own_resources if own_resources is not None else resources,
        env_vars={**(env_vars or {}), **(own_env or {})} or None,
        pip_dependency_groups=getattr(step, "pip_dependency_groups", None) or pip_groups,
    )


def _unwrap_remote(fn: Any, resources: Any = None) -> tuple[Callable[..., Any], Any, Any, Any]:
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
