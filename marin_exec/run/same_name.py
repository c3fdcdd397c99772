"""Steps of one plan that share a name but not a version: a sweep that leaves ``lr`` out of the step name makes
``models/x-1a2b3c`` and ``models/x-4d5e6f``. Their output paths differ, so nothing is computed twice, but the plan,
logs and why-lines cannot tell them apart, and an earlier output of one looks like one of the others'.

``same_name_groups`` finds them (hashed output paths only: a pinned path names itself) and ``warn_same_names`` logs
one warning per name with the count and what differs. Reads nothing, decides nothing about what runs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from marin_exec.compile.step_spec import StepSpec

logger = logging.getLogger(__name__)

MAX_KEYS_NAMED = 3


def same_name_groups(specs: Iterable[StepSpec]) -> dict[str, list[StepSpec]]:
    """Each name held by two or more hashed steps of different versions, with those steps in plan order."""
    by_name: dict[str, dict[str, StepSpec]] = {}
    for spec in specs:
        by_name.setdefault(spec.name, {}).setdefault(spec.output_path, spec)
    groups = {}
    for name, found in by_name.items():
        if len(found) > 1:
            hashed = [s for path, s in found.items() if path.endswith("/" + s.name_with_hash)]
            if len(hashed) > 1:
                groups[name] = hashed
    return groups


def warn_same_names(specs: Iterable[StepSpec]) -> None:
    """One warning per name that two or more steps of different versions share."""
    for name, group in same_name_groups(specs).items():
        logger.warning(
            f"{name}: {len(group)} steps of this plan share the name (hashes {_hashes(group)}) and differ in "
            f"{differing_keys(group)}: the plan, logs and why-lines cannot tell them apart; put what differs in "
            "each step's name"
        )


def differing_keys(group: list[StepSpec]) -> str:
    """``lr``, ``lr, seed``, or ``their dependencies``: the versioned values that are not the same in every step."""
    configs = [spec.version.get("config") or {} for spec in group]
    keys = dict.fromkeys(key for config in configs for key in config)
    differing = [k for k in keys if len({json.dumps(c.get(k), sort_keys=True) for c in configs}) > 1]
    if not differing:
        return "their dependencies"
    more = len(differing) - MAX_KEYS_NAMED
    return ", ".join(differing[:MAX_KEYS_NAMED]) + (f" and {more} more" if more > 0 else "")


def _hashes(group: list[StepSpec]) -> str:
    shown = [spec.hash_id for spec in group[:MAX_KEYS_NAMED]]
    more = len(group) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")
