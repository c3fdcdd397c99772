"""Lazy handles recognised by shape: marin_exec.lazy's ``ArtifactStep`` and the one marin-core 0.2.227's
``marin.execution.lazy`` makes, without importing Marin (CI has no Marin). A handle has Marin's fields and a
``fingerprint_payload()`` method; nothing marin_exec defines elsewhere has both."""

from __future__ import annotations

from typing import Any

HANDLE_FIELDS = ("name", "version", "artifact_type", "run", "build_config", "deps", "override_path", "adopt_source")


def is_lazy_handle(obj: Any) -> bool:
    if isinstance(obj, type) or not callable(getattr(type(obj), "fingerprint_payload", None)):
        return False
    return all(hasattr(obj, field) for field in HANDLE_FIELDS)


def is_marin_handle(obj: Any) -> bool:
    """A handle made by Marin's own package (its module path), as opposed to marin_exec.lazy's."""
    return is_lazy_handle(obj) and type(obj).__module__.startswith("marin.")


def graph_handles(handles: list[Any]) -> list[Any]:
    """Every handle reachable from ``handles``, deps first, each once (by identity); iterative, so a deep chain
    does not exhaust the stack."""
    seen: set[int] = set()
    order: list[Any] = []
    for root in handles:
        stack: list[tuple[Any, bool]] = [(root, False)]
        while stack:
            handle, expanded = stack.pop()
            if expanded:
                order.append(handle)
                continue
            if id(handle) in seen:
                continue
            seen.add(id(handle))
            stack.append((handle, True))
            stack.extend((dep, False) for dep in reversed(tuple(handle.deps)) if id(dep) not in seen)
    return order
