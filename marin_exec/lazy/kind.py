"""Lazy handles as a foreign kind of ``marin_exec.trace.foreign`` (the one door for foreign steps): handles from
marin_exec.lazy or from Marin's own package, recognised by shape, lowered to named StepSpecs so they mix with
``@step`` entry points, StepSpecs and ExecutorSteps in ``executor_main``, and inside ``@step`` configs
(``in_config``). Imported by the door, by name, only when it meets an object no native type accounts for; needs
neither pydantic nor click."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from marin_exec.lazy.shapes import is_lazy_handle


class _Lazy:
    config_kinds: frozenset[str] = frozenset({"ArtifactStep"})  # Marin's class name and ours

    def recognises(self, obj: Any) -> bool:
        return is_lazy_handle(obj)

    def lower_steps(self, items: Sequence[Any]) -> list[Any]:
        from marin_exec.lazy.in_config import MEMO
        from marin_exec.lazy.lowering import lower_handles
        from marin_exec.trace.foreign import scope_memo

        handles = [item for item in items if is_lazy_handle(item)]
        lowered = iter(lower_handles(handles, scope_memo(MEMO)))  # shared with handles met in @step configs
        return [next(lowered) if is_lazy_handle(item) else item for item in items]

    def lower_config(self, call: Any, frame: Any) -> list[tuple[str, Any]]:
        from marin_exec.lazy.in_config import lower_config

        return lower_config(call, frame)


KIND = _Lazy()
