"""The earlier outputs of steps: for many ``(name, output_path)`` pairs at once, the most recent other output
``{dir}/{name}-??????`` beside each path and its recorded ``.executor_info``.

One listing per parent directory (``os.scandir`` locally, overlapped ``ls`` on async object stores) and one
``read_many`` for every candidate's ``.executor_info``, so a 10,000-step plan costs a few hundred listings and
one batched round of reads. Read-only; it compares nothing (``why`` does) and never lists the whole prefix.
"""

from __future__ import annotations

import dataclasses
import os
import posixpath
import re
from collections.abc import Callable, Collection, Sequence
from typing import Any

from marin_exec.status.status import join
from marin_exec.status.step_status import INFO_FILENAME
from marin_exec.storage.protocol import json_object, strip_protocol
from marin_exec.storage.store import read_many

_HASHED = re.compile(r"-[0-9a-f]{6}$")
#: At most this many earlier outputs of one step have their .executor_info read (the most recently modified ones).
MAX_READ = 4
#: ... and of a step whose earlier output is the closest one (a step sharing its name with others of the plan).
MAX_READ_CLOSEST = 256
#: How close a recorded ``.executor_info`` is to a step (higher is closer), for ``find_earlier``'s ``closest``.
Closeness = Callable[[dict[str, Any]], tuple[Any, ...]]


@dataclasses.dataclass(frozen=True)
class Earlier:
    """The most recent earlier output of a step: its path, ``name-hash`` and recorded ``.executor_info`` (None when
    it has none, e.g. it never succeeded)."""

    output_path: str
    name_with_hash: str
    info: dict[str, Any] | None


def find_earlier(
    steps: Sequence[tuple[str, str]],
    *,
    exclude: Collection[str] = (),
    closest: Sequence[Closeness | None] = (),
) -> list[Earlier | None]:
    """For each ``(name, output_path)``, the most recent other output ``{name}-??????`` in the same directory,
    with its ``.executor_info``; None where there is none (or the path is pinned and has no hash suffix).

    Most recent: the latest recorded ``end_time``, else the latest modification time, else the last name; of a step
    with more than MAX_READ earlier outputs only the MAX_READ last modified are read. Costs one listing per parent
    directory and one batched read of the candidates' ``.executor_info``.

    Paths in ``exclude`` (other steps' outputs in today's plan) are never an earlier output. Where ``closest[i]``
    is given, step i's earlier output is the one whose info it rates closest (then the most recent), of up to
    MAX_READ_CLOSEST: steps that share a name tell their own earlier outputs from their siblings' this way.
    """
    wanted: list[tuple[str, str, str] | None] = []  # (parent, stem, own basename) per step
    for name, output_path in steps:
        parent, base = posixpath.split(output_path.rstrip("/"))
        stem = posixpath.basename(name)
        ok = base.startswith(stem + "-") and _HASHED.search(base) and len(base) == len(stem) + 7
        wanted.append((parent, stem, base) if ok else None)
    listings = list_dirs(sorted({w[0] for w in wanted if w is not None}))
    by_stem: dict[str, dict[str, list[tuple[str, float | None]]]] = {}  # parent -> stem -> (entry, mtime)
    for parent, entries in listings.items():
        index = by_stem[parent] = {}
        for entry, mtime in entries:
            if _HASHED.search(entry):
                index.setdefault(entry[:-7], []).append((entry, mtime))
    candidates: list[list[tuple[str, float | None]]] = []
    for i, w in enumerate(wanted):
        if w is None:
            candidates.append([])
            continue
        parent, stem, own = w
        entries = by_stem.get(parent, {}).get(stem, [])
        found = [(f"{parent}/{e}", mtime) for e, mtime in entries if e != own]
        if exclude:
            found = [(path, mtime) for path, mtime in found if path not in exclude]
        limit = MAX_READ if i >= len(closest) or closest[i] is None else MAX_READ_CLOSEST
        candidates.append(found if len(found) <= limit else newest(found, limit))
    paths = list(dict.fromkeys(path for found in candidates for path, _ in found))  # siblings share candidates
    info_of = dict(zip(paths, map(json_object, read_many([join(path, INFO_FILENAME) for path in paths])), strict=True))
    results: list[Earlier | None] = []
    for i, ((name, _), found) in enumerate(zip(steps, candidates, strict=True)):
        options = [(path, mtime, info_of[path]) for path, mtime in found]
        results.append(_most_recent(name, options, closest[i] if i < len(closest) else None))
    return results


def newest(found: list[tuple[str, float | None]], limit: int) -> list[tuple[str, float | None]]:
    """The ``limit`` most recently modified of many candidates (local listings carry no times: stat them)."""
    timed = [(path, _local_mtime(path) if mtime is None else mtime) for path, mtime in found]
    return sorted(timed, key=lambda c: (c[1] or 0.0, c[0]))[-limit:]


def _most_recent(
    name: str, options: list[tuple[str, float | None, dict[str, Any] | None]], closest: Closeness | None = None
) -> Earlier | None:
    if not options:
        return None
    with_info = [o for o in options if o[2] is not None] or options
    if len(with_info) > 1:  # local listings carry no times (a stat per entry): look them up only to choose
        with_info = [(path, _local_mtime(path) if mtime is None else mtime, info) for path, mtime, info in with_info]

    def recency(option: tuple[str, float | None, dict[str, Any] | None]) -> tuple[str, float, str]:
        path, mtime, info = option
        end = info.get("end_time") if info is not None else None
        return (end if isinstance(end, str) else "", mtime or 0.0, path)

    def rank(option: tuple[str, float | None, dict[str, Any] | None]) -> tuple[Any, ...]:
        info = option[2]
        return (closest(info) if closest is not None and info is not None else (), *recency(option))

    path, _, info = max(with_info, key=rank)
    return Earlier(path, f"{name}{path[-7:]}", info)


def list_dirs(parents: Sequence[str], *, every: bool = False) -> dict[str, list[tuple[str, float | None]]]:
    """Entry names and modification times of each directory (missing ones are empty), overlapped where async; local
    listings keep only names ending in a ``-??????`` suffix unless ``every``."""
    local = [p for p in parents if strip_protocol(p)[0] in ("file", "local")]
    found = {p: _scan_local(strip_protocol(p)[1], every) for p in local}
    by_protocol: dict[str, list[str]] = {}
    for p in parents:
        if p not in found:
            by_protocol.setdefault(strip_protocol(p)[0], []).append(p)
    for protocol, group in by_protocol.items():
        found.update(zip(group, _list_remote(protocol, group), strict=True))
    return found


def _scan_local(directory: str, every: bool) -> list[tuple[str, float | None]]:
    try:
        with os.scandir(directory) as entries:
            return [(e.name, None) for e in entries if every or (len(e.name) > 7 and e.name[-7] == "-")]
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
    if len(parents) > 1 and not _exists_under(fs, protocol, parents):
        return [[] for _ in parents]  # a prefix nothing ran under yet: one listing, not one per directory

    def entries(listing: Any) -> list[tuple[str, float | None]]:
        if isinstance(listing, FileNotFoundError):
            return []
        if isinstance(listing, Exception):
            raise listing
        return [(posixpath.basename(e["name"].rstrip("/")), _mtime(e)) for e in listing]

    if getattr(fs, "async_impl", False):
        from marin_exec.storage.retry import overlapped

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


def _exists_under(fs: Any, protocol: str, parents: Sequence[str]) -> bool:
    """Whether anything exists under the deepest directory common to ``parents`` (one listing)."""
    common = posixpath.commonpath([strip_protocol(p)[1] for p in parents])
    try:
        return bool(fs.ls(f"{protocol}://{common}", detail=False, refresh=True))
    except FileNotFoundError:
        return False
    except Exception:  # cannot tell: list each directory, which says what is wrong
        return True


def _mtime(entry: dict[str, Any]) -> float | None:
    value = entry.get("mtime") or entry.get("updated") or entry.get("LastModified")
    if isinstance(value, (int, float)):
        return float(value)
    timestamp = getattr(value, "timestamp", None)  # a datetime (gcsfs, s3fs)
    if callable(timestamp):
        return float(timestamp())
    return None
