"""Lazy handles (ours or Marin's, by shape) inside a ``@step`` config: each one becomes a dependency of the step,
as a StepRef would, and the function receives the handle's path in its place.

The handle is rewritten in place to the StepRef of a node whose ``foreign`` lowers it, at compile time, exactly as
``executor_main`` lowers a top-level handle (``lowering.lower_handles``), through the compile's one memo
(``trace.foreign.lowering_scope``): a handle in several configs and at the top level is one named StepSpec, which
runs first and once. What the function receives is that StepSpec's ``data_path``, as for any reference:
``{prefix}/{name}/{version}``, or the pin's location, or the adopted source. The step's version holds the handle
as any named dependency (``"DEP[i]"`` and ``name@version``, DESIGN §4), as it holds a native ``adopt()`` or named
``@step``: a pinned or adopted handle's location is not hashed (Marin's fingerprints ignore it too). The walk stops
at marin_exec's own values (StepRefs, versioned values, runtime arguments): what lies behind a StepRef is the
traced graph above the step, not this config. Called by the trace layer only when its config walk meets an
``ArtifactStep``.
"""

from __future__ import annotations

import functools
from typing import Any

from marin_exec.lazy.shapes import is_lazy_handle
from marin_exec.naming import qualified_name
from marin_exec.trace.config_walk import DESCEND, map_config
from marin_exec.trace.graph import DeferredCall, StepNode
from marin_exec.trace.step_ref import StepRef
from marin_exec.versioning import RuntimeArg, VersionedValue

MEMO = "marin_exec.lazy"  # this kind's memo in a lowering scope: id(handle) -> StepSpec
_OURS = (StepRef, VersionedValue, RuntimeArg)


def lower_config(call: DeferredCall, frame: Any) -> list[tuple[str, Any]]:
    """Rewrite ``call``'s arguments in place, each lazy handle replaced by the StepRef of its node. Returns no extra
    identity entries: the handle's ``name@version`` enters the version as the dependency's."""

    def leaf(obj: Any) -> Any:
        if isinstance(obj, _OURS):  # never walked into: behind a StepRef lies the whole graph above this step
            return obj
        return StepRef(node=_node(obj)) if is_lazy_handle(obj) else DESCEND

    object.__setattr__(call, "args", map_config(call.args, leaf))
    object.__setattr__(call, "kwargs", map_config(call.kwargs, leaf))
    return []


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


def _lowered(handle: Any, prefix: str | None) -> Any:
    """The handle's StepSpec from the compile's memo, lowered (with what it needs) the first time it is asked for;
    ``prefix``: the compile's, when it was given one (else the run's, ``$MARIN_PREFIX``)."""
    from marin_exec.lazy.lowering import lower_handles
    from marin_exec.trace.foreign import scope_memo

    memo = scope_memo(MEMO)
    found = memo.get(id(handle))
    return found if found is not None else lower_handles([handle], memo, prefix=prefix)[0]
