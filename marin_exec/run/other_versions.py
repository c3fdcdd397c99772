"""Why a named step (``{prefix}/{name}/{version}``, DESIGN §4b) will run: which other versions of its name exist
beside it, and what today's recipe changes from the most recent of them (its recorded fingerprint payload, field by
field as Marin's ``describe_drift`` says it).

``other_version_lines(specs)`` costs one listing per ``{prefix}/{name}`` directory and one batched read of the
``.artifact.json`` records of at most ``MAX_READ`` other versions per step (the most recently modified; a local
listing stats each), the record
marin_exec and Marin both write. Read-only; ``why`` asks it only for named steps that will run and never ran.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from marin_exec.run.earlier import list_dirs, newest
from marin_exec.status.status import join
from marin_exec.storage.protocol import json_object
from marin_exec.storage.store import read_many

if TYPE_CHECKING:
    from marin_exec.compile.step_spec import StepSpec

MAX_READ = 4  # other versions whose records are read, per step
MAX_NAMED = 3  # other versions named in the line
MAX_CHANGES = 3  # changed fields shown


def other_version_lines(specs: Sequence[StepSpec]) -> list[str]:
    """The why-line of each named step that will run and never ran at its own path."""
    places = [posixpath.split(spec.output_path.rstrip("/")) for spec in specs]
    listings = list_dirs(sorted({parent for parent, _ in places}), every=True)
    candidates: list[list[str]] = []  # per step, every other version, most recently modified first
    for parent, own in places:
        found = [(f"{parent}/{entry}", mtime) for entry, mtime in listings.get(parent, []) if _is_version(entry, own)]
        candidates.append([path for path, _ in newest(found, len(found))][::-1])
    paths = list(dict.fromkeys(path for found in candidates for path in found[:MAX_READ]))
    records = dict(zip(paths, map(json_object, read_many([join(p, ".artifact.json") for p in paths])), strict=True))
    return [_line(spec, found, records) for spec, found in zip(specs, candidates, strict=True)]


def _is_version(entry: str, own: str) -> bool:
    return entry != own and not entry.startswith(".")


def _line(spec: StepSpec, found: list[str], records: dict[str, dict[str, Any] | None]) -> str:
    if not found:
        return "never ran"
    versions = [posixpath.basename(path) for path in found]
    more = len(versions) - MAX_NAMED
    listed = ", ".join(versions[:MAX_NAMED]) + (f" and {more} more" if more > 0 else "")
    built = [(path, record) for path, record in ((p, records.get(p)) for p in found) if record is not None]
    if not built:
        return f"never ran at this version; other versions of {spec.name} without a readable record: {listed}"
    path, record = max(built, key=lambda item: (_created(item[1]), item[0]))
    other = f"{spec.name}@{posixpath.basename(path)}"
    recorded, now = record.get("fingerprint_payload"), spec.recipe_payload
    if not isinstance(recorded, str) or now is None:
        return f"never ran at this version; other versions: {listed} ({other} records no recipe to compare)"
    from marin_exec.fingerprint import describe_drift

    changes = describe_drift(recorded, now)
    if not changes:
        return f"never ran at this version; {other} was built from the same recipe (other versions: {listed})"
    shown = "; ".join(changes[:MAX_CHANGES]) + ("; …" if len(changes) > MAX_CHANGES else "")
    return f"never ran at this version; recipe changed since {other}: {shown} (other versions: {listed})"


def _created(record: dict[str, Any]) -> str:
    provenance = record.get("provenance")
    created = provenance.get("created_at") if isinstance(provenance, dict) else None
    return created if isinstance(created, str) else ""
