"""``--run_only``: the steps whose names match. They are the run's input steps; the runner's pruned walk (DESIGN §5b)
then stops at what is already built among what they need, as Marin's does."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from marin_exec.compile.step_spec import StepSpec

logger = logging.getLogger(__name__)


def select(steps: Iterable[StepSpec], patterns: list[str]) -> tuple[list[StepSpec], list[str]]:
    """The steps (anywhere in the plan) whose names match a ``run_only`` pattern, and the unmatched patterns."""
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
    return selected, unmatched
