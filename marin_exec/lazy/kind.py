"""Lazy handles as a foreign kind of ``marin_exec.trace.foreign`` (the one door for foreign steps): handles from
marin_exec.lazy or from Marin's own package, recognised by shape, lowered to named StepSpecs so they mix with
``@step`` entry points, StepSpecs and ExecutorSteps in ``executor_main``. Imported by the door, by name, only when
it meets an object no native type accounts for; needs neither pydantic nor click."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from marin_exec.errors import TracingError
from marin_exec.lazy.shapes import is_lazy_handle


class _Lazy:
    config_kinds: frozenset[str] = frozenset()

    def recognises(self, obj: Any) -> bool:
        return is_lazy_handle(obj)

    def lower_steps(self, items: Sequence[Any]) -> list[Any]:
        from marin_exec.lazy.lowering import lower_handles

        handles = [item for item in items if is_lazy_handle(item)]
        lowered = iter(lower_handles(handles))
        return [next(lowered) if is_lazy_handle(item) else item for item in items]

    def lower_config(self, call: Any, frame: Any) -> list[tuple[str, Any]]:
        raise TracingError(
            f"step '{getattr(frame, 'name', '?')}': a lazy ArtifactStep handle inside a @step config is not "
            "supported; pass the handle to executor_main and read its path with StepRef.hardcoded(handle.path())"
        )


KIND = _Lazy()
