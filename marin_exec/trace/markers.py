"""``versioned()``: mark a config value as part of its step's identity, refusing what cannot be versioned.

It lives in the tracer because it must recognise a ``StepRef`` (and name the step being traced in its errors);
the marker type and the encoding are in ``marin_exec.versioning``. It does not encode or hash anything.
"""

from __future__ import annotations

from typing import TypeVar

from marin_exec.errors import TracingError
from marin_exec.trace.context import current_step_name
from marin_exec.trace.step_ref import StepRef
from marin_exec.versioning import RuntimeArg, VersionedValue

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


def runtime_arg(value: T, key: str | None = None) -> T:
    """Mark ``value`` as decided by the run (Marin's ``ctx.runtime_arg``), e.g. the TPU type a job lands on: the
    function receives ``value``, the step's fingerprint records ``<key>`` instead, and it never enters a hash.
    ``key`` defaults to the name of the field or dict key that holds it."""
    if isinstance(value, (VersionedValue, RuntimeArg, StepRef)):
        raise TracingError(
            f"{_in_step()}runtime_arg({value!r}): mark a plain value; a versioned value is identity, a StepRef a "
            "dependency, and neither can also be a run-time argument"
        )
    if key is not None and (not isinstance(key, str) or not key):
        raise TracingError(f"{_in_step()}runtime_arg(..., key={key!r}): key must be a non-empty str")
    return RuntimeArg(value, key)  # type: ignore[return-value]
