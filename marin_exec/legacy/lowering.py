"""Lower ExecutorStep graphs onto marin_exec's traced graph: each ExecutorStep becomes one ``StepNode``, so the
compiler gives it exactly Marin's version, hash and output path, and the runner runs it like any ``@step``.

Marin's config walk is followed to the letter (DESIGN §4 is the same scheme): dataclass fields, then dict values
(keys must be str), then list, tuple and set items, every reference numbered on one counter. A node's identity
(``inputs``) is computed here; its call is ``fn(config)`` with every placeholder replaced by marin_exec's own
(``StepRef``, ``output()``, ``versioned``), which the compiler resolves to what Marin's executor would pass.
``mirrored(p)`` becomes the literal ``mirror://p`` (Marin hashes only a ``versioned`` inside it). Two ExecutorSteps
with one version are one node, the first one's (Marin keeps the first, whatever the second's function, and warns).
This module does not compute hashes or paths, and runs nothing.
"""

from __future__ import annotations

import contextvars
import dataclasses
import json
import logging
from collections.abc import Iterable
from typing import Any

from marin_exec.errors import CycleError, MarinExecError, TracingError
from marin_exec.legacy.mirror import mirror_budget_of, with_mirror_budget
from marin_exec.legacy.shapes import REBUILD, kind_of, marin_encode, marin_rebuild, unwrap_remote
from marin_exec.legacy.types import LegacyValueError
from marin_exec.naming import qualified_name
from marin_exec.trace.config_walk import DESCEND, map_config
from marin_exec.trace.context import Frame
from marin_exec.trace.graph import DeferredCall, StepNode
from marin_exec.trace.step_ref import StepRef
from marin_exec.versioning import VersionedValue

_NODE_ATTR = "__marin_exec_node__"
_NODES: dict[int, tuple[Any, StepNode]] = {}  # for step objects that refuse a new attribute (slots)
# While ``lower_steps`` runs (one executor run): the first node of each ExecutorStep version, and the duplicates met.
_Run = tuple[dict[Any, StepNode], set[int], dict[int, StepNode]]  # by version, warned, registered (kept alive)
_RUN: contextvars.ContextVar[_Run | None] = contextvars.ContextVar("_RUN", default=None)
_ATOMS = frozenset({str, int, float, bool, bytes, complex, type(None)})

logger = logging.getLogger(__name__)

Event = tuple[str, str, Any]  # (config key, kind, object)


def lower_steps(items: Iterable[Any]) -> list[Any]:
    """``executor_main``'s step list with every ExecutorStep and InputName replaced by the StepRef of its node.

    A hard-coded InputName names no step and is dropped, as Marin's executor does. Other items pass unchanged.
    Within one call, ExecutorSteps of one version are one step, as in one run of Marin's executor.
    """
    lowered: list[Any] = []
    token = _RUN.set(({}, set(), {})) if _RUN.get() is None else None
    try:
        for item in items:
            kind = kind_of(item)
            if kind == "InputName":
                item = item.step
                if item is None:
                    continue
                kind = kind_of(item)
            lowered.append(StepRef(node=node_of(item)) if kind == "ExecutorStep" else item)
    finally:
        if token is not None:
            _RUN.reset(token)
    return lowered


def node_of(step: Any) -> StepNode:
    """The ``StepNode`` of an ExecutorStep (built once per step object, with every step it references)."""
    found = _cached(step)
    if found is not None:
        return _seen(found)
    stack = [step]
    expanded: set[int] = set()
    while stack:
        current = stack[-1]
        if _cached(current) is not None:
            stack.pop()
            continue
        events = walk(current.config, "", current.name)
        pending = []
        for upstream in _steps_in(events):
            node = _cached(upstream)
            if node is None:
                pending.append(upstream)
            else:
                _seen(node)  # lowered before this call: still the first of its version here
        if pending:
            if id(current) in expanded:
                raise CycleError(f"step '{current.name}' depends on itself through {[s.name for s in pending]}")
            expanded.add(id(current))
            stack.extend(reversed(pending))  # Marin's order: the first reference is versioned (and kept) first
            continue
        inputs = tuple((k, input_of(kind, obj, k, current.name)) for k, kind, obj in events if kind != "OutputName")
        _remember(current, _node_of_version(current, inputs))
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
    """The ExecutorSteps referenced: blocking ones in walk order, then nonblocking ones (Marin versions them so)."""
    blocking: list[Any] = []
    nonblocking: list[Any] = []
    for _, kind, obj in events:
        if kind == "ExecutorStep":
            blocking.append(obj)
        elif kind == "InputName" and obj.step is not None:
            (blocking if obj.block_on_step else nonblocking).append(obj.step)
    return blocking + nonblocking


def _node_of_version(step: Any, inputs: tuple[tuple[str, Any], ...]) -> StepNode:
    """A new node for ``step``; but in a ``lower_steps`` call, that of an earlier ExecutorStep with its version and
    pinned path if any: Marin keeps the first such step (its function and config run) and warns once."""
    run = _RUN.get()
    if run is None:
        return _build(step, inputs)
    version = _version(step.name, step.override_output_path, inputs)
    first = run[0].get(version)
    if first is None:
        node = _build(step, inputs)
        run[0][version] = run[2][id(node)] = node
        return node
    if id(first) not in run[1]:
        run[1].add(id(first))
        fn = qualified_name(unwrap_remote(step.fn)[0]) if step.fn is not None else None
        ran = "" if first.qualname == f"ExecutorStep({fn})" else f"; the first one's {first.qualname} runs, not {fn}"
        logger.warning(f"{step.name}: several ExecutorSteps have the same version; they are one step{ran}")
    return first


def _seen(node: StepNode) -> StepNode:
    """``node``, registered as its version's step in the current ``lower_steps`` call unless one is already."""
    run = _RUN.get()
    if run is not None and id(node) not in run[2]:
        run[2][id(node)] = node
        run[0].setdefault(_version(node.name, node.override_output_path, node.inputs), node)
    return node


def _version(name: str, override: str | None, inputs: tuple[tuple[str, Any], ...]) -> tuple[Any, ...]:
    """What makes two ExecutorSteps one step; upstream nodes are shared already, so a node stands for its version."""
    identity: list[tuple[Any, ...]] = []
    for key, value in inputs:
        if isinstance(value, StepRef):
            identity.append((key, id(value.node), value.subpath, value.blocking, value.hardcoded_path))
        elif type(value) in _ATOMS:  # typed, floats by repr: 1 == 1.0 == True and 0.0 == -0.0, not as versions
            identity.append((key, type(value), repr(value) if type(value) is float else value))
        else:
            identity.append((key, json.dumps(value, sort_keys=True)))
    return (name, override, tuple(identity))


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


def _instantiated(config: Any, frame: Frame) -> Any:
    """An ExecutorStep's config rebuilt as Marin's ``instantiate_config`` does, placeholders replaced as in
    ``rewrite`` (a ``@step`` config keeps its own containers: only ``rewrite`` applies there)."""

    def leaf(obj: Any) -> Any:
        if isinstance(obj, (StepRef, VersionedValue)):
            return obj
        found = replacement(obj, kind_of(obj), frame)
        return REBUILD if found is DESCEND else found

    return marin_rebuild(config, leaf)


def _build(step: Any, inputs: tuple[tuple[str, Any], ...]) -> StepNode:
    name = step.name
    frame = Frame(name=name, qualname=f"ExecutorStep({name})", is_step=True)
    fn, resources, env_vars, pip_groups = unwrap_remote(step.fn)
    original = getattr(step, "_original_step_spec", None)  # Marin's StepSpec.as_executor_step(): run the StepSpec
    if original is not None:
        fn, resources, env_vars, pip_groups = unwrap_remote(original.fn, original.resources)
        call = DeferredCall(fn, (StepRef(frame=frame),), {}, step_name=name)
    elif fn is None or not callable(fn):
        raise MarinExecError(f"step '{name}': ExecutorStep fn is {fn!r}; give it the function to call with the config")
    else:
        budget = mirror_budget_of(step.config)  # Marin runs the function inside its mirror budget
        run = fn if budget is None else with_mirror_budget(fn, budget)
        call = DeferredCall(run, (_instantiated(step.config, frame),), {}, step_name=name)
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
