"""The lazy handles of the golden file (tests/golden/lazy_marin_0227.json), built with marin_exec.lazy or with
marin-core 0.2.227's own package: benchmarks/peer/marin_lazy_golden.py's cases, written against an ``api`` module
(``marin_exec.lazy``, or Marin's ``marin.execution.lazy`` plus ``Artifact``) so both sides build the same graph.
Imports neither package itself; tests/test_lazy_golden.py and tests/lazy_peer_run.py use it."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path
from typing import Any

from tests.golden import lazy_types as lt

VERSIONS = {
    "raw": "2026.12.06",
    "scalars": "2026.12.06.1",
    "containers": "2026.12.06.12",
    "typed": "2025.01.31",
    "fallbacks": "2026.12.06",
    "tokenized": "2026.12.06",
    "train": "2026.12.07",
}
CALLS: list[str] = []  # what each write_marker call was handed (its inputs as text), in this process


def write_marker(**inputs: Any) -> None:
    out = inputs.get("out")
    CALLS.append(re.sub(r"0x[0-9a-f]+", "0x?", json.dumps(sorted(inputs.items()), default=_text)))
    if isinstance(out, str):
        os.makedirs(out, exist_ok=True)
        Path(out, "data.txt").write_text("done\n")


def _text(value: Any) -> Any:
    """What JSON cannot hold, as text the same in every process (a set's order is per process)."""
    if isinstance(value, (set, frozenset)):
        return sorted(map(repr, value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):  # its repr would show its sets unsorted
        return {
            "__class__": type(value).__qualname__,
            **{f.name: getattr(value, f.name) for f in dataclasses.fields(value)},
        }
    return repr(value)


def materialise(value: Any, handles: dict[str, Any], out: Any) -> Any:
    if isinstance(value, str) and value == lt.OUT:
        return out
    if isinstance(value, lt.Dep):
        return handles[value.case]
    if isinstance(value, (list, tuple)):
        return type(value)(materialise(v, handles, out) for v in value)
    if isinstance(value, dict):
        return {k: materialise(v, handles, out) for k, v in value.items()}
    return value


def stats_type(artifact: type) -> type:
    class Stats(artifact):  # type: ignore[valid-type, misc]
        rows: int
        names: list[str]
        ratio: float = 0.5

    Stats.__module__, Stats.__qualname__ = "golden_peer", "Stats"  # the golden file's result_type
    return Stats


def build(api: Any, artifact: type, prefix: str, outside: str) -> dict[str, Any]:
    """Every golden case's handle by case name (``scratch`` is a dependency only), with its data laid out."""
    handles: dict[str, Any] = {}
    for case, inputs in lt.APPLY_CASES.items():
        handles[case] = api.apply(case, write_marker, version=VERSIONS[case], **materialise(inputs, handles, api.OUT))
    handles["numpy"] = api.apply(
        "numpy", write_marker, version="2026.12.06", **materialise(lt.numpy_inputs(), handles, api.OUT)
    )
    stats = stats_type(artifact)

    def build_stats(ctx: Any) -> dict[str, Any]:
        return {
            "data": ctx.artifact_path(handles["tokenized"]),
            "out": ctx.output_path,
            "prefix": ctx.prefix,
            "region": ctx.region,
            "tpu": ctx.runtime_arg("tpu"),
            "cache": f"{ctx.prefix}/cache",
            "model": lt.model(),
        }

    handles["stats"] = api.ArtifactStep(
        name="stats",
        version="2026.12.06",
        artifact_type=stats,
        run=lambda config: stats(path=config["out"], rows=3, names=["a", "é"]),
        build_config=build_stats,
        deps=(handles["tokenized"],),
        runtime_args={"tpu": "v5litepod-16"},
    )
    handles["report"] = api.apply("eval/report", lambda out: artifact(path=out), version="2026.12.06", out=api.OUT)
    handles["scratch"] = api.apply("scratch", write_marker, version="dev", n=1, out=api.OUT)
    handles["exp"] = api.apply("exp", write_marker, version="alice-dev", base=handles["scratch"], out=api.OUT)
    os.makedirs(f"{outside}/external", exist_ok=True)
    Path(outside, "external", "part-0.jsonl").write_text("{}\n")
    handles["adopted"] = api.ArtifactStep.adopt(
        "adopted", "2026.01.01", f"{outside}/external", config={"tokenizer": "gpt2", "format": "jsonl"}
    )
    os.makedirs(f"{prefix}/legacy/tokenized-abc123", exist_ok=True)
    handles["adopted_rel"] = api.ArtifactStep.adopt("adopted_rel", "2026.01.02", "legacy/tokenized-abc123")
    handles["consumer"] = api.apply(
        "consumer", write_marker, version="2026.12.06", a=handles["adopted"], b=handles["adopted_rel"], out=api.OUT
    )
    os.makedirs(f"{prefix}/pins/existing", exist_ok=True)
    Path(prefix, "pins", "existing", ".executor_status").write_text("SUCCESS")
    handles["pinned"] = api.apply("pinned", write_marker, version="2026.12.06", pin="pins/existing", out=api.OUT)
    handles["pinned_abs"] = api.apply(
        "pinned_abs", write_marker, version="2026.12.06", pin=f"{outside}/pinned", out=api.OUT
    )
    handles["uses_pins"] = api.apply(
        "uses_pins", write_marker, version="2026.12.06", p=handles["pinned"], q=handles["pinned_abs"], out=api.OUT
    )
    plain = api.apply("expect", write_marker, version="2026.12.06", n=1, out=api.OUT)
    handles["expect"] = dataclasses.replace(plain, expected_fingerprint=plain.fingerprint())
    return handles


def terminals(handles: dict[str, Any]) -> list[Any]:
    return [handle for case, handle in handles.items() if case != "scratch"]
