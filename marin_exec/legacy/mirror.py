"""Marin's mirror budget: a step whose config holds ``mirrored(path, budget_gb=N)`` values runs its function inside
``rigging.filesystem.cross_region.mirror_budget(max N)``, as Marin's executor does.

That context gives the ``mirror://`` filesystem (rigging's ``MirrorFileSystem``, which the function reads the
``mirror://p`` paths with) a fresh cross-region transfer budget of that many GB for the call, instead of the
process-wide one (``MARIN_MIRROR_BUDGET_GB``, default 10). The budget is not part of the step's version. rigging
comes with marin-fray; it is imported only when such a step runs. This module does not resolve ``mirrored`` values
(lowering does) and copies nothing itself.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

from marin_exec.legacy.shapes import kind_of
from marin_exec.legacy.types import LegacyValueError
from marin_exec.naming import qualified_name

_ATOMS = frozenset({str, int, float, bool, bytes, type(None)})


def mirror_budget_of(config: Any) -> float | None:
    """The largest ``budget_gb`` of the ``mirrored`` values in ``config``, or None: Marin's walk (dataclass fields,
    list and tuple items, dict values, inside ``versioned``; not inside another step's reference or a set)."""
    budgets: list[float] = []
    stack = [config]
    while stack:
        obj = stack.pop()
        if type(obj) in _ATOMS:
            continue
        kind = kind_of(obj)
        if kind == "MirroredValue":
            budgets.append(obj.budget_gb)
        elif kind == "VersionedValue":
            stack.append(obj.value)
        elif kind is not None:
            continue
        elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            stack.extend(getattr(obj, f.name) for f in dataclasses.fields(obj))
        elif isinstance(obj, (list, tuple)):
            stack.extend(obj)
        elif isinstance(obj, dict):
            stack.extend(obj.values())
    return max(budgets) if budgets else None


def with_mirror_budget(fn: Callable[..., Any], budget_gb: float) -> Callable[..., Any]:
    """``fn`` called inside Marin's mirror budget; one wrapper per ``(fn, budget_gb)``, so that a step reached twice
    still runs one function."""
    try:
        return _wrapper(fn, budget_gb)
    except TypeError:  # an unhashable callable object
        return MirrorBudgeted(fn, budget_gb)


@functools.lru_cache(maxsize=1024)
def _wrapper(fn: Callable[..., Any], budget_gb: float) -> Callable[..., Any]:
    return MirrorBudgeted(fn, budget_gb)


class MirrorBudgeted:
    """``fn`` run inside ``rigging.filesystem.cross_region.mirror_budget(budget_gb)``. It reads as ``fn`` to
    ``inspect``, to provenance and to artifact typing (``functools.update_wrapper``); picklable for Fray jobs when
    ``fn`` is."""

    def __init__(self, fn: Callable[..., Any], budget_gb: float) -> None:
        self.fn = fn
        self.budget_gb = budget_gb
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            from rigging.filesystem.cross_region import mirror_budget
        except ImportError as e:
            raise LegacyValueError(
                f"{qualified_name(self.fn)}: its config reads mirrored() paths with a budget of {self.budget_gb} GB, "
                "which needs rigging's mirror:// filesystem: pip install 'marin_exec[fray]' (it brings marin-rigging)"
            ) from e
        with mirror_budget(self.budget_gb):
            return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"with_mirror_budget({self.fn!r}, budget_gb={self.budget_gb})"
