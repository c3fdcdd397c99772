"""Steps of one plan that share a name but not a version: a sweep that leaves ``lr`` out of the step name makes
``models/x-1a2b3c`` and ``models/x-4d5e6f``. Their output paths differ, so nothing is computed twice, but the plan,
logs and why-lines cannot tell them apart, and an earlier output of one looks like one of the others'.

``same_name_groups`` finds them (hashed output paths only: a pinned path names itself), ``warn_same_names`` logs
one warning per name with the count and what differs, and ``sibling_search`` tells ``earlier.find_earlier`` how to
find each one's own earlier output. Reads nothing, decides nothing about what runs.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from marin_exec.versioning import hash_version, version_json

if TYPE_CHECKING:
    from marin_exec.compile.step_spec import StepSpec
    from marin_exec.run.earlier import Closeness

logger = logging.getLogger(__name__)

MAX_KEYS_NAMED = 3
_UNSET = object()


def same_name_groups(specs: Iterable[StepSpec]) -> dict[str, list[StepSpec]]:
    """Each name held by two or more hashed steps of different versions, with those steps in plan order."""
    specs = list(specs)
    shared = {name for name, count in Counter(spec.name for spec in specs).items() if count > 1}  # most are unique
    by_name: dict[str, dict[str, StepSpec]] = {}
    for spec in specs:
        if spec.name in shared:
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


def sibling_search(
    specs: Sequence[StepSpec], versions: Sequence[dict[str, Any]], plan: Iterable[StepSpec]
) -> tuple[set[str], list[Closeness | None]]:
    """For ``find_earlier``: the output paths of steps of the plan that share a name (never an earlier output of
    one another) and, for each of ``specs`` (with its version as recorded) that shares its name, how close an
    earlier output is to it; an empty list when no name is shared."""
    groups = same_name_groups(plan or specs)
    if not groups:
        return set(), []
    exclude = {sibling.output_path for group in groups.values() for sibling in group}

    def closeness(version: dict[str, Any]) -> Closeness:
        return lambda info: _closeness(version, info)

    return exclude, [closeness(v) if spec.name in groups else None for spec, v in zip(specs, versions, strict=True)]


def _closeness(version: dict[str, Any], info: dict[str, Any]) -> tuple[bool, int]:
    """Whether a recorded version has the same versioned keys, and minus how many values and dependencies differ
    (cheaper than ``why.what_changed``: a sweep's every point rates every earlier output of its name)."""
    recorded = _as_dict(info.get("version"))
    old, new = _as_dict(recorded.get("config")), _as_dict(version.get("config"))
    changed = sum(1 for key in old.keys() | new.keys() if old.get(key, _UNSET) != new.get(key, _UNSET))
    for field in ("dependencies", "pseudo_dependencies"):
        was = {dependency_name_hash(dep) for dep in recorded.get(field) or []}
        changed += len(was.symmetric_difference(version.get(field) or []))
    return old.keys() == new.keys(), -changed


def dependency_name_hash(dependency: Any) -> str:
    """``name-hash`` of a recorded dependency entry: kept as is, or computed from a nested version (Marin's)."""
    if isinstance(dependency, dict):
        return f"{dependency.get('name')}-{hash_version(version_json(dependency))}"
    return str(dependency)


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
