"""The plan as data: ``PlanEntry`` rows (name, output path, status, why, dependencies) rendered as JSON, Mermaid or
Graphviz DOT, for ``--plan json|mermaid|dot``.

Steps are ordered dependencies first (a stable topological order of the rows as given, with networkx); a dependency
that is not a row of the plan (e.g. left out by ``--run_only`` because it is done) appears as a node whose status
is ``not in plan``. Pure formatting: it reads no status, decides nothing and prints nothing.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from marin_exec.run.run_report import RunReport

FORMATS = ("json", "mermaid", "dot")


def plan_flag_problem(plan: str, dry_run: bool) -> str | None:
    """What is wrong with ``--plan PLAN`` (None: nothing): an unknown format, or a plan asked of a real run."""
    if plan not in FORMATS:
        return f"unknown format {plan!r}; use one of {', '.join(FORMATS)}"
    if not dry_run:
        return f"{plan} is a format of the dry run's plan; add --dry_run true (a run prints no plan)"
    return None


SCHEMA = "marin_exec.plan/1"
NOT_IN_PLAN = "not in plan"

# Fill colours per status (plan states and run outcomes), shared by Mermaid and DOT.
_COLOURS = {
    "done": "#d9f2d9",
    "cached": "#d9f2d9",
    "ran": "#b3e6b3",
    "will run": "#fff2cc",
    "running elsewhere": "#cce0ff",
    "failed before": "#f8d7da",
    "failed": "#f8d7da",
    "blocked": "#e6e6e6",
    "dep_failed": "#e6e6e6",
    NOT_IN_PLAN: "#ffffff",
}


@dataclasses.dataclass(frozen=True)
class PlanEntry:
    """One step of a plan. Dependencies are named by output path (unique in a plan, where names may repeat)."""

    name: str
    output_path: str
    status: str
    why: str = ""
    dependencies: tuple[str, ...] = ()
    nonblocking_dependencies: tuple[str, ...] = ()


def plan_entries(report: RunReport, why: dict[str, str] | None = None) -> list[PlanEntry]:
    """The rows of a (dry-run) report, in its order; ``why`` (by output path) overrides an outcome's reason."""
    why = why or {}
    return [
        PlanEntry(
            name=outcome.spec.name,
            output_path=path,
            status=outcome.state,
            why=why.get(path, outcome.reason),
            dependencies=tuple(dict.fromkeys(dep.output_path for dep in outcome.spec.deps)),
            nonblocking_dependencies=tuple(dict.fromkeys(dep.output_path for dep in outcome.spec.pseudo_deps)),
        )
        for path, outcome in report.outcomes.items()
    ]


def render_export(
    entries: Sequence[PlanEntry], fmt: str, *, prefix: str | None = None, description: str | None = None
) -> str:
    """The plan in ``fmt`` (one of FORMATS); a ValueError naming the formats for any other."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown plan format {fmt!r}; use one of {', '.join(FORMATS)}")
    rows = ordered(entries, prefix=prefix)
    if fmt == "json":
        return to_json(rows, prefix=prefix, description=description)
    return to_mermaid(rows) if fmt == "mermaid" else to_dot(rows, description=description)


def ordered(entries: Sequence[PlanEntry], *, prefix: str | None = None) -> list[PlanEntry]:
    """The entries dependencies first, keeping the given order wherever dependencies allow; dependencies missing
    from ``entries`` become ``not in plan`` entries in front of their first dependent (named by their path
    relative to ``prefix``)."""
    position: dict[str, float] = {e.output_path: i for i, e in enumerate(entries)}
    rows = {e.output_path: e for e in entries}
    import networkx as nx  # here, not at import: it costs ~0.2 s and only an export needs it

    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(rows)
    for entry in entries:
        for dep in (*entry.dependencies, *entry.nonblocking_dependencies):
            if dep not in rows:
                rows[dep] = PlanEntry(name=_relative(dep, prefix), output_path=dep, status=NOT_IN_PLAN)
                position[dep] = position[entry.output_path] - 0.5
            graph.add_edge(dep, entry.output_path)
    order = nx.lexicographical_topological_sort(graph, key=lambda path: (position[path], path))
    return [rows[path] for path in order]


def to_json(rows: Sequence[PlanEntry], *, prefix: str | None = None, description: str | None = None) -> str:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    document: dict[str, Any] = {
        "schema": SCHEMA,
        "description": description,
        "prefix": prefix,
        "counts": counts,
        "steps": [
            {
                "name": row.name,
                "output_path": row.output_path,
                "status": row.status,
                "why": row.why,
                "dependencies": list(row.dependencies),
                "nonblocking_dependencies": list(row.nonblocking_dependencies),
            }
            for row in rows
        ],
    }
    return json.dumps(document, indent=2)


def to_mermaid(rows: Sequence[PlanEntry]) -> str:
    """A Mermaid flowchart: one box per step (name, status), solid arrows for blocking dependencies, dotted ones
    for nonblocking; a class per status colours the boxes."""
    ids = {row.output_path: f"s{i}" for i, row in enumerate(rows)}
    lines = ["flowchart LR"]
    for row in rows:
        lines.append(f'  {ids[row.output_path]}["{_mermaid_text(row.name)}<br/>{_mermaid_text(row.status)}"]')
    for row in rows:
        for dep in dict.fromkeys(row.dependencies):
            lines.append(f"  {ids[dep]} --> {ids[row.output_path]}")
        for dep in dict.fromkeys(row.nonblocking_dependencies):
            lines.append(f"  {ids[dep]} -.-> {ids[row.output_path]}")
    for status in dict.fromkeys(row.status for row in rows):
        members = ",".join(ids[row.output_path] for row in rows if row.status == status)
        lines.append(f"  classDef {_class_name(status)} fill:{_COLOURS.get(status, '#ffffff')},stroke:#555")
        lines.append(f"  class {members} {_class_name(status)}")
    return "\n".join(lines)


def to_dot(rows: Sequence[PlanEntry], *, description: str | None = None) -> str:
    """A Graphviz digraph: boxes labelled with name and status (the why and output path as tooltip), solid edges
    for blocking dependencies, dashed for nonblocking."""
    ids = {row.output_path: f"s{i}" for i, row in enumerate(rows)}
    lines = [
        "digraph plan {",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica"];',
    ]
    if description:
        lines.append(f"  label={_dot_text(description)};")
    for row in rows:
        tooltip = row.output_path + (f"\n{row.why}" if row.why else "")
        label = f"{row.name}\n{row.status}"
        lines.append(
            f"  {ids[row.output_path]} [label={_dot_text(label)}, "
            f'fillcolor="{_COLOURS.get(row.status, "#ffffff")}", tooltip={_dot_text(tooltip)}];'
        )
    for row in rows:
        for dep in dict.fromkeys(row.dependencies):
            lines.append(f"  {ids[dep]} -> {ids[row.output_path]};")
        for dep in dict.fromkeys(row.nonblocking_dependencies):
            lines.append(f"  {ids[dep]} -> {ids[row.output_path]} [style=dashed];")
    lines.append("}")
    return "\n".join(lines)


def _relative(output_path: str, prefix: str | None) -> str:
    if prefix and output_path.startswith(prefix.rstrip("/") + "/"):
        return output_path[len(prefix.rstrip("/")) + 1 :]
    return output_path


def _mermaid_text(text: str) -> str:
    """Text safe inside a quoted Mermaid label (quotes and angle brackets as entity codes)."""
    return text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def _class_name(status: str) -> str:
    return "st_" + "".join(c if c.isalnum() else "_" for c in status)


def _dot_text(text: str) -> str:
    """A quoted DOT string: backslashes and quotes escaped, newlines as centred line breaks."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
