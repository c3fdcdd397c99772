"""Why a step will run: what changed since the most recent earlier output of the same step name; and the drift of
a cached step's unversioned config.

``what_changed(version, info)`` compares today's version (``shallow_version(spec)``, or ``StepSpec.version`` with
nested dependency versions) with the one recorded in an earlier ``.executor_info`` (``name-hash`` dependencies, or
nested ones in Marin's records): changed, added and removed versioned values, and dependencies by ``name-hash``.
``config_drift`` compares the unversioned (instantiated) config. ``why_lines`` / ``drift_lines`` do either for many
steps with batched reads (``earlier.find_earlier``; one ``read_many`` of the steps' own info). This module only
reads (``warn_drift`` also logs); it does not decide which steps will run (ask only for those) and formats no plan.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections.abc import Iterable, Sequence
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from typing import TYPE_CHECKING, Any

from marin_exec.run.same_name import dependency_name_hash, sibling_search
from marin_exec.status.status import join
from marin_exec.storage.protocol import json_object
from marin_exec.storage.store import read_many

if TYPE_CHECKING:
    from marin_exec.compile.step_spec import StepSpec
    from marin_exec.run.earlier import Earlier
    from marin_exec.run.run_report import StepOutcome

logger = logging.getLogger(__name__)

ARROW = "\u2192"
MAX_VALUE_CHARS = 40
MAX_DRIFT_KEYS = 3
_AFTER_CHARS = 10  # characters shown after the first difference of two shortened values
_ADDRESS = re.compile(r" at 0x[0-9A-Fa-f]+")
_UNSET = object()


def why_lines(specs: Sequence[StepSpec], plan: Iterable[StepSpec] = ()) -> list[str]:
    """``why_will_run`` of each spec (steps that will run and never ran at their own path), with batched reads.

    ``plan``: every step of today's plan (default: ``specs``). A step that shares its name with others of the plan
    is compared with the earlier output closest to it, never with a sibling's output (``same_name.sibling_search``)."""
    from marin_exec.run.earlier import find_earlier  # a dry run's search, not every run's: imported here

    named = [i for i, spec in enumerate(specs) if spec.is_named]
    if named:  # their other versions, not hashed siblings (run.other_versions)
        from marin_exec.run.other_versions import other_version_lines

        lines = dict(zip(named, other_version_lines([specs[i] for i in named]), strict=True))
        hashed = [spec for spec in specs if not spec.is_named]
        rest = iter(why_lines(hashed, plan or specs) if hashed else [])
        return [lines[i] if i in lines else next(rest) for i in range(len(specs))]
    versions = [_shallow(spec) for spec in specs]
    exclude, closest = sibling_search(specs, versions, plan)
    steps = [(spec.name, spec.output_path) for spec in specs]
    earlier = find_earlier(steps, exclude=exclude, closest=closest)
    return [why_will_run(version, e) for version, e in zip(versions, earlier, strict=True)]


def _shallow(spec: StepSpec) -> dict[str, Any]:
    """The step's version with dependencies as ``name-hash`` (what ``.executor_info`` records), from its public
    fields: importing ``compile.step_spec`` would make the runner reach the wrappers."""
    version = {**spec.version, "dependencies": [dep.name_with_hash for dep in spec.deps]}
    if spec.pseudo_deps:
        version["pseudo_dependencies"] = [dep.name_with_hash for dep in spec.pseudo_deps]
    return version


def drift_lines(specs: Sequence[StepSpec]) -> list[str | None]:
    """``config_drift`` of each spec (steps found done) against its own ``.executor_info``, read in one batch."""
    from marin_exec.run.recipe_drift import recipe_drifts
    from marin_exec.status.step_status import INFO_FILENAME

    found = read_many([join(spec.output_path, INFO_FILENAME) for spec in specs])
    infos = [json_object(f) for f in found]
    recipes = recipe_drifts(specs, infos)  # issue 19: the recorded fingerprint payload, field by field, first
    lines: list[str | None] = []
    for spec, info, recipe in zip(specs, infos, recipes, strict=True):
        if recipe is not None:
            lines.append(recipe or None)
            continue
        config = (spec.info or {}).get("config")
        lines.append(config_drift(config, info) if info is not None and config is not None else None)
    return lines


def warn_drift(cached: Sequence[StepOutcome]) -> None:
    """Log a warning for each cached step whose recorded unversioned config differs from today's (one batched
    read), and keep the drift line on its outcome; a read error is a warning too, never a failed run."""
    cached = [o for o in cached if (o.spec.info or {}).get("config") is not None]
    if not cached:
        return
    try:
        drifts = drift_lines([o.spec for o in cached])
    except Exception as error:
        logger.warning(f"could not compare the unversioned config of {len(cached)} cached step(s): {error!r}")
        return
    for outcome, drift in zip(cached, drifts, strict=True):
        outcome.drift = drift
        if drift is not None:
            logger.warning(f"{outcome.spec.name}: cached, but its {drift} ({outcome.spec.output_path})")


def why_will_run(version: dict[str, Any], earlier: Earlier | None) -> str:
    """The ``why`` of a step that will run and never ran at its own path: never run, or what changed."""
    if earlier is None:
        return "never ran"
    if earlier.info is None:
        return f"never ran at this version; an earlier output {earlier.name_with_hash} has no recorded .executor_info"
    changes = what_changed(version, earlier.info)
    if not changes:
        changes = ["its version differs in a way the earlier .executor_info does not record"]
    return f"{'; '.join(changes)} (was {earlier.name_with_hash})"


def what_changed(version: dict[str, Any], info: dict[str, Any]) -> list[str]:
    """``key: old → new`` for each versioned value that differs from the recorded version, then the dependencies."""
    recorded = info.get("version")
    if not isinstance(recorded, dict):
        return ["the earlier .executor_info records no version to compare with"]
    lines = _diff(_as_dict(recorded.get("config")), _as_dict(version.get("config")))
    for field, label in (("dependencies", "dependency"), ("pseudo_dependencies", "nonblocking dependency")):
        lines += _dependency_changes(recorded.get(field) or [], version.get(field) or [], label)
    return lines


def config_drift(config: Any, info: dict[str, Any]) -> str | None:
    """``unversioned config differs: batch_size 32 → 64`` when today's instantiated config (``StepSpec.info
    ["config"]``) differs from the recorded one; None when they agree or nothing was recorded."""
    if "config" not in info:
        return None
    if _same_json(info["config"], config):  # the common case, without flattening both sides
        return None
    old = dict(_flatten(_json_roundtrip(info["config"]), ""))
    new = dict(_flatten(_json_roundtrip(config), ""))
    changes = _diff(old, new, sep=" ")
    if not changes:
        return None
    more = len(changes) - MAX_DRIFT_KEYS
    shown = ", ".join(changes[:MAX_DRIFT_KEYS]) + (f" and {more} more" if more > 0 else "")
    return f"unversioned config differs: {shown}"


# -- comparing ------------------------------------------------------------------------------------------------


def _same_json(old: Any, new: Any) -> bool:
    """Whether both encode to the same JSON text (as recorded; 1, 1.0 and true differ). False when either cannot be
    encoded with sorted keys: the full comparison says what differs."""
    try:
        return json.dumps(old, sort_keys=True) == json.dumps(new, sort_keys=True)
    except (TypeError, ValueError):
        return False


def _diff(old: dict[str, Any], new: dict[str, Any], sep: str = ": ") -> list[str]:
    """``key: before → after`` for each key whose full values differ (shortened only for display)."""
    lines = []
    for key in [*new, *(k for k in old if k not in new)]:
        a, b = old.get(key, _UNSET), new.get(key, _UNSET)
        if type(a) is type(b) and type(a) in (str, int, float, bool) and a == b:
            continue  # the common case, without encoding anything
        before, after = _text(old, key), _text(new, key)
        if _comparable(before) != _comparable(after):
            before, after = _shortened(before, after)
            lines.append(f"{key}{sep}{before} {ARROW} {after}")
    return lines


def _text(values: dict[str, Any], key: str) -> str:
    """The value at ``key`` in full, as JSON writes it (``unset`` when missing)."""
    if key not in values:
        return "unset"
    value = values[key]
    kind = type(value)
    if kind is str:  # the common scalars as json.dumps writes them, without its per-call set-up
        return str(encode_basestring_ascii(value))
    if kind is int or kind is float and math.isfinite(value):
        return repr(value)
    return json.dumps(value, sort_keys=True, default=repr)


def _comparable(text: str) -> str:
    """``text`` without memory addresses: a default ``repr`` (``<x.Y object at 0x7f...>``) differs in every process,
    so only what else it says is compared; an object known by nothing else is not comparable, never drift."""
    return _ADDRESS.sub(" at 0x?", text) if " at 0x" in text else text


def _shortened(before: str, after: str) -> tuple[str, str]:
    """Both texts cut to MAX_VALUE_CHARS for display, keeping where they first differ in view: two long paths that
    differ at the end are shown by their ends (``...data/run-1" → ...data/run-2"``)."""
    if len(before) <= MAX_VALUE_CHARS and len(after) <= MAX_VALUE_CHARS:
        return before, after
    first_difference = len(os.path.commonprefix([before, after]))
    cut = max(0, first_difference + _AFTER_CHARS - (MAX_VALUE_CHARS - 3))
    return _clip(before, cut), _clip(after, cut)


def _clip(text: str, cut: int) -> str:
    text = "..." + text[cut + 3 :] if cut > 0 else text
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 3] + "..."


def _dependency_changes(old: Iterable[Any], new: Iterable[Any], label: str) -> list[str]:
    """Dependencies paired by name, in order (a name may repeat): changed hashes, then added, then removed ones."""
    old, new = list(old), list(new)
    if old == new:
        return []
    before: dict[str, list[str]] = {}
    after: dict[str, list[str]] = {}
    for entries, grouped in ((old, before), (new, after)):
        for entry in entries:
            name_hash = dependency_name_hash(entry)
            grouped.setdefault(_name_of(name_hash), []).append(name_hash)
    lines = []
    for name in dict.fromkeys([*after, *before]):
        was, now = before.get(name, []), after.get(name, [])
        if was == now:
            continue
        for b, a in zip(was, now, strict=False):
            if b != a:
                lines.append(f"{label} {name}: {b[len(name) + 1 :]} {ARROW} {a[len(name) + 1 :]}")
        lines += [f"new {label} {a}" for a in now[len(was) :]]
        lines += [f"{label} {b} removed" for b in was[len(now) :]]
    return lines


def _name_of(name_hash: str) -> str:
    return name_hash[:-7] if len(name_hash) > 7 and name_hash[-7] == "-" else name_hash


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _json_roundtrip(value: Any) -> Any:
    return json.loads(json.dumps(value, default=repr))


def _flatten(value: Any, key: str) -> Iterable[tuple[str, Any]]:
    """Leaves of a JSON value keyed as versions are (``inner.a``, ``items.[0]``)."""
    if isinstance(value, dict) and value:
        for k, v in value.items():
            yield from _flatten(v, f"{key}.{k}" if key else str(k))
    elif isinstance(value, list) and value:
        for i, v in enumerate(value):
            yield from _flatten(v, f"{key}.[{i}]" if key else f"[{i}]")
    else:
        yield key or "config", value
