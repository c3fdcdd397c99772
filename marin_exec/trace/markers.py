"""``versioned()``: mark a config value as part of its step's identity, refusing what cannot be versioned.

It lives in the tracer because it must recognise a ``StepRef`` (and name the step being traced in its errors);
the marker type and the encoding are in ``marin_exec.versioning``. It does not encode or hash anything.
"""

from __future__ import annotations

from typing import TypeVar

from marin_exec.errors import TracingError
from marin_exec.trace.context import current_step_name
from marin_exec.trace.step_ref import StepRef
from marin_exec.versioning import VersionedValue

T = TypeVar("T")


def versioned(value: T) -> T:
    """Mark ``value`` as part of the step's identity: it enters the hash, so changing it reruns the step.

    Typed as returning ``T`` so that config dataclass fields keep their declared types.
    """
    if isinstance(value, VersionedValue):
        raise TracingError(
            f"{_in_step()}versioned() was applied twice to {value.value!r}; versioned values cannot be nested: "
            "call versioned() once on the plain value"
        )
    if isinstance(value, StepRef):
        raise TracingError(
            f"{_in_step()}versioned({value!r}): a StepRef cannot be versioned; references are part of the version "
            "already (they contribute the dependency's own version), so pass the StepRef without versioned()"
        )
    return VersionedValue(value)  # type: ignore[return-value]


def _in_step() -> str:
    """``step 'name': `` while a @step body is traced, else empty (for messages)."""
    name = current_step_name()
    return f"step '{name}': " if name else ""
