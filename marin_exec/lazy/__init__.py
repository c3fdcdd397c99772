"""Marin's lazy artifact API (marin-core 0.2.227's ``marin.execution.lazy``, ``artifact``, ``build_context`` and
``marin.experiment.cli``) on marin_exec: an experiment written for Marin runs here with one import changed.

Handles are lowered onto marin_exec's named StepSpecs (``{prefix}/{name}/{version}``, Marin's fingerprints and
``.artifact.json`` records) and run by marin_exec's runner. Handles made by Marin's own package are accepted too,
recognised by shape (``shapes``). Imported only when used (``import marin_exec`` does not load it); the names are
loaded on first access, so ``kind`` (the foreign-step door's entry) needs neither pydantic nor click.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Artifact": "artifact",
    "ArtifactRecord": "artifact",
    "ArtifactTypeMismatchError": "artifact",
    "FingerprintMismatchError": "artifact",
    "read_record": "artifact",
    "read_artifact": "artifact",
    "write_artifact": "artifact",
    "write_record": "artifact",
    "result_type_name": "artifact",
    "is_mutable_version": "artifact",
    "validate_version": "artifact",
    "ArtifactStep": "handles",
    "StepContext": "context",
    "apply": "handles",
    "OUT": "handles",
    "materialized_config": "handles",
    "artifact_identity": "handles",
    "BuildContext": "build_context",
    "VersionCodex": "build_context",
    "build_context": "build_context",
    "current_build_context": "build_context",
    "resolve_version": "build_context",
    "register_fingerprint": "lowering",
    "lower": "lowering",
    "run": "lowering",
    "resolve": "lowering",
    "remote": "remote_call",
    "RemoteCallable": "remote_call",
    "build_options": "cli",
    "build_options_with_runner": "cli",
    "experiment_main": "cli",
}


def __dir__() -> list[str]:
    return sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'marin_exec.lazy' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"marin_exec.lazy.{module}"), name)
    globals()[name] = value
    return value
