"""Why a step will run: what changed since the most recent earlier output of the same step name, and the drift of
a cached step's unversioned config.

``what_changed(version, info)`` compares today's version (``StepSpec.version``: nested dependency versions, or
``name-hash`` strings) with the one recorded in an earlier ``.executor_info`` (``name-hash`` dependencies, or nested
ones in Marin's records): changed, added and removed versioned values, and dependencies by ``name-hash``.
``config_drift`` compares the unversioned config. ``find_earlier`` finds, for many steps at once, the earlier
outputs ``{dir}/{name}-??????`` beside each step's output path (one listing per parent directory, overlapped on
object stores) and reads the most recent one's ``.executor_info`` (one ``read_many`` for all of them).
This module only reads; it does not decide which steps will run (ask only for those) and formats no plan.
"""

from __future__ import annotations

import dataclasses
import json
import os
import posixpath
import re
from collections.abc import Iterable, Sequence
from typing import Any

from marin_exec.status import join
from marin_exec.step_status import INFO_FILENAME
from marin_exec.storage import read_many, strip_protocol
from marin_exec.versioning import hash_version, version_json

ARROW = "\u2192"
MAX_VALUE_CHARS = 40
MAX_DRIFT_KEYS = 3
_HASHED = re.compile(r"-[0-9a-f]{6}$")
_UNSET = object()


@dataclasses.dataclass(frozen=True)
class Earlier:
    """The most recent earlier output of a step: its path, ``name-hash`` and recorded ``.executor_info`` (None when
    it has none, e.g. it never succeeded)."""

    output_path: str
    name_with_hash: str
    info: dict[str, Any] | None


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
    old = dict(_flatten(_json_roundtrip(info["config"]), ""))
    new = dict(_flatten(_json_roundtrip(config), ""))
    changes = _diff(old, new, sep=" ")
    if not changes:
        return None
    more = len(changes) - MAX_DRIFT_KEYS
    shown = ", ".join(changes[:MAX_DRIFT_KEYS]) + (f" and {more} more" if more > 0 else "")
    return f"unversioned config differs: {shown}"


# -- finding earlier outputs ------------------------------------------------------------------------------------


def find_earlier(steps: Sequence[tuple[str, str]]) -> list[Earlier | None]:
    """For each ``(name, output_path)``, the most recent other output ``{name}-??????`` in the same directory,
    with its ``.executor_info``; None where there is none (or the path is pinned and has no hash suffix).

    Most recent: the latest recorded ``end_time``, else the latest modification time, else the last name. Costs one
    listing per parent directory and one batched read of the candidates' ``.executor_info``.
    """
    wanted: list[tuple[str, str, str] | None] = []  # (parent, stem, own basename) per step
    for name, output_path in steps:
        parent, base = posixpath.split(output_path.rstrip("/"))
        stem = posixpath.basename(name)
        ok = base.startswith(stem + "-") and _HASHED.search(base) and len(base) == len(stem) + 7
        wanted.append((parent, stem, base) if ok else None)
    listings = _list_dirs(sorted({w[0] for w in wanted if w is not None}))
    by_stem: dict[str, dict[str, list[tuple[str, float | None]]]] = {}  # parent -> stem -> (entry, mtime)
    for parent, entries in listings.items():
        index = by_stem[parent] = {}
        for entry, mtime in entries:
            if _HASHED.search(entry):
                index.setdefault(entry[:-7], []).append((entry, mtime))
    candidates: list[list[tuple[str, float | None]]] = []
    for w in wanted:
        if w is None:
            candidates.append([])
            continue
        parent, stem, own = w
        found = by_stem.get(parent, {}).get(stem, [])
        candidates.append([(f"{parent}/{entry}", mtime) for entry, mtime in found if entry != own])
    paths = [path for found in candidates for path, _ in found]
    infos = iter(read_many([join(path, INFO_FILENAME) for path in paths]))
    results: list[Earlier | None] = []
    for (name, _), found in zip(steps, candidates, strict=True):
        options = [(path, mtime, _parse_info(next(infos))) for path, mtime in found]
        results.append(_most_recent(name, options))
    return results


def _most_recent(name: str, options: list[tuple[str, float | None, dict[str, Any] | None]]) -> Earlier | None:
    if not options:
        return None
    with_info = [o for o in options if o[2] is not None] or options
    if len(with_info) > 1:  # local listings carry no times (a stat per entry): look them up only to choose
        with_info = [(path, _local_mtime(path) if mtime is None else mtime, info) for path, mtime, info in with_info]

    def recency(option: tuple[str, float | None, dict[str, Any] | None]) -> tuple[str, float, str]:
        path, mtime, info = option
        end = info.get("end_time") if info is not None else None
        return (end if isinstance(end, str) else "", mtime or 0.0, path)

    path, _, info = max(with_info, key=recency)
    return Earlier(path, f"{name}{path[-7:]}", info)


def _list_dirs(parents: Sequence[str]) -> dict[str, list[tuple[str, float | None]]]:
    """Entry names and modification times of each directory (missing ones are empty), overlapped where async."""
    local = [p for p in parents if strip_protocol(p)[0] in ("file", "local")]
    found = {p: _scan_local(strip_protocol(p)[1]) for p in local}
    by_protocol: dict[str, list[str]] = {}
    for p in parents:
        if p not in found:
            by_protocol.setdefault(strip_protocol(p)[0], []).append(p)
    for protocol, group in by_protocol.items():
        found.update(zip(group, _list_remote(protocol, group), strict=True))
    return found


def _scan_local(directory: str) -> list[tuple[str, float | None]]:
    try:
        with os.scandir(directory) as entries:
            return [(e.name, None) for e in entries if len(e.name) > 7 and e.name[-7] == "-"]
    except (FileNotFoundError, NotADirectoryError):
        return []


def _local_mtime(path: str) -> float | None:
    protocol, local = strip_protocol(path)
    if protocol not in ("file", "local"):
        return None
    try:
        return os.stat(local).st_mtime
    except OSError:
        return None


def _list_remote(protocol: str, parents: Sequence[str]) -> list[list[tuple[str, float | None]]]:
    import fsspec

    fs = fsspec.filesystem(protocol)

    def entries(listing: Any) -> list[tuple[str, float | None]]:
        if isinstance(listing, FileNotFoundError):
            return []
        if isinstance(listing, Exception):
            raise listing
        return [(posixpath.basename(e["name"].rstrip("/")), _mtime(e)) for e in listing]

    if getattr(fs, "async_impl", False):
        from marin_exec.retry import overlapped

        async def one(path: str) -> Any:
            return await fs._ls(path, detail=True, refresh=True)

        return [entries(listing) for listing in overlapped(fs.loop, one, parents)]
    results = []
    for path in parents:
        try:
            results.append(entries(fs.ls(path, detail=True)))
        except FileNotFoundError:
            results.append([])
    return results


def _mtime(entry: dict[str, Any]) -> float | None:
    value = entry.get("mtime") or entry.get("updated") or entry.get("LastModified")
    if isinstance(value, (int, float)):
        return float(value)
    timestamp = getattr(value, "timestamp", None)  # a datetime (gcsfs, s3fs)
    if callable(timestamp):
        return float(timestamp())
    return None


def _parse_info(found: Any) -> dict[str, Any] | None:
    if not isinstance(found, tuple):
        return None  # missing, or unreadable: nothing to compare with
    try:
        info = json.loads(found[0])
    except ValueError:
        return None
    return info if isinstance(info, dict) else None


# -- comparing ------------------------------------------------------------------------------------------------


def _diff(old: dict[str, Any], new: dict[str, Any], sep: str = ": ") -> list[str]:
    lines = []
    for key in [*new, *(k for k in old if k not in new)]:
        a, b = old.get(key, _UNSET), new.get(key, _UNSET)
        if type(a) is type(b) and type(a) in (str, int, float, bool) and a == b:
            continue  # the common case, without encoding anything
        before, after = _shown(old, key), _shown(new, key)
        if before != after:
            lines.append(f"{key}{sep}{before} {ARROW} {after}")
    return lines


def _shown(values: dict[str, Any], key: str) -> str:
    if key not in values:
        return "unset"
    text = json.dumps(values[key], sort_keys=True, default=repr)
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
            name_hash = _name_hash(entry)
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


def _name_hash(dependency: Any) -> str:
    """``name-hash`` of a dependency entry: kept as is, or computed from a nested version dict."""
    if isinstance(dependency, dict):
        return f"{dependency.get('name')}-{hash_version(version_json(dependency))}"
    return str(dependency)


def _name_of(name_hash: str) -> str:
    return name_hash[:-7] if _HASHED.search(name_hash) else name_hash


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
