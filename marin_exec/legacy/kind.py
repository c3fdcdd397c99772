"""Marin's ExecutorStep world as a foreign kind (``marin_exec.trace.foreign``): the one way marin_exec's core reaches
``marin_exec.legacy``. Imported by the adapter, by name, only when it meets an object no native type accounts for;
it registers nothing and has no import-time effect. It only routes to the modules that do the work.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from marin_exec.legacy.shapes import KIND_NAMES, kind_of


class _Legacy:
    """ExecutorStep, InputName and their config placeholders, marin_exec.legacy's or Marin's own (by shape)."""

    config_kinds = KIND_NAMES

    def recognises(self, obj: Any) -> bool:
        return kind_of(obj) in ("ExecutorStep", "InputName")

    def lower_steps(self, items: Sequence[Any]) -> list[Any]:
        from marin_exec.legacy.lowering import lower_steps

        return lower_steps(items)

    def lower_config(self, call: Any, frame: Any) -> list[tuple[str, Any]]:
        from marin_exec.legacy.traced import lower_marin_objects

        return lower_marin_objects(call, frame)

    def main_call(
        self, steps: Any, description: Any, config: Any, max_concurrent: int | None, config_class: type
    ) -> Any:
        from marin_exec.legacy.executor import marin_call

        return marin_call(steps, description, config, max_concurrent, config_class)


KIND = _Legacy()
