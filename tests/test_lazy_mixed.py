"""Lazy handles in ``executor_main`` beside ``@step`` entry points, StepSpecs and ExecutorSteps, through the one door
for foreign steps: marin_exec.lazy's handles and objects shaped like Marin's (built here: CI has no Marin), whose
own ``fingerprint_payload()`` is used. Also: lowering rules (fixed on dev, expected_fingerprint), a deep chain."""

from __future__ import annotations

import dataclasses
import pathlib
import sys
from typing import Any

import pytest

pytest.importorskip("pydantic")

import marin_exec.lazy as lazy  # noqa: E402
from marin_exec import ExecutorMainConfig, StepSpec, deferred, output, run_executor, step  # noqa: E402
from marin_exec.legacy import ExecutorStep, this_output_path  # noqa: E402
from tests.marin_shaped_step import ArtifactStep  # noqa: E402


class MarinArtifact:
    """Shaped like ``marin.execution.artifact.Artifact``: a path, ``raw_load``, ``result_payload``."""

    def __init__(self, path: str = "", **fields: Any) -> None:
        self.path, self.fields = path, fields

    @classmethod
    def raw_load(cls, source: str) -> MarinArtifact:
        return cls(path=source)

    def result_payload(self) -> dict[str, Any] | None:
        return self.fields or None


MarinArtifact.__module__, MarinArtifact.__qualname__ = "marin.execution.artifact", "Artifact"


def _write(out: str, text: str = "", **inputs: Any) -> None:
    pathlib.Path(out).mkdir(parents=True, exist_ok=True)
    pathlib.Path(out, "data.txt").write_text(text)


@deferred
def _hashed(out: str) -> None:
    _write(out, "hashed")


@step(name="traced/hashed")
def traced() -> Any:
    return _hashed(output())


def _legacy(config: Any) -> None:
    _write(config["out"], "legacy")


def test_lazy_and_marin_shaped_handles_run_in_executor_main_beside_every_other_kind(prefix):
    ours = lazy.apply("data/ours", _write, version="2026.12.06", out=lazy.OUT, text="ours")
    seen: list[Any] = []

    def marin_config(ctx: Any) -> dict[str, Any]:
        return {"src": ctx.artifact_path(ours), "out": ctx.output_path}

    def marin_run(config: dict[str, Any]) -> MarinArtifact:
        seen.append(config)
        return MarinArtifact(path=config["out"], rows=2)

    theirs = ArtifactStep("data/theirs", "2026.12.07", MarinArtifact, marin_run, marin_config, deps=(ours,))
    spec = StepSpec(name="plain/spec", fn=lambda out: _write(out, "spec"))
    legacy = ExecutorStep(name="legacy/step", fn=_legacy, config={"out": this_output_path()})
    report = run_executor([traced(), spec, legacy, ours, theirs], ExecutorMainConfig())
    assert len(report.outcomes) == 5
    assert seen == [{"src": f"{prefix}/data/ours/2026.12.06", "out": f"{prefix}/data/theirs/2026.12.07"}]
    record = lazy.read_record(f"{prefix}/data/theirs/2026.12.07")
    assert record.fingerprint_payload == theirs.fingerprint_payload()  # Marin's own payload, not recomputed
    assert record.fingerprint == theirs.fingerprint()
    assert record.result_type == "marin.execution.artifact.Artifact" and record.result == {"rows": 2}
    assert record.deps == ["data/ours@2026.12.06"] and record.dep_paths == []


def test_a_fixed_version_on_a_dev_one_is_refused_when_lowered(prefix):
    dev = lazy.apply("scratch", _write, version="dev", out=lazy.OUT, text="x")
    fixed = lazy.apply("fixed", _write, version="2026.12.06", out=lazy.OUT, text=lazy.OUT, base=dev)
    with pytest.raises(ValueError, match="fixed@2026.12.06 has a fixed version but depends on the mutable scratch@dev"):
        lazy.lower(fixed)


def test_expected_fingerprint_that_differs_is_refused_before_anything_runs(prefix):
    handle = lazy.apply("expect", _write, version="2026.12.06", out=lazy.OUT, text="x")
    pinned = dataclasses.replace(handle, expected_fingerprint="00000000")
    with pytest.raises(lazy.FingerprintMismatchError, match=f"fingerprint is {handle.fingerprint()}"):
        lazy.run(pinned)
    assert not pathlib.Path(prefix, "expect").exists()


def test_a_deep_chain_lowers_and_runs_without_recursion(prefix):
    handle = lazy.apply("chain/0", _write, version="2026.12.06", out=lazy.OUT, text="0")
    for i in range(1, 1500):  # Marin's recursive lowering stops near 200 (benchmarks: 10,000)
        handle = lazy.apply(f"chain/{i}", _write, version="2026.12.06", out=lazy.OUT, text=lazy.OUT, up=handle)
    (loaded,) = lazy.run(handle)
    assert loaded.path == f"{prefix}/chain/1499/2026.12.06"
    assert pathlib.Path(prefix, "chain/0/2026.12.06/data.txt").exists()


def test_resolve_loads_a_value_artifact_and_adopt_reads_its_source(prefix, tmp_path):
    class Counts(lazy.Artifact):
        rows: int

    source = tmp_path / "elsewhere"
    source.mkdir()
    adopted = lazy.ArtifactStep.adopt("old/data", "2026.01.01", str(source), config={"format": "jsonl"})
    counted = lazy.apply("counted", lambda src: Counts(rows=len(src)), version="2026.12.06", artifact_type=Counts,
                         src=adopted)  # fmt: skip
    value = lazy.resolve(counted)
    assert isinstance(value, Counts) and value.rows == len(str(source))
    assert lazy.read_artifact(value.path, Counts).rows == value.rows
    assert lazy.read_record(f"{prefix}/old/data/2026.01.01").source == str(source)


def test_importing_the_lazy_kind_needs_neither_pydantic_nor_click():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['pydantic'] = None; sys.modules['click'] = None; import marin_exec.lazy.kind; "
        "import marin_exec.lazy.lowering\n"
        "try:\n    import marin_exec.lazy.artifact\nexcept ImportError as e:\n    print(e)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == (
        "marin_exec.lazy needs pydantic>=2 for artifacts and records: pip install 'pydantic>=2' (or marin_exec[lazy])"
    )


def test_a_changed_recipe_at_the_same_version_warns_with_the_field_and_serves_the_cache(prefix, caplog):
    lazy.run(lazy.apply("drifty", _write, version="2026.12.06", out=lazy.OUT, text="a", lr=0.0003))
    changed = lazy.apply("drifty", _write, version="2026.12.06", out=lazy.OUT, text="b", lr=0.001)
    with caplog.at_level("WARNING"):
        lazy.run(changed)
    assert "lr: 0.0003 -> 0.001" in caplog.text
    assert pathlib.Path(prefix, "drifty/2026.12.06/data.txt").read_text() == "a"  # served, not rebuilt


def test_build_options_enters_marins_own_build_context_when_marin_is_installed(prefix, tmp_path, monkeypatch):
    package = tmp_path / "fake_marin" / "marin" / "execution"
    package.mkdir(parents=True)
    for init in (package.parent / "__init__.py", package / "__init__.py"):
        init.write_text("")
    (package / "build_context.py").write_text(
        "import contextlib, dataclasses\n"
        "ACTIVE = []\n"
        "@dataclasses.dataclass\n"
        "class VersionCodex:\n"
        "    default: str\n"
        "    overrides: dict\n"
        "    def version_for(self, name): return self.overrides.get(name, self.default)\n"
        "    def unused_overrides(self): return frozenset()\n"
        "@dataclasses.dataclass\n"
        "class BuildContext:\n"
        "    versions: VersionCodex\n"
        "@contextlib.contextmanager\n"
        "def build_context(ctx):\n"
        "    ACTIVE.append(ctx)\n"
        "    yield ctx\n"
        "    ACTIVE.pop()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "fake_marin"))
    import importlib

    import click

    seen: list[str] = []

    @click.command()
    @lazy.build_options
    def main() -> Any:
        marin = importlib.import_module("marin.execution.build_context")
        seen.append(marin.ACTIVE[-1].versions.version_for("tok"))  # what a builder of Marin's package reads
        return lazy.apply("tok", _write, out=lazy.OUT, text="t")  # and ours, deferred too

    try:
        with pytest.raises(SystemExit) as done:
            main(["--version", "dev", "--override", "tok=2026.12.06", "--run"])
    finally:  # the stand-in must not look like Marin to later tests
        for name in [m for m in sys.modules if m == "marin" or m.startswith("marin.")]:
            del sys.modules[name]
    assert done.value.code == 0
    assert seen == ["2026.12.06"] and pathlib.Path(prefix, "tok/2026.12.06/data.txt").exists()
