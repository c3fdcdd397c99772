"""Named steps written with ``@step(version=...)`` land where marin-core 0.2.227's lazy ``apply`` puts the same
recipe, with the same fingerprint and payload, and write the record Marin writes (tests/golden/lazy_marin_0227.json,
made by benchmarks/peer/marin_lazy_golden.py)."""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any

import pytest

from marin_exec import StepRef, deferred, output, step
from marin_exec.compile.compiler import compile_graph
from marin_exec.fingerprint import register_fingerprint, unregister_fingerprint
from marin_exec.run.runner import StepRunner
from tests.golden import lazy_types as lt

GOLDEN = json.loads((pathlib.Path(__file__).parent / "golden" / "lazy_marin_0227.json").read_text())
HANDLES = {h["case"]: h for h in GOLDEN["handles"]}
CASES = list(lt.APPLY_CASES)


def _write_marker(**inputs: Any) -> None:
    out = inputs.get("out")
    if isinstance(out, str):
        os.makedirs(out, exist_ok=True)
        pathlib.Path(out, "data.txt").write_text("done\n")


write_marker = deferred(_write_marker)


def _materialise(value: Any, refs: dict[str, StepRef]) -> Any:
    if isinstance(value, str) and value == lt.OUT:
        return output()
    if isinstance(value, lt.Dep):
        return refs[value.case]
    if isinstance(value, list):
        return [_materialise(v, refs) for v in value]
    if isinstance(value, tuple):
        return tuple(_materialise(v, refs) for v in value)
    if isinstance(value, dict):
        return {k: _materialise(v, refs) for k, v in value.items()}
    return value


def _traced() -> dict[str, StepRef]:
    refs: dict[str, StepRef] = {}
    for case, inputs in lt.APPLY_CASES.items():

        @step(name=case, version=HANDLES[case]["version"])
        def one(inputs: dict = inputs) -> Any:
            return write_marker(**_materialise(inputs, refs))

        refs[case] = one()
    return refs


@pytest.fixture(autouse=True)
def _tokenizer_encoder():
    register_fingerprint(lt.Tokenizer, lt.encode_tokenizer)  # the golden run registered it too
    yield
    unregister_fingerprint(lt.Tokenizer)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> tuple[str, dict[str, Any]]:
    prefix = str(tmp_path_factory.mktemp("prefix"))
    register_fingerprint(lt.Tokenizer, lt.encode_tokenizer)
    try:
        plan = compile_graph(list(_traced().values()), prefix=prefix)
    finally:
        unregister_fingerprint(lt.Tokenizer)
    return prefix, {spec.name: spec for spec in plan.specs}


@pytest.mark.parametrize("case", CASES)
def test_path_fingerprint_and_payload_equal_marins(compiled, case):
    prefix, specs = compiled
    golden = HANDLES[case]
    spec = specs[case]
    assert spec.output_path == f"{prefix}/{golden['path']}"
    assert spec.recipe_payload == golden["fingerprint_payload"]
    assert spec.fingerprint == golden["fingerprint"]


def test_the_records_written_are_marins(compiled):
    prefix, specs = compiled
    StepRunner().run(list(specs.values()))
    for case in CASES:
        ours = json.loads(pathlib.Path(specs[case].output_path, ".artifact.json").read_text())
        theirs = json.loads(HANDLES[case]["files"][".artifact.json"].replace("{prefix}", prefix))
        assert list(ours) == list(theirs), case
        assert {k: v for k, v in ours.items() if k != "provenance"} == {
            k: v for k, v in theirs.items() if k != "provenance"
        }, case
        assert list(ours["provenance"]) == list(theirs["provenance"]), case


def _stats(**config: Any) -> None:
    pass


stats = deferred(_stats)


def test_prefix_region_and_runtime_args_are_marins_placeholders(compiled):
    """Marin's ``stats`` handle pulls ``ctx.prefix``, ``ctx.region`` and ``ctx.runtime_arg("tpu")``."""
    from marin_exec import runtime_arg

    prefix, _ = compiled

    @step(name="stats", version="2026.12.06")
    def stats_step(data: StepRef, region: str = "us-central2", tpu: str = "v5litepod-16"):
        return stats(
            data=data,
            out=output(),
            prefix=StepRef.under_prefix(),
            region=runtime_arg(region, key="region"),
            tpu=runtime_arg(tpu),
            cache=StepRef.under_prefix("cache"),
            model=lt.model(),
        )

    spec = compile_graph([stats_step(_traced()["tokenized"])], prefix=prefix).specs[-1]
    assert spec.recipe_payload == HANDLES["stats"]["fingerprint_payload"]
    assert spec.fingerprint == HANDLES["stats"]["fingerprint"]
    config = spec.fn.received_config(spec.output_path)
    assert (config["prefix"], config["cache"], config["tpu"]) == (prefix, f"{prefix}/cache", "v5litepod-16")
