"""Artifacts and records with Marin's signatures (``marin.execution.artifact`` of marin-core 0.2.227), for code that
does not install Marin: ``Artifact`` (a pydantic model with a ``path`` and value fields), ``ArtifactRecord``,
``read_record``/``write_record``/``read_artifact``/``write_artifact``, version and name validation.

The bytes are marin_exec's ``artifact_record`` module's (Marin's exact record text); the rules are Marin's: a missing
``.artifact.json`` falls back to an older ``.executor_info`` (but never to the stub Marin's runner writes when it
schedules a step), a pre-record payload is taken whole as the result, a result of another type refuses to load.
Needs pydantic (imported here, with a one-line error when absent).
"""

from __future__ import annotations

import functools
import json
import os
from typing import Any, Self, TypeVar
from urllib.parse import urlparse

from marin_exec.artifact_record import MARIN_ARTIFACT_TYPE, RECORD_FIELDS, build_record, parse_record, record_text
from marin_exec.errors import FingerprintMismatchError as FingerprintMismatchError
from marin_exec.lazy.requires import require
from marin_exec.named_versions import CALVER_RE
from marin_exec.named_versions import is_mutable_version as is_mutable_version
from marin_exec.storage.store import store_for

require("pydantic", "pydantic>=2", "artifacts and records")  # absent: a one-line ImportError naming it

from pydantic import BaseModel, ConfigDict, Field  # noqa: E402

RECORD_FILENAME = ".artifact.json"
INFO_FILENAME = ".executor_info"
STEP_RUNNER_STUB = "step_runner"  # ``executor_version`` of the .executor_info Marin's runner writes at schedule time
M = TypeVar("M", bound=BaseModel)


class ArtifactTypeMismatchError(Exception):
    """A record written for one artifact class, loaded as another (the value type changed under a reused version)."""


def result_type_name(artifact_type: type) -> str:
    """``module.Qualname`` of an artifact class, as records name it; this module's ``Artifact`` is named as Marin's,
    so a record is the same whichever package wrote it."""
    if artifact_type is Artifact:
        return MARIN_ARTIFACT_TYPE
    return f"{artifact_type.__module__}.{artifact_type.__qualname__}"


class Provenance(BaseModel):
    tree_hash: str
    base_commit: str
    dirty: bool
    branch: str | None
    built_by: str | None
    git_remote: str | None = None
    created_at: str = ""
    command_line: list[str] = Field(default_factory=list)


class ArtifactRecord(BaseModel):
    """The ``.artifact.json`` next to an output; every field defaulted, as Marin's."""

    name: str = ""
    version: str = ""
    fingerprint: str = ""
    result_type: str = ""
    output_path: str = ""
    deps: list[str] = Field(default_factory=list)
    dep_paths: list[str] = Field(default_factory=list)
    config: dict[str, Any] | None = None
    source: str | None = None
    result: dict[str, Any] | None = None
    fingerprint_payload: str | None = None
    provenance: Provenance | None = None


class Artifact(BaseModel):
    """A built output: its ``path`` plus the value fields a subclass declares (stored as the record's ``result``)."""

    model_config = ConfigDict(extra="allow", arbitrary_types_allowed=True)

    path: str = ""

    @functools.cached_property
    def record(self) -> ArtifactRecord | None:
        return read_record(self.path)

    def result_payload(self) -> dict[str, Any] | None:
        """The declared fields but ``path`` as JSON data, or None when the class declares none."""
        keys = {name for name in type(self).model_fields if name != "path"}
        return (self.model_dump(mode="json", include=keys) or None) if keys else None

    @classmethod
    def raw_load(cls, source: str) -> Self:
        """A handle on ``source`` with the value fields its record holds; no record: the path alone (adopted or
        pinned data). A record of another artifact class raises ``ArtifactTypeMismatchError``."""
        record = read_record(source)
        if record is not None and record.result_type and record.result_type != result_type_name(cls):
            raise ArtifactTypeMismatchError(
                f"{source}: built as {record.result_type}, loaded as {result_type_name(cls)}; the artifact type "
                "changed under the same version: bump the version"
            )
        return cls(path=source, **((record.result if record is not None else None) or {}))


def is_relative(path: str) -> bool:
    """Neither a URL (any scheme, as urlparse reads one) nor an absolute path: it lives under the prefix."""
    return not urlparse(path).scheme and not path.startswith("/")


def prefix_join(prefix: str, relative: str) -> str:
    return f"{prefix.rstrip('/')}/{relative.lstrip('/')}"


def current_prefix() -> str:
    prefix = os.environ.get("MARIN_PREFIX")
    if not prefix:
        raise ValueError("no output prefix: set MARIN_PREFIX (or pass --prefix to executor_main)")
    return prefix.rstrip("/")


def _located(output_path: str) -> str:
    return prefix_join(current_prefix(), output_path) if is_relative(output_path) else output_path.rstrip("/")


def _read(path: str) -> str | None:
    found = store_for(path).read(path)
    return None if found is None else found[0].decode()


def read_record(output_path: str) -> ArtifactRecord | None:
    """The record at ``{output_path}/.artifact.json`` (a relative path is under the prefix), else one made from an
    older ``.executor_info``, else None. A document Marin's reader refuses raises ``pydantic.ValidationError``."""
    base = _located(output_path)
    text = _read(f"{base}/{RECORD_FILENAME}")
    if text is not None:
        ArtifactRecord.model_validate_json(text)  # Marin's strictness: refuse what it refuses, its way
        return ArtifactRecord.model_validate(parse_record(text))
    info = _read(f"{base}/{INFO_FILENAME}")
    if info is None:
        return None
    found = json.loads(info)
    if found.get("executor_version") == STEP_RUNNER_STUB:
        return None
    return ArtifactRecord(
        name=found.get("name") or "",
        config=found.get("config"),
        output_path=found.get("output_path") or "",
        deps=list(found.get("dependencies") or []),
    )


def write_record(record: ArtifactRecord) -> None:
    """Write ``record`` as ``{record.output_path}/.artifact.json`` (Marin's bytes)."""
    fields = record.model_dump(mode="json")
    path = f"{record.output_path.rstrip('/')}/{RECORD_FILENAME}"
    store_for(path).write(path, record_text({key: fields[key] for key in RECORD_FIELDS}).encode())


def read_artifact(output_path: str, schema: type[M]) -> M:
    """The record's ``result`` validated as ``schema`` (a pydantic model); FileNotFoundError when there is none."""
    if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
        raise TypeError(f"read_artifact: schema must be a pydantic BaseModel subclass, found {schema!r}")
    record = read_record(output_path)
    if record is None or record.result is None:
        raise FileNotFoundError(f"no artifact value at {_located(output_path)}: its record has no result")
    return schema.model_validate(record.result, context={"artifact_load": True})  # type: ignore[no-any-return]


def write_artifact(value: object, output_path: str) -> None:
    """A minimal record holding ``value`` (a pydantic model, dataclass or JSON object) as its result."""
    import dataclasses

    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    record = build_record(name="", output_path=output_path, result_type="", result=value)
    write_record(ArtifactRecord.model_validate(record))


def validate_path_segment(label: str, value: str) -> None:
    """Marin's rule for a name or version: one non-empty path segment without a scheme or ``..``."""
    if not value:
        raise ValueError(f"{label} is empty")
    if "://" in value or urlparse(value).scheme:
        raise ValueError(f"{label} {value!r} has a URL scheme; give a plain path segment")
    if ".." in value:
        raise ValueError(f"{label} {value!r} contains '..'")
    if value.startswith("/") or value.endswith("/"):
        raise ValueError(f"{label} {value!r} starts or ends with '/'")


def validate_version(version: str) -> None:
    """A calendar version ``YYYY.MM.DD[.N]`` or a mutable ``dev`` / ``<label>-dev``; else ValueError."""
    validate_path_segment("version", version)
    if not (is_mutable_version(version) or CALVER_RE.match(version)):
        raise ValueError(
            f"version {version!r} is neither a calendar version YYYY.MM.DD (or YYYY.MM.DD.N) nor 'dev' / '<label>-dev'"
        )
