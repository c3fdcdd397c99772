"""A stand-in shaped like marin-core 0.2.227's lazy ``ArtifactStep`` (its class name, module and fields), for tests
that need Marin's own handles without Marin installed. Its ``fingerprint_payload()`` is its own (a key marin_exec
never adds), so a test can tell Marin's payload from one marin_exec recomputed."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from marin_exec.fingerprint import fingerprint


@dataclasses.dataclass(frozen=True, eq=False)
class ArtifactStep:
    name: str
    version: str
    artifact_type: Any
    run: Any
    build_config: Any
    deps: tuple[Any, ...] = ()
    runtime_args: dict[str, Any] = dataclasses.field(default_factory=dict)
    override_path: str | None = None
    adopt_source: str | None = None
    adopt_config: dict[str, Any] | None = None
    expected_fingerprint: str | None = None

    def fingerprint_payload(self) -> str:
        return json.dumps({"marin_own": True, "name": self.name}, sort_keys=True)

    def fingerprint(self) -> str:
        return fingerprint(self.fingerprint_payload())

    def path(self, prefix: str | None = None) -> str:
        return f"{prefix}/{self.name}/{self.version}"


ArtifactStep.__module__ = "marin.execution.lazy"
