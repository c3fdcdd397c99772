"""The plan exported as JSON, Mermaid and DOT: golden files pin the formats, a real dry run feeds the rows."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from marin_exec import StepRunner, StepSpec
from marin_exec.run.export import FORMATS, NOT_IN_PLAN, SCHEMA, PlanEntry, ordered, plan_entries, render_export

GOLDEN = Path(__file__).parent / "golden"
P = "/data/prefix"

SMALL_PLAN = [
    PlanEntry("raw/corpus", f"{P}/raw/corpus-ed8966", "done", "already succeeded"),
    PlanEntry(
        "tokenized/corpus",
        f"{P}/tokenized/corpus-1a2b3c",
        "will run",
        'tokenizer: "bytes" \u2192 "gpt2" (was tokenized/corpus-0f0f0f)',
        dependencies=(f"{P}/raw/corpus-ed8966",),
    ),
    PlanEntry(
        "models/tiny",
        f"{P}/models/tiny-4d5e6f",
        "will run",
        "never ran",
        dependencies=(f"{P}/tokenized/corpus-1a2b3c", f"{P}/extra/vocab-777777"),
    ),
    PlanEntry(
        'evals/"quoted"',
        f"{P}/evals/quoted-abcdef",
        "blocked",
        "needs models/tiny, which will not run",
        nonblocking_dependencies=(f"{P}/models/tiny-4d5e6f",),
    ),
]


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("MARIN_EXEC_UPDATE_GOLDEN"):
        path.write_text(text + "\n")
    assert text + "\n" == path.read_text(), f"{name} changed; if on purpose, rerun with MARIN_EXEC_UPDATE_GOLDEN=1"


@pytest.mark.parametrize(("fmt", "golden"), [("json", "plan.json"), ("mermaid", "plan.mmd"), ("dot", "plan.dot")])
def test_a_small_plan_renders_as_its_golden_file(fmt, golden):
    _golden(golden, render_export(SMALL_PLAN, fmt, prefix=P, description="tiny LM"))


def test_the_json_plan_lists_every_step_with_status_why_and_both_kinds_of_dependencies():
    document = json.loads(render_export(SMALL_PLAN, "json"))

    assert document["schema"] == SCHEMA
    steps = {s["name"]: s for s in document["steps"]}
    assert steps["models/tiny"]["dependencies"] == [f"{P}/tokenized/corpus-1a2b3c", f"{P}/extra/vocab-777777"]
    assert steps['evals/"quoted"']["nonblocking_dependencies"] == [f"{P}/models/tiny-4d5e6f"]
    assert steps["tokenized/corpus"]["why"].startswith("tokenizer:")
    assert document["counts"] == {"done": 1, "will run": 2, NOT_IN_PLAN: 1, "blocked": 1}


def test_a_dependency_outside_the_plan_is_a_node_placed_before_its_first_dependent():
    rows = ordered(SMALL_PLAN)

    paths = [r.output_path for r in rows]
    assert paths.index(f"{P}/extra/vocab-777777") < paths.index(f"{P}/models/tiny-4d5e6f")
    assert rows[paths.index(f"{P}/extra/vocab-777777")].status == NOT_IN_PLAN


def test_rows_given_before_their_dependencies_come_out_after_them():
    a = PlanEntry("a", "/p/a-000000", "will run", dependencies=("/p/b-000000",))
    b = PlanEntry("b", "/p/b-000000", "will run")

    assert [r.name for r in ordered([a, b])] == ["b", "a"]


def test_an_unknown_format_is_a_value_error_naming_the_formats():
    with pytest.raises(ValueError, match="json, mermaid, dot"):
        render_export(SMALL_PLAN, "svg")


def _noop(output_path: str) -> None:
    return None


def test_plan_entries_come_from_a_real_dry_run_report(prefix):
    raw = StepSpec(name="raw/a", fn=_noop, output_path_prefix=prefix)
    model = StepSpec(name="models/m", fn=_noop, deps=[raw, raw], pseudo_deps=[raw], output_path_prefix=prefix)
    report = StepRunner().run([model], dry_run=True)

    entries = plan_entries(report, why={model.output_path: "lr: 1 \u2192 2"})

    assert [(e.name, e.status) for e in entries] == [("raw/a", "will run"), ("models/m", "will run")]
    assert entries[1].dependencies == (raw.output_path,)
    assert entries[1].nonblocking_dependencies == (raw.output_path,)
    assert entries[1].why == "lr: 1 \u2192 2"
    for fmt in FORMATS:
        assert "models/m" in render_export(entries, fmt)
