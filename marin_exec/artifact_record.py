"""Marin's ``ArtifactRecord`` (the ``.artifact.json`` of marin-core 0.2.227) as a plain dict: build, write, parse.

A record is a dict with exactly Marin's fields, in Marin's order (``RECORD_FIELDS``): name, version, fingerprint,
result_type, output_path, deps (``name@version`` for lazy steps, ``{name}_{sha256[:8]}`` for Marin's plain
StepSpecs), dep_paths, config, source, result, fingerprint_payload, provenance. ``record_text`` writes it as Marin's
``model_dump_json(indent=2)`` does (same bytes for the same values), and Marin's strict ``read_record`` /
``read_artifact`` / ``Artifact.raw_load`` accept it (checked by benchmarks/peer/check_records_227.py).

Marin's reader takes only an object or null as ``result``, so a step result that is not a plain object (a list, a
number, a string, a bool, or a dict that Marin could not hand to ``Artifact(path=..., **result)``: one with a
``path`` key, or one shaped like the wrapper) is stored as ``{"marin_exec_value": value}``; ``record_value`` unwraps
it. ``None`` stays null (Marin's "data artifact, no value").

API:

- ``build_record(*, name, output_path, result=None, version="", fingerprint="", result_type=MARIN_ARTIFACT_TYPE,
  deps=(), dep_paths=(), config=None, source=None, fingerprint_payload=None, provenance=None) -> dict``; ``result``
  and ``config`` are plain JSON data (``config`` an object or None), ``provenance`` a ``make_provenance(...)`` dict
  or None. Raises ``RecordError`` for a field Marin would refuse.
- ``make_provenance(*, built_by, created_at, command_line=(), tree_hash="", base_commit="", dirty=False,
  branch=None, git_remote=None) -> dict``: Marin's ``Provenance`` shape.
- ``record_text(record) -> str`` / ``parse_record(text, *, result_only=False) -> dict``: ``parse_record`` accepts
  Marin's records (lazy and StepRunner), a pre-record Marin payload (taken as the result, as Marin does), and, with
  ``result_only=True``, marin_exec's older result-only ``.artifact.json``. Raises ``RecordError`` on anything Marin's
  reader would reject.
- ``record_value(record) -> Any``: the step's result, unwrapped.
- ``is_result_only(info) -> bool``: whether an output's ``.executor_info`` (parsed, or None) says its
  ``.artifact.json`` is marin_exec's older result-only file. marin_exec marks record-writing outputs with
  ``RECORD_INFO_KEY: RECORD_INFO_VALUE`` in its ``.executor_info``; the file's keys never decide.

It reads and writes no files (the caller stores ``record_text`` and passes what it read) and knows no step types.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from marin_exec.plain import json_text

RECORD_FIELDS = (
    "name",
    "version",
    "fingerprint",
    "result_type",
    "output_path",
    "deps",
    "dep_paths",
    "config",
    "source",
    "result",
    "fingerprint_payload",
    "provenance",
)
PROVENANCE_FIELDS = (
    "tree_hash",
    "base_commit",
    "dirty",
    "branch",
    "built_by",
    "git_remote",
    "created_at",
    "command_line",
)
MARIN_ARTIFACT_TYPE = "marin.execution.artifact.Artifact"  # what Marin's default ``Artifact.raw_load`` accepts
VALUE_KEY = "marin_exec_value"
RECORD_INFO_KEY = "artifact_record"
RECORD_INFO_VALUE = 1
_OUR_EXECUTOR = "marin_exec"  # the ``executor_version`` prefix of marin_exec's .executor_info
_STRINGS = ("name", "version", "fingerprint", "result_type", "output_path")
_OPTIONAL_STRINGS = ("source", "fingerprint_payload")
_IDENTITY_FIELDS = ("name", "fingerprint", "result_type", "result")  # set by every genuine record (Marin's test)
_REQUIRED_PROVENANCE = PROVENANCE_FIELDS[:5]


class RecordError(ValueError):
    """An ``.artifact.json`` (or a record about to be written) that Marin's reader would reject."""


def make_provenance(
    *,
    built_by: str | None,
    created_at: str,
    command_line: Iterable[str] = (),
    tree_hash: str = "",
    base_commit: str = "",
    dirty: bool = False,
    branch: str | None = None,
    git_remote: str | None = None,
) -> dict[str, Any]:
    return {
        "tree_hash": tree_hash,
        "base_commit": base_commit,
        "dirty": dirty,
        "branch": branch,
        "built_by": built_by,
        "git_remote": git_remote,
        "created_at": created_at,
        "command_line": list(command_line),
    }


def wrap_result(value: Any) -> dict[str, Any] | None:
    """``value`` as Marin's ``result`` field holds it: itself when Marin can load it, else wrapped."""
    if value is None:
        return None
    if isinstance(value, dict) and "path" not in value and not _is_wrapped(value):
        return value
    return {VALUE_KEY: value}


def _is_wrapped(result: object) -> bool:
    return isinstance(result, dict) and len(result) == 1 and VALUE_KEY in result


def record_value(record: Mapping[str, Any]) -> Any:
    """The step result a record holds (``wrap_result`` undone)."""
    result = record.get("result")
    return result[VALUE_KEY] if isinstance(result, dict) and _is_wrapped(result) else result


def build_record(
    *,
    name: str,
    output_path: str,
    result: Any = None,
    version: str = "",
    fingerprint: str = "",
    result_type: str = MARIN_ARTIFACT_TYPE,
    deps: Iterable[str] = (),
    dep_paths: Iterable[str] = (),
    config: Mapping[str, Any] | None = None,
    source: str | None = None,
    fingerprint_payload: str | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    record = {
        "name": name,
        "version": version,
        "fingerprint": fingerprint,
        "result_type": result_type,
        "output_path": output_path,
        "deps": list(deps),
        "dep_paths": list(dep_paths),
        "config": dict(config) if isinstance(config, Mapping) else config,
        "source": source,
        "result": wrap_result(result),
        "fingerprint_payload": fingerprint_payload,
        "provenance": _with_defaults(provenance),
    }
    _check(record)
    return record


def _with_defaults(provenance: object) -> object:
    """As Marin reads a provenance: optional fields (git_remote, created_at, command_line) defaulted, others dropped."""
    if not isinstance(provenance, Mapping) or any(key not in provenance for key in _REQUIRED_PROVENANCE):
        return provenance  # left for _check to refuse
    known = {key: value for key, value in provenance.items() if key in PROVENANCE_FIELDS}
    return {**make_provenance(built_by=None, created_at=""), **known}


def record_text(record: Mapping[str, Any]) -> str:
    """The bytes Marin writes for this record (pydantic's ``model_dump_json(indent=2)``: non-ASCII kept)."""
    return json_text({field: record[field] for field in RECORD_FIELDS}, ensure_ascii=False)  # as json.dumps, faster


def parse_record(text: str | bytes, *, result_only: bool = False) -> dict[str, Any]:
    """A record from an ``.artifact.json``'s text, every missing field defaulted as Marin defaults it."""
    try:
        document = json.loads(text)
    except ValueError as error:
        raise RecordError(f"not JSON ({error})") from None
    if result_only:
        return build_record(name="", output_path="", result_type="", result=document)
    if not isinstance(document, dict):
        raise RecordError(f"a record is a JSON object, found {type(document).__name__}")
    record = {**build_record(name="", output_path="", result_type=""), **_known(document)}
    record["provenance"] = _with_defaults(record["provenance"])
    _check(record)
    if not any(record[field] for field in _IDENTITY_FIELDS) and set(document) - set(RECORD_FIELDS):
        record["result"] = document  # a value written before Marin had records: the whole file is the result
    return record


def is_result_only(info: Mapping[str, Any] | None) -> bool:
    """Whether ``.executor_info`` (parsed) marks an older marin_exec output (its ``.artifact.json`` = the result)."""
    if not isinstance(info, Mapping):
        return False
    marker = info.get("executor_version")
    ours = isinstance(marker, str) and marker.startswith(_OUR_EXECUTOR)
    return ours and info.get(RECORD_INFO_KEY) != RECORD_INFO_VALUE


def _known(document: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key in RECORD_FIELDS}


def _check(record: Mapping[str, Any]) -> None:
    for field in _STRINGS:
        _expect(isinstance(record[field], str), field, "a string", record[field])
    for field in _OPTIONAL_STRINGS:
        _expect(record[field] is None or isinstance(record[field], str), field, "a string or null", record[field])
    for field in ("deps", "dep_paths"):
        value = record[field]
        ok = isinstance(value, list) and all(isinstance(item, str) for item in value)
        _expect(ok, field, "a list of strings", value)
    for field in ("config", "result"):
        _expect(record[field] is None or isinstance(record[field], dict), field, "an object or null", record[field])
    provenance = record["provenance"]
    if provenance is not None:
        ok = isinstance(provenance, dict) and all(key in provenance for key in _REQUIRED_PROVENANCE)
        _expect(ok, "provenance", f"null or an object with {', '.join(_REQUIRED_PROVENANCE)}", provenance)


def _expect(ok: bool, field: str, what: str, found: object) -> None:
    if not ok:
        shown = repr(found) if len(repr(found)) <= 60 else f"{repr(found)[:57]}..."
        raise RecordError(f"field {field!r} must be {what}, found {shown}")
