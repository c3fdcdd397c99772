"""Probes of marin-core 0.2.227 beyond building handles, for marin_lazy_golden.py (run with the 0.2.227 peer).

Plain ``StepSpec``s under Marin's ``StepRunner`` (their records, deps as ``{name}_{sha256[:8]}``, what happens to a
non-object return value), drift (``describe_drift`` and the warning a real re-run logs, ``expected_fingerprint``
at run time, a ``dev`` version rebuilding), strict fingerprinting, version/name validation, and which
``.artifact.json`` documents ``read_record`` / ``read_artifact`` / ``Artifact.raw_load`` accept.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from tests.golden import lazy_types as lt

GOOD_VERSIONS = ["2026.12.06", "2026.12.06.1", "2026.12.06.12", "0001.01.01", "dev", "alice-dev", "a-b-dev", "-dev"]
BAD_VERSIONS = [
    "", "v1", "2026.1.6", "2026-12-06", "2026.12.06.", "2026.12.06.x", "20261206", "DEV", "dev-alice", "2026.12.06/x",
    "/dev", "dev/", "a/../dev", "gs://b/dev", "s3:dev", " 2026.12.06", "2026.12.06 ",
]  # fmt: skip
NAMES = [
    "tokenize", "eval/report", "users/alice/train", "a b", "a:b", "a,b#c", "", "/abs", "trailing/", "a/../b",
    "gs://bucket/x", "x:y/z", "..", "a..b", "café",
]  # fmt: skip


def write_marker(**inputs: Any) -> None:
    out = inputs.get("out")
    if isinstance(out, str):
        os.makedirs(out, exist_ok=True)
        Path(out, "data.txt").write_text("done\n")


def materialise(value: Any, handles: dict[str, Any], out: Any) -> Any:
    if isinstance(value, str) and value == lt.OUT:
        return out
    if isinstance(value, lt.Dep):
        return handles[value.case]
    if isinstance(value, list):
        return [materialise(v, handles, out) for v in value]
    if isinstance(value, tuple):
        return tuple(materialise(v, handles, out) for v in value)
    if isinstance(value, dict):
        return {k: materialise(v, handles, out) for k, v in value.items()}
    return value


def with_changes(handle: Any, **changes: Any) -> Any:
    import dataclasses

    return dataclasses.replace(handle, **changes)


def output_files(path: str, norm: Any) -> dict[str, Any]:
    """Every file in ``path`` (not below it): the text of Marin's own files, the names of the rest."""
    files: dict[str, Any] = {}
    if not os.path.isdir(path):
        return files
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if os.path.isdir(full):
            continue
        if name.startswith(".executor_status.lock"):
            files[name] = "<lock>"
        elif name.startswith("."):
            files[name] = norm(Path(full).read_text())
        else:
            files[name] = "<data>"
    return files


def _error(e: BaseException) -> str:
    return f"{type(e).__name__}: {str(e).splitlines()[0]}"


class _Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def validation() -> dict[str, Any]:
    from marin.execution.artifact import is_mutable_version, validate_path_segment, validate_version

    def check(fn: Any, value: str) -> str:
        try:
            fn(value)
        except ValueError as e:
            return str(e)
        return "ok"

    every = [*GOOD_VERSIONS, *BAD_VERSIONS]
    versions = {v: {"result": check(validate_version, v), "mutable": is_mutable_version(v)} for v in every}
    return {"versions": versions, "names": {n: check(lambda x: validate_path_segment("name", x), n) for n in NAMES}}


def step_specs(prefix: str, norm: Any) -> dict[str, Any]:
    """Plain StepSpecs run by Marin's StepRunner: what each records, and what a non-object result does."""
    from dataclasses import dataclass

    from marin.execution.step_runner import StepRunner
    from marin.execution.step_spec import StepSpec

    @dataclass
    class Counts:
        rows: int
        shards: list[int]

    download = StepSpec(name="download", hash_attrs={"url": "https://x/y", "n": 3}, fn=lambda out: {"files": 3})
    tokenize = StepSpec(
        name="tokenize",
        deps=[download],
        hash_attrs={"tokenizer": "gpt2", "seq": [1, 2]},
        fn=lambda out: Counts(rows=5, shards=[1, 2]),
    )
    nothing = StepSpec(name="nothing", deps=[download, tokenize], hash_attrs={}, fn=lambda out: None)
    fixed = StepSpec(name="fixed", deps=[download], override_output_path="fixed/place", fn=lambda out: {"a": 1})
    StepRunner().run([nothing, fixed])
    entries = [
        {
            "name": s.name,
            "name_with_hash": s.name_with_hash,
            "hash_attrs": s.hash_attrs,
            "path": norm(s.output_path).removeprefix("{prefix}/"),
            "files": output_files(s.output_path, norm),
        }
        for s in (download, tokenize, nothing, fixed)
    ]
    non_object: dict[str, Any] = {}
    for label, value in {"int": 5, "list": [1, 2], "str": "s", "float": 0.5, "bool": True}.items():
        spec = StepSpec(name=f"returns_{label}", fn=lambda out, v=value: v)
        try:
            StepRunner().run([spec])
            outcome = "ok"
        except Exception as e:
            cause = e.__cause__.__cause__ if e.__cause__ is not None and e.__cause__.__cause__ is not None else e
            outcome = _error(cause)
        non_object[label] = {"outcome": norm(outcome), "files": output_files(spec.output_path, norm)}
    return {"stepspec_steps": entries, "stepspec_non_object_results": non_object}


def drift(prefix: str, norm: Any) -> dict[str, Any]:
    from marin.execution.artifact import FingerprintMismatchError
    from marin.execution.fingerprint import describe_drift
    from marin.execution.lazy import OUT, apply, run

    def handle(name: str, inputs: dict[str, Any], version: str = "2026.12.06") -> Any:
        return apply(name, write_marker, version=version, **materialise(inputs, {}, OUT))

    pairs = {}
    for label, (old, new) in lt.DRIFT_PAIRS.items():
        a, b = handle(label, old).fingerprint_payload(), handle(label, new).fingerprint_payload()
        pairs[label] = {
            "old_payload": norm(a),
            "new_payload": norm(b),
            "describe_drift": norm(describe_drift(a, b)),
            "deterministic": "0x" not in a,
        }

    captured = _Captured()
    logging.getLogger("marin").addHandler(captured)
    old, new = lt.DRIFT_PAIRS["one_field"]
    run(handle("drifty", old))
    captured.messages.clear()
    run(handle("drifty", new))
    warnings = [norm(m) for m in captured.messages if "drift" in m]
    pinned = with_changes(handle("drifty", new), expected_fingerprint=handle("drifty", new).fingerprint())
    try:
        run(pinned)
        pinned_outcome = "ok"
    except FingerprintMismatchError as e:
        pinned_outcome = _error(e)
    calls = []
    dev = apply("devcount", lambda out: calls.append(out), version="dev", out=OUT)
    run(dev)
    run(dev)
    logging.getLogger("marin").removeHandler(captured)
    return {
        "drift_pairs": pairs,
        "drift_run": {
            "warnings_on_rerun": warnings,
            "record_after_rerun": json.loads(Path(prefix, "drifty", "2026.12.06", ".artifact.json").read_text())[
                "fingerprint"
            ],
            "old_fingerprint": handle("drifty", old).fingerprint(),
            "new_fingerprint": handle("drifty", new).fingerprint(),
            "expected_fingerprint_at_run": norm(pinned_outcome),
            "dev_calls_in_two_runs": len(calls),
        },
    }


def strict() -> dict[str, Any]:
    from marin.execution.fingerprint import canonical_json, set_strict

    values = {**lt.APPLY_CASES["fallbacks"], "slotted": lt.Slotted(1)}
    values.pop("out")
    found = {}
    set_strict(True)
    try:
        for key, value in values.items():
            try:
                found[key] = canonical_json({key: value})
            except TypeError as e:
                found[key] = _error(e)
    finally:
        set_strict(False)
    return {"strict_mode": found}


# .artifact.json documents to hand to Marin's readers (a str is written as is).
RECORD_DOCUMENTS: dict[str, Any] = {
    "empty_object": {},
    "minimal_result": {"output_path": "x", "result": {"a": 1}},
    "result_list": {"result": [1, 2]},
    "result_int": {"result": 5},
    "result_str": {"result": "s"},
    "result_wrapped": {"result": {"marin_exec_value": [1, 2]}},
    "result_underscore_key": {"result": {"__value__": [1, 2]}},
    "config_list": {"config": [1]},
    "config_str": {"config": "x"},
    "deps_str": {"deps": "a@b"},
    "fingerprint_int": {"fingerprint": 123},
    "version_int": {"version": 1},
    "provenance_partial": {"provenance": {"tree_hash": "t"}},
    "provenance_full": {
        "provenance": {"tree_hash": "", "base_commit": "", "dirty": False, "branch": None, "built_by": "me"}
    },
    "provenance_extra_key": {
        "provenance": {"tree_hash": "", "base_commit": "", "dirty": False, "branch": None, "built_by": None, "x": 1}
    },
    "provenance_string": {"provenance": "me"},
    "extra_top_level_key": {"name": "n", "result": {"a": 1}, "marin_exec": {"v": 1}},
    "bare_payload": {"rows": 3, "names": ["a"]},
    "bare_list": [1, 2],
    "bare_int": 5,
    "bare_null": None,
    "not_json": "{not json",
    "result_type_other": {"result_type": "some.Other", "result": {"a": 1}},
    "result_type_artifact": {"result_type": "marin.execution.artifact.Artifact", "result": {"a": 1}},
}


def record_readers(prefix: str, norm: Any) -> dict[str, Any]:
    from marin.execution.artifact import Artifact, read_artifact, read_record
    from pydantic import BaseModel

    class Anything(BaseModel):
        model_config = {"extra": "allow"}

    class Counts(Artifact):
        a: int = 0

    found: dict[str, Any] = {}
    for label, document in RECORD_DOCUMENTS.items():
        path = f"{prefix}/record_probes/{label}"
        os.makedirs(path, exist_ok=True)
        text = document if isinstance(document, str) else json.dumps(document)
        Path(path, ".artifact.json").write_text(text)
        entry: dict[str, Any] = {"document": text}
        for reader, call in {
            "read_record": lambda p: read_record(p).model_dump(mode="json"),  # type: ignore[union-attr]
            "read_artifact": lambda p: read_artifact(p, Anything).model_dump(mode="json"),
            "Artifact.raw_load": lambda p: _loaded(Artifact.raw_load(p)),
            "subclass_raw_load": lambda p: _loaded(Counts.raw_load(p)),
        }.items():
            try:
                entry[reader] = {"ok": norm(call(path))}
            except Exception as e:
                entry[reader] = {"error": norm(_error(e))}
        found[label] = entry
    return {"record_readers": found, "executor_info_fallback": _executor_info_fallback(prefix, norm)}


def _loaded(artifact: Any) -> dict[str, Any]:
    dumped = artifact.model_dump(mode="json", exclude={"path"})
    return {"type": type(artifact).__name__, "fields": dumped}


def _executor_info_fallback(prefix: str, norm: Any) -> dict[str, Any]:
    """read_record on a directory with only a ``.executor_info``: an old Ray executor's, and the runner's stub."""
    from marin.execution.artifact import read_record

    infos = {
        "ray_executor": {"name": "old", "config": {"tokenizer": "gpt2"}, "output_path": "p", "dependencies": ["d"]},
        "step_runner_stub": {"executor_version": "step_runner", "name": "s", "config": {"fingerprint": "x"}},
        "marin_exec": {"executor_version": "marin_exec-0.1.0", "name": "m", "config": {"a": 1}},
    }
    found = {}
    for label, info in infos.items():
        path = f"{prefix}/info_probes/{label}"
        os.makedirs(path, exist_ok=True)
        Path(path, ".executor_info").write_text(json.dumps(info))
        record = read_record(path)
        found[label] = None if record is None else norm(record.model_dump(mode="json"))
    return found


def all_probes(handles: dict[str, Any], prefix: str, outside: str, norm: Any) -> dict[str, Any]:
    del handles, outside
    found: dict[str, Any] = {"validation": validation()}
    found.update(step_specs(prefix, norm))
    found.update(drift(prefix, norm))
    found.update(strict())
    found.update(record_readers(prefix, norm))
    return found
