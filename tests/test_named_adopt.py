"""``adopt(name, version, source)`` (issue 19): existing data becomes a managed ``name@version``: consumers read the
source, running it writes Marin's provenance record at ``{prefix}/{name}/{version}``, with Marin's fingerprints."""

from __future__ import annotations

import json
import pathlib

import pytest

from marin_exec import StepRef, StepSpec, adopt, deferred, output, step
from marin_exec.compile.compiler import compile_graph
from marin_exec.errors import StepsFailed
from marin_exec.run.runner import StepRunner
from tests.test_named_golden import HANDLES

SEEN: list[dict] = []


def _consume(a: str, b: str, out: str) -> None:
    SEEN.append({"a": a, "b": b, "out": out})


consume = deferred(_consume)


@step(name="consumer", version="2026.12.06")
def consumer(a: StepRef, b: StepRef):
    return consume(a=a, b=b, out=output())


def _adopted(outside: pathlib.Path) -> tuple[StepRef, StepRef]:
    a = adopt("adopted", "2026.01.01", str(outside / "external"), config={"tokenizer": "gpt2", "format": "jsonl"})
    b = adopt("adopted_rel", "2026.01.02", "legacy/tokenized-abc123")
    return a, b


def test_consumers_read_the_source_and_running_writes_marins_record(tmp_path):
    prefix, outside = tmp_path / "prefix", tmp_path / "outside"
    (outside / "external").mkdir(parents=True)
    (prefix / "legacy/tokenized-abc123").mkdir(parents=True)
    a, b = _adopted(outside)
    specs = {s.name: s for s in compile_graph([consumer(a, b)], prefix=str(prefix)).specs}
    assert specs["consumer"].fingerprint == HANDLES["consumer"]["fingerprint"]
    assert specs["adopted_rel"].fingerprint == HANDLES["adopted_rel"]["fingerprint"]
    assert specs["adopted"].recipe_payload == HANDLES["adopted"]["fingerprint_payload"].replace(
        "{outside}", str(outside)
    )
    SEEN.clear()
    StepRunner().run(list(specs.values()))
    assert SEEN == [
        {"a": f"{outside}/external", "b": f"{prefix}/legacy/tokenized-abc123", "out": f"{prefix}/consumer/2026.12.06"}
    ]
    for case in ("adopted", "adopted_rel", "consumer"):
        ours = json.loads(pathlib.Path(specs[case].output_path, ".artifact.json").read_text())
        text = HANDLES[case]["files"][".artifact.json"].replace("{prefix}", str(prefix))
        theirs = json.loads(text.replace("{outside}", str(outside)))
        # the absolute source enters "adopted"'s fingerprint: Marin's run had another directory (payload checked above)
        skip = {"provenance", "fingerprint"} if case == "adopted" else {"provenance"}
        assert {k: v for k, v in ours.items() if k not in skip} == {k: v for k, v in theirs.items() if k not in skip}
        assert json.dumps(ours["config"]) == json.dumps(theirs["config"]), case  # in Marin's key order too


def test_adopting_data_that_is_not_there_fails_the_step_and_says_so(tmp_path):
    ref = adopt("gone", "2026.01.01", str(tmp_path / "nowhere"))
    spec = compile_graph([ref], prefix=str(tmp_path)).specs[0]
    with pytest.raises(StepsFailed) as failed:
        StepRunner().run([spec])
    assert "cannot adopt gone@2026.01.01: no data at" in str(failed.value.__cause__)


def _older(out: str) -> dict:
    pathlib.Path(out).mkdir(parents=True, exist_ok=True)
    pathlib.Path(out, "data.txt").write_text("hashed")
    return {"rows": 1}


def test_a_hashed_output_of_an_older_run_is_adopted_as_a_name_at_version(tmp_path):
    older = StepSpec(name="tokenized/web", fn=_older, hash_attrs={"v": 1}, output_path_prefix=str(tmp_path))
    StepRunner().run([older])
    ref = adopt("tokenized/web", "2026.12.06", older.output_path)
    SEEN.clear()
    specs = compile_graph([consumer(ref, ref)], prefix=str(tmp_path)).specs
    StepRunner().run(list(specs))
    assert SEEN[0]["a"] == older.output_path
    record = json.loads(pathlib.Path(tmp_path, "tokenized/web/2026.12.06/.artifact.json").read_text())
    assert (record["source"], record["version"]) == (older.output_path, "2026.12.06")
