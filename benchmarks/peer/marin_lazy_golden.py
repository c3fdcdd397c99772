"""Records what marin-core 0.2.227 does with lazy artifacts, as golden data for marin_exec's tests.

Run it with the 0.2.227 peer's interpreter (see install_peer_227.sh), never with the project venv:

    /work/peer-227/bin/python benchmarks/peer/marin_lazy_golden.py          # rewrite tests/golden/lazy_marin_0227.json
    /work/peer-227/bin/python benchmarks/peer/marin_lazy_golden.py --check  # exit 1 if Marin now says otherwise

It builds Marin lazy handles (``apply`` with the literal inputs of tests/golden/lazy_types.py, hand-written
``ArtifactStep``s pulling ``ctx.prefix``/``ctx.region``/``ctx.runtime_arg``, dev and ``<label>-dev`` versions,
``.N`` versions, ``adopt``, pins, a value artifact and a path-only one, a registered encoder) and plain
``StepSpec``s, RUNS them with Marin under a temporary prefix, and records for each: name, version, output path,
fingerprint, fingerprint payload, and every file Marin wrote next to the output. Also: ``describe_drift`` and the
run-time drift warning for changed configs, strict mode, version/name validation, and what ``read_record`` /
``read_artifact`` / ``Artifact.raw_load`` accept. Paths are written with ``{prefix}`` / ``{outside}`` in place of the
temporary directories, times and argv as placeholders, memory addresses as ``0x?``: the file is the same on
every run. Imports no marin_exec; CI reads only the JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import shutil
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import lazy_probes  # noqa: E402  (benchmarks/peer/lazy_probes.py)
from lazy_probes import materialise, output_files, with_changes, write_marker  # noqa: E402

from tests.golden import lazy_types as lt  # noqa: E402

DEFAULT_OUTPUT = REPO_ROOT / "tests" / "golden" / "lazy_marin_0227.json"
VERSIONS = {
    "raw": "2026.12.06",
    "scalars": "2026.12.06.1",
    "containers": "2026.12.06.12",
    "typed": "2025.01.31",
    "fallbacks": "2026.12.06",
    "tokenized": "2026.12.06",
    "train": "2026.12.07",
}


class Normaliser:
    """Replaces the run's temporary directories, times and addresses so the golden file is stable."""

    def __init__(self, prefix: str, outside: str) -> None:
        self.prefix, self.outside = prefix, outside

    def text(self, value: str) -> str:
        value = value.replace(self.prefix, "{prefix}").replace(self.outside, "{outside}")
        value = re.sub(r'"created_at": "[^"]*"', '"created_at": "<created_at>"', value)
        value = re.sub(r'"command_line": \[[^\]]*\]', '"command_line": [\n      "<argv>"\n    ]', value)
        return re.sub(r"0x[0-9a-fA-F]+", "0x?", value)

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self(v) for v in value]
        if isinstance(value, dict):
            out = {k: self(v) for k, v in value.items()}
            if out.get("created_at") and "command_line" in out:  # a captured Provenance
                out["created_at"], out["command_line"] = "<created_at>", ["<argv>"]
            return out
        return value


def build_handles(prefix: str, outside: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Every handle of the run, by case name, and the errors Marin raised building the invalid ones."""
    from marin.execution.artifact import Artifact
    from marin.execution.lazy import OUT, ArtifactStep, apply

    handles: dict[str, Any] = {}
    for case, inputs in lt.APPLY_CASES.items():
        handles[case] = apply(case, write_marker, version=VERSIONS[case], **materialise(inputs, handles, OUT))
    numpy_inputs = materialise(lt.numpy_inputs(), handles, OUT)
    handles["numpy"] = apply("numpy", write_marker, version="2026.12.06", **numpy_inputs)

    class Stats(Artifact):
        rows: int
        names: list[str]
        ratio: float = 0.5

    Stats.__module__, Stats.__qualname__ = "golden_peer", "Stats"  # a stable result_type

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

    handles["stats"] = ArtifactStep(
        name="stats",
        version="2026.12.06",
        artifact_type=Stats,
        run=lambda config: Stats(path=config["out"], rows=3, names=["a", "é"]),
        build_config=build_stats,
        deps=(handles["tokenized"],),
        runtime_args={"tpu": "v5litepod-16"},
    )
    handles["report"] = apply("eval/report", lambda out: Artifact(path=out), version="2026.12.06", out=OUT)
    handles["scratch"] = apply("scratch", write_marker, version="dev", n=1, out=OUT)
    handles["exp"] = apply("exp", write_marker, version="alice-dev", base=handles["scratch"], out=OUT)
    os.makedirs(f"{outside}/external", exist_ok=True)
    Path(outside, "external", "part-0.jsonl").write_text("{}\n")
    handles["adopted"] = ArtifactStep.adopt(
        "adopted", "2026.01.01", f"{outside}/external", config={"tokenizer": "gpt2", "format": "jsonl"}
    )
    os.makedirs(f"{prefix}/legacy/tokenized-abc123", exist_ok=True)
    handles["adopted_rel"] = ArtifactStep.adopt("adopted_rel", "2026.01.02", "legacy/tokenized-abc123")
    handles["consumer"] = apply(
        "consumer", write_marker, version="2026.12.06", a=handles["adopted"], b=handles["adopted_rel"], out=OUT
    )
    os.makedirs(f"{prefix}/pins/existing", exist_ok=True)
    Path(prefix, "pins", "existing", ".executor_status").write_text("SUCCESS")
    handles["pinned"] = apply("pinned", write_marker, version="2026.12.06", pin="pins/existing", out=OUT)
    handles["pinned_abs"] = apply("pinned_abs", write_marker, version="2026.12.06", pin=f"{outside}/pinned", out=OUT)
    handles["uses_pins"] = apply(
        "uses_pins", write_marker, version="2026.12.06", p=handles["pinned"], q=handles["pinned_abs"], out=OUT
    )
    plain = apply("expect", write_marker, version="2026.12.06", n=1, out=OUT)
    handles["expect"] = with_changes(plain, expected_fingerprint=plain.fingerprint())

    errors: dict[str, str] = {}
    try:
        apply("fixed_on_dev", write_marker, version="2026.12.06", base=handles["scratch"]).lower()
    except ValueError as e:
        errors["fixed_depends_on_dev"] = str(e)
    try:
        with_changes(handles["expect"], expected_fingerprint="00000000").lower()
    except Exception as e:
        errors["expected_fingerprint_at_lower"] = f"{type(e).__name__}: {e}"
    return handles, errors


def handle_entry(case: str, handle: Any, prefix: str, norm: Normaliser) -> dict[str, Any]:
    from marin.execution.lazy import lower

    path = handle.path(prefix)
    spec = lower(handle)
    return {
        "case": case,
        "name": handle.name,
        "version": handle.version,
        "path": norm(path).removeprefix("{prefix}/"),
        "step_path": norm(spec.output_path).removeprefix("{prefix}/"),
        "fingerprint": handle.fingerprint(),
        "fingerprint_payload": norm(handle.fingerprint_payload()),
        "hash_attrs": norm(spec.hash_attrs),
        "step_name_with_hash": spec.name_with_hash,
        "files": output_files(spec.output_path, norm),
    }


def run_handles(handles: dict[str, Any]) -> list[Any]:
    from marin.execution.lazy import run

    terminals = [h for case, h in handles.items() if case not in ("scratch",)]
    return run(*terminals, max_concurrent=8)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--check", action="store_true", help="compare with --output instead of writing it")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    # A fixed place, emptied first: an adopted absolute source enters its fingerprint, so it must not vary.
    work = Path(tempfile.gettempdir()) / "marin-lazy-golden"
    shutil.rmtree(work, ignore_errors=True)
    prefix, outside = str(work / "prefix"), str(work / "outside")
    os.makedirs(prefix)
    os.makedirs(outside)
    os.environ["MARIN_PREFIX"] = prefix
    os.environ.pop("MARIN_PROVENANCE", None)
    os.chdir(work)  # outside any git checkout: provenance's git fields stay empty
    norm = Normaliser(prefix, outside)

    from marin.execution.fingerprint import register_fingerprint

    register_fingerprint(lt.Tokenizer, lt.encode_tokenizer)
    handles, errors = build_handles(prefix, outside)
    loaded = run_handles(handles)
    golden: dict[str, Any] = {
        "generated_by": "benchmarks/peer/marin_lazy_golden.py",
        "marin_core": metadata.version("marin-core"),
        "python": platform.python_version(),
        "placeholders": {"prefix": "{prefix}", "outside": "{outside}", "address": "0x?"},
        "handles": [handle_entry(case, h, prefix, norm) for case, h in handles.items()],
        "loaded": {case: norm(repr(a)) for case, a in zip([c for c in handles if c != "scratch"], loaded, strict=True)},
        "build_errors": {k: norm(v) for k, v in errors.items()},
    }
    golden.update(lazy_probes.all_probes(handles, prefix, outside, norm))
    text = json.dumps(golden, indent=2, ensure_ascii=False) + "\n"
    if args.check:
        if args.output.read_text() != text:
            print(f"{args.output} differs from what marin-core {golden['marin_core']} produces now", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.write_text(text)
    print(f"wrote {args.output} ({len(golden['handles'])} handles)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
