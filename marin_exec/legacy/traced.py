"""Marin placeholders found in a ``@step`` config while tracing: understood, or refused naming the replacement.

An ExecutorStep, ``output_path_of(step, "sub")`` or any InputName is a dependency, as a StepRef would be (the
ExecutorStep joins the plan); Marin's ``versioned(x)`` is marin_exec's; ``mirrored(p)`` is the string
``mirror://p`` and ``mirrored(versioned(p))`` also versions ``p`` under its key, as Marin does, and the function
runs inside the largest ``budget_gb`` (``mirror.py``). ``THIS_OUTPUT_PATH`` and ``this_output_path()`` are refused:
a ``@step`` names its own output with ``output()``. Called by the trace layer's config walk only when it meets such
an object; it does not scan for references itself.
"""

from __future__ import annotations

from typing import Any

from marin_exec.errors import TracingError
from marin_exec.legacy.lowering import input_of, rewrite, walk
from marin_exec.legacy.mirror import mirror_budget_of, with_mirror_budget
from marin_exec.trace.config_walk import call_roots
from marin_exec.trace.context import Frame
from marin_exec.trace.graph import DeferredCall


def lower_marin_objects(call: DeferredCall, frame: Frame) -> list[tuple[str, Any]]:
    """Rewrite ``call``'s arguments in place, Marin placeholders replaced; returns the identity entries that the
    rewritten config no longer shows (versioned paths inside ``mirrored``)."""
    extra: list[tuple[str, Any]] = []
    for key, value in call_roots(call.fn, call.args, call.kwargs, frame.name):
        for where, kind, obj in walk(value, key, frame.name):
            if kind == "OutputName":
                sub = f'"{obj.name}"' if obj.name else ""
                raise TracingError(
                    f"step '{frame.name}': config key '{where or '<root>'}' holds Marin's "
                    f"{'this_output_path(' + repr(obj.name) + ')' if obj.name else 'THIS_OUTPUT_PATH'}, which a "
                    f"@step does not resolve. Pass output({sub}) for this step's own output path instead (and give "
                    "the config field no default: pass every output field explicitly)."
                )
            if kind == "MirroredVersion":
                extra.append((where, input_of(kind, obj, where, frame.name)))
    budget = mirror_budget_of((call.args, call.kwargs))
    if budget is not None:  # the function runs inside Marin's mirror budget, as an ExecutorStep's does
        object.__setattr__(call, "fn", with_mirror_budget(call.fn, budget))
    object.__setattr__(call, "args", rewrite(call.args, None))
    object.__setattr__(call, "kwargs", rewrite(call.kwargs, None))
    return extra
