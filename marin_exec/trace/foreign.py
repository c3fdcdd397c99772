"""One door for foreign steps: objects another library defines enter marin_exec here, and only here.

Marin's ExecutorStep world (``marin_exec.legacy``: its own classes, and Marin's recognised by shape) and Marin's lazy
artifact handles (``marin_exec.lazy``, likewise) plug in here. A **kind** is a module named in ``KIND_MODULES``
whose ``KIND`` object has:

- ``recognises(obj) -> bool``: whether ``obj`` is one of its step objects, by shape (class name and attributes),
  never by importing the foreign library (CI has no Marin);
- ``lower_steps(items) -> list``: ``executor_main``'s items with its objects lowered to StepRefs of traced nodes
  (or StepSpecs); items it does not recognise pass unchanged;
- ``config_kinds`` (class names) and ``lower_config(call, frame) -> list[(key, identity)]``: a ``@step`` config
  that holds one of its placeholders (the trace layer's config walk names the class it met), rewritten in place
  (a step object becomes the StepRef of a node whose ``foreign`` returns its StepSpec);
- optionally ``main_call(steps, description, config, max_concurrent, config_class)``: ``executor_main`` called
  with the foreign spelling (its config first, ``max_concurrent=``).

Nothing registers at import time: the kinds' modules are imported the first time an object that no native type
accounts for is met, so ``import marin_exec`` and a run of native steps never load them, and no module below them
imports a kind's package (tests/test_layout.py forbids it). This module lowers nothing itself; ``lowering_scope``
gives the kinds one memo per compile, so an object met at the top level and in configs is one StepSpec.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

from marin_exec.errors import TracingError

KIND_MODULES: list[str] = ["marin_exec.legacy.kind", "marin_exec.lazy.kind"]
_loaded: list[ForeignKind] = []
_SCOPE: contextvars.ContextVar[dict[str, dict[Any, Any]] | None] = contextvars.ContextVar("_SCOPE", default=None)


class ForeignKind(Protocol):
    config_kinds: frozenset[str]

    def recognises(self, obj: Any) -> bool: ...

    def lower_steps(self, items: Sequence[Any]) -> list[Any]: ...

    def lower_config(self, call: Any, frame: Any) -> list[tuple[str, Any]]: ...


def add_kind(module: str) -> None:
    """Make ``module`` (its ``KIND``) one more kind, tried after those already known; imported when first needed."""
    if module not in KIND_MODULES:
        KIND_MODULES.append(module)


def kinds() -> list[ForeignKind]:
    """Every kind, its module imported on the first call (and on the first call after ``add_kind``)."""
    for module in KIND_MODULES[len(_loaded) :]:
        _loaded.append(importlib.import_module(module).KIND)
    return _loaded


def lower_steps(items: Iterable[Any], native: Callable[[Any], bool]) -> list[Any]:
    """``items`` with every foreign step object lowered by the kind that recognises it; ``native`` items (StepRefs,
    StepSpecs) pass unchanged, and when all are native no kind is loaded. An object no kind recognises also passes
    unchanged: the compiler says what it is."""
    items = list(items)
    if all(native(item) for item in items):
        return items
    for kind in kinds():
        if any(not native(item) and kind.recognises(item) for item in items):
            items = kind.lower_steps(items)
    return items


def lower_config(call: Any, frame: Any, class_name: str) -> tuple[list[tuple[str, Any]], frozenset[str]]:
    """A ``@step`` config holding a foreign placeholder of class ``class_name``, rewritten in place by its kind:
    the identity entries the rewritten config no longer shows, and the class names that kind has now lowered."""
    for kind in kinds():
        if class_name in kind.config_kinds:
            return kind.lower_config(call, frame), kind.config_kinds
    raise TracingError(f"step '{getattr(frame, 'name', '?')}': no foreign kind lowers a {class_name} in a config")


@contextlib.contextmanager
def lowering_scope() -> Iterator[None]:
    """One compile: within it ``scope_memo`` hands each kind the same memo (nested scopes share the outer one)."""
    token = _SCOPE.set({}) if _SCOPE.get() is None else None
    try:
        yield
    finally:
        if token is not None:
            _SCOPE.reset(token)


def scope_memo(owner: str) -> dict[Any, Any]:
    """``owner``'s memo for the current ``lowering_scope`` (a fresh one outside any)."""
    scope = _SCOPE.get()
    return {} if scope is None else scope.setdefault(owner, {})


def main_call(steps: Any, description: Any, config: Any, max_concurrent: int | None, config_class: type) -> Any:
    """``executor_main``'s ``(steps, description, config)`` when called with a foreign spelling, by the first kind
    that accepts one; unchanged if none does."""
    for kind in kinds():
        call = getattr(kind, "main_call", None)
        if call is not None:
            return call(steps, description, config, max_concurrent, config_class)
    return steps, description, config
