"""Checks that marin-core 0.2.227's own readers accept the ``.artifact.json`` records marin_exec writes.

Run with the 0.2.227 peer (see install_peer_227.sh); tests/test_artifact_record.py runs it as a slow test:

    /work/peer-227/bin/python benchmarks/peer/check_records_227.py

For every kind of step result (none, an object, a list, a number, a string, a bool, an object with a ``path`` key,
one shaped like marin_exec's wrapper) and record shape (bare, with provenance, a full lazy record, an adopted one),
it writes the record with marin_exec.artifact_record (imported from this checkout), then
reads it with Marin's ``read_record``, ``read_artifact`` and ``Artifact.raw_load`` and with marin_exec's
``parse_record``, and finally lets a Marin lazy step consume one such output through ``ArtifactStep.adopt``. Prints
one line per check; exit 1 if any failed.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))  # marin_exec from this checkout (its record module imports its JSON writer)

import marin_exec.artifact_record as ar  # noqa: E402

VALUES: dict[str, Any] = {
    "none": None,
    "object": {"rows": 3, "names": ["a", "é"]},
    "empty_object": {},
    "list": [1, 2, {"a": None}],
    "int": 5,
    "float": 0.25,
    "str": "text",
    "bool": False,
    "object_with_path": {"path": "/elsewhere", "n": 1},
    "wrapper_shaped": {ar.VALUE_KEY: 1},
}
PROVENANCE = ar.make_provenance(built_by="me", created_at="2026-12-06T12:00:00", command_line=["x.py", "--run"])


def records(root: str) -> dict[str, dict[str, Any]]:
    found = {}
    for label, value in VALUES.items():
        found[f"bare/{label}"] = ar.build_record(name=label, output_path=f"{root}/bare/{label}", result=value)
        found[f"full/{label}"] = ar.build_record(
            name=f"full-{label}",
            version="2026.12.06",
            fingerprint="0123abcd",
            output_path=f"{root}/full/{label}",
            deps=["raw@2026.12.06", "tok-0a1b2c"],
            dep_paths=[f"{root}/raw/2026.12.06", f"{root}/tok-0a1b2c"],
            config={"lr": 0.1, "data": f"{root}/raw/2026.12.06"},
            fingerprint_payload='{"data": "raw@2026.12.06", "lr": 0.1}',
            provenance=PROVENANCE,
            result=value,
        )
    found["adopted"] = ar.build_record(
        name="adopted",
        version="2026.01.01",
        output_path=f"{root}/adopted",
        source="/data/elsewhere",
        config={"tokenizer": "gpt2"},
        provenance=PROVENANCE,
    )
    found["untyped"] = ar.build_record(name="untyped", output_path=f"{root}/untyped", result_type="", result={"a": 1})
    return found


def check(label: str, record: dict[str, Any]) -> list[str]:
    from marin.execution.artifact import Artifact, ArtifactRecord, read_artifact, read_record
    from pydantic import BaseModel

    class Anything(BaseModel):
        model_config = {"extra": "allow"}

    path = record["output_path"]
    os.makedirs(path, exist_ok=True)
    text = ar.record_text(record)
    Path(path, ".artifact.json").write_text(text)
    problems = []
    marin = read_record(path)
    if marin is None or marin.model_dump(mode="json") != record:
        problems.append(f"read_record gave {marin!r}")
    if ArtifactRecord.model_validate(record).model_dump_json(indent=2) != text:
        problems.append("Marin would write other bytes for the same record")
    if record["result"] is not None and read_artifact(path, Anything).model_dump() != record["result"]:
        problems.append("read_artifact differs")
    loaded = Artifact.raw_load(path)
    if loaded.model_dump(exclude={"path"}) != (record["result"] or {}) or loaded.path != path:
        problems.append(f"Artifact.raw_load gave {loaded!r}")
    ours = ar.parse_record(text)
    if ours != record or ar.record_value(ours) != ar.record_value(record):
        problems.append(f"parse_record gave {ours!r}")
    if label.startswith(("bare/", "full/")) and ar.record_value(ours) != VALUES[label.split("/", 1)[1]]:
        problems.append(f"value {ar.record_value(ours)!r}")
    return problems


def consume_with_marin(root: str, record: dict[str, Any]) -> list[str]:
    """A Marin lazy step that depends on a marin_exec output (adopted) runs and receives its path."""
    from marin.execution.lazy import OUT, ArtifactStep, apply, run

    seen: list[str] = []
    adopted = ArtifactStep.adopt("from_marin_exec", "2026.12.06", record["output_path"])
    consumer = apply("consumer", lambda data, out: seen.append(data), version="2026.12.06", data=adopted, out=OUT)
    (artifact,) = run(consumer)
    ok = seen == [record["output_path"]] and artifact.path == f"{root}/consumer/2026.12.06"
    return [] if ok else [f"consumer saw {seen!r}, loaded {artifact!r}"]


def main() -> int:
    root = tempfile.mkdtemp(prefix="marin-records-227-")
    os.environ["MARIN_PREFIX"] = root
    failures = 0
    for label, record in records(root).items():
        problems = check(label, record)
        failures += bool(problems)
        print(f"{'FAIL' if problems else 'ok  '} {label}" + (f": {'; '.join(problems)}" if problems else ""))
    problems = consume_with_marin(root, records(root)["full/list"])
    failures += bool(problems)
    print(f"{'FAIL' if problems else 'ok  '} a Marin step consumes an adopted marin_exec output {problems or ''}")
    print(f"{failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
