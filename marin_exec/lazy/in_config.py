"""Lazy handles (ours or Marin's, by shape) inside a ``@step`` config: each one becomes a dependency of the step,
as a StepRef would, and the function receives the handle's path in its place.

The handle is rewritten in place to the StepRef of a node whose ``foreign`` lowers it, at compile time, exactly as
``executor_main`` lowers a top-level handle (``lowering.lower_handles``), through the compile's one memo
(``trace.foreign.lowering_scope``): a handle in several configs and at the top level is one named StepSpec, which
runs first and once. What the function receives is that StepSpec's ``data_path``, as for any reference:
``{prefix}/{name}/{version}``, or the pin's location, or the adopted source. The step's version holds the handle
as any named dependency (``"DEP[i]"`` and ``name@version``, DESIGN §4); a pinned or adopted handle also adds its
location as written (before the prefix) under ``{key}@location``, so moving the data changes the step's hash as a
hard-coded input would. Called by the trace layer only when its config walk meets an ``ArtifactStep``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from marin_exec.lazy.shapes import is_lazy_handle
from marin_exec.naming import qualified_name
from marin_exec.plain import dataclass_fields
from marin_exec.trace.config_walk import DESCEND, call_roots, map_config
from marin_exec.trace.graph import DeferredCall, StepNode
from marin_exec.trace.step_ref import StepRef

MEMO = "marin_exec.lazy"  # this kind's memo in a lowering scope: id(handle) -> StepSpec
LOCATION = "@location"


def lower_config(call: DeferredCall, frame: Any) -> list[tuple[str, Any]]:
    """Rewrite ``call``'s arguments in place, each lazy handle replaced by the StepRef of its node; returns the
    identity entries the rewritten config no longer shows (pinned and adopted handles' locations)."""
    extra: list[tuple[str, Any]] = []
    for key, value in call_roots(call.fn, call.args, call.kwargs, frame.name):
        for where, handle in _handles(value, key):
            location = handle.adopt_source if handle.adopt_source is not None else handle.override_path
            if location is not None:
                extra.append((where + LOCATION, location))

    def leaf(obj: Any) -> Any:
        return StepRef(node=_node(obj)) if is_lazy_handle(obj) else DESCEND

    object.__setattr__(call, "args", map_config(call.args, leaf))
    object.__setattr__(call, "kwargs", map_config(call.kwargs, leaf))
    return extra


def _handles(obj: Any, key: str) -> Iterator[tuple[str, Any]]:
    """The handles in ``obj`` with their config keys, walked as the trace layer walks a config (DESIGN §4)."""
    stack = [(key, obj)]
    while stack:
        where, value = stack.pop()
        if is_lazy_handle(value):
            yield where, value
            continue
        prefix = f"{where}." if where else ""
        fields = dataclass_fields(type(value))
        if fields is not None:
            items = [(prefix + field.name, getattr(value, field.name)) for field in fields]
        elif isinstance(value, dict):
            items = [(f"{prefix}{name}", item) for name, item in value.items()]
        elif isinstance(value, (list, tuple)):
            items = [(f"{prefix}[{i}]", item) for i, item in enumerate(value)]
        else:
            continue
        stack.extend(reversed(items))


def _node(handle: Any) -> StepNode:
    """A node standing for ``handle`` in the traced graph: no inputs of its own (its deps are its StepSpec's)."""
    return StepNode(
        name=handle.name,
        qualname=f"ArtifactStep({qualified_name(handle.run)})",
        description=None,
        call=DeferredCall(handle.run, (), {}, step_name=handle.name),
        children=(),
        inputs=(),
        version=handle.version,
        foreign=functools.partial(_lowered, handle),
    )


def _lowered(handle: Any) -> Any:
    from marin_exec.lazy.lowering import lower_handles
    from marin_exec.trace.foreign import scope_memo

    return lower_handles([handle], scope_memo(MEMO))[0]
