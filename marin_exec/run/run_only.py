"""``--run_only``: the steps whose names match, and which of the steps they need are already done."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from marin_exec.status.status import STATUS_SUCCESS

if TYPE_CHECKING:
    from marin_exec.compile.step_spec import StepSpec

logger = logging.getLogger(__name__)


def select(steps: Iterable[StepSpec], patterns: list[str]) -> tuple[Iterator[StepSpec], list[str], set[int]]:
    """The steps (anywhere in the plan) whose names match a ``run_only`` pattern, the unmatched patterns, and the
    ids of the steps they need that are already done (the walk stops there, as Marin's does)."""
    compiled = [(p, re.compile(p)) for p in patterns]
    matched_patterns: set[str] = set()
    selected: list[StepSpec] = []
    seen: set[int] = set()
    stack = list(steps)[::-1]
    while stack:
        spec = stack.pop()
        if id(spec) in seen:
            continue
        seen.add(id(spec))
        hits = [p for p, rx in compiled if rx.search(spec.name)]
        if hits:
            matched_patterns.update(hits)
            selected.append(spec)
        stack.extend(reversed(spec.deps))
    unmatched = [p for p, _ in compiled if p not in matched_patterns]
    for pattern in unmatched:
        logger.warning(f"--run_only pattern {pattern!r} matches no step of this plan; it selects nothing")
    done: set[int] = set()
    visited: set[int] = set()
    needed = list(selected)
    while needed:
        spec = needed.pop()
        if id(spec) in visited:
            continue
        visited.add(id(spec))
        if spec.read_status() == STATUS_SUCCESS:
            done.add(id(spec))
        else:
            needed.extend(spec.deps)
    return iter(selected), unmatched, done
