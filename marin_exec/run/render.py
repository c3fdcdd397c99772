"""Text a person reads: the dry-run plan (each step's status, path, reason and dependencies) and run summaries.

Pure formatting of a ``RunReport`` and the plan's groups; it reads and writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from marin_exec.compile.compiler import GroupView
from marin_exec.compile.step_spec import StepSpec
from marin_exec.run import summary
from marin_exec.run.run_report import RunReport, StepOutcome, StepState
from marin_exec.runtime.fray_job import describe_resources

PLAN_STATES = (
    StepState.DONE,
    StepState.WILL_RUN,
    StepState.RUNNING_ELSEWHERE,
    StepState.FAILED_BEFORE,
    StepState.BLOCKED,
    StepState.PRUNED,
)


def render_plan(
    report: RunReport,
    *,
    prefix: str,
    groups: Sequence[GroupView] = (),
    description: str | None = None,
) -> str:
    """The dry-run text: groups with their steps, one line per step plus its dependencies and reason."""
    outcomes = {id(o.spec): o for o in report.outcomes.values()}
    by_path = {path: o for path, o in report.outcomes.items()}
    width = max((len(o.state) for o in report.outcomes.values()), default=8) + 2
    lines = [f"Plan{': ' + description if description else ''}", f"  {len(by_path)} step(s) under {prefix}", ""]
    shown: set[str] = set()

    def step_lines(spec: StepSpec, indent: str) -> None:
        outcome = outcomes.get(id(spec)) or by_path.get(spec.output_path)
        if outcome is None:
            return
        path = spec.output_path
        repeat = path in shown
        shown.add(path)
        label = f"[{outcome.state}]".ljust(width + 2)
        where = _relative(path, prefix)
        if repeat:
            lines.append(f"{indent}{label}{spec.name}  (shown above)")
            return
        lines.append(f"{indent}{label}{spec.name}  ->  {where}")
        pad = indent + " " * (width + 2)
        if outcome.reason and outcome.state != StepState.DONE:
            lines.append(f"{pad}why: {outcome.reason}")
        if outcome.drift:
            lines.append(f"{pad}drift: {outcome.drift}")
        if spec.deps:
            needs = ", ".join(_dep_label(d, outcomes, by_path) for d in _unique(spec.deps))
            lines.append(f"{pad}needs: {needs}")
        if spec.pseudo_deps:
            lines.append(f"{pad}reads (not waited for): {', '.join(d.name for d in _unique(spec.pseudo_deps))}")
        if spec.resources is not None:
            lines.append(f"{pad}runs as a Fray job: {_describe_resources(spec.resources)}")

    def group_lines(group: GroupView, indent: str) -> None:
        title = f"{indent}{group.name}  (group"
        title += f": {group.description})" if group.description else ")"
        lines.append(title)
        for child in group.children:
            if isinstance(child, GroupView):
                group_lines(child, indent + "  ")
            else:
                step_lines(child, indent + "  ")

    for group in groups:
        group_lines(group, "")
        lines.append("")
    rest = [o.spec for o in report.outcomes.values() if o.spec.output_path not in shown]
    if rest and groups:
        lines.append("other steps")
    for spec in rest:
        step_lines(spec, "  " if groups else "")
    if lines[-1] != "":
        lines.append("")
    states = PLAN_STATES if report.count(StepState.PRUNED) else PLAN_STATES[:-1]  # said when there are some
    lines.append("Summary: " + summarize(report, states) + ". Dry run: nothing was run or written.")
    if report.unmatched_patterns:
        lines.append(f"Warning: --run_only patterns matched no step: {', '.join(report.unmatched_patterns)}")
    return "\n".join(lines)


def render_summary(report: RunReport) -> str:
    """The ``Summary:`` paragraph after a real run, failed or not (``run.summary``): counts, step time apart from
    waits, each failed, blocked or interrupted step with its cause, and whom each waiting step waited for."""
    return summary.summarize(summary.step_results(report), report.seconds).text


def summarize(report: RunReport, states: Sequence[StepState]) -> str:
    return ", ".join(f"{report.count(state)} {state}" for state in states)


def _dep_label(dep: StepSpec, outcomes: dict[int, StepOutcome], by_path: dict[str, StepOutcome]) -> str:
    outcome = outcomes.get(id(dep)) or by_path.get(dep.output_path)
    return f"{dep.name} ({outcome.state})" if outcome else dep.name


def _unique(specs: Sequence[StepSpec]) -> list[StepSpec]:
    seen: set[str] = set()
    out = []
    for spec in specs:
        if spec.output_path not in seen:
            seen.add(spec.output_path)
            out.append(spec)
    return out


def _relative(path: str, prefix: str) -> str:
    prefix = prefix.rstrip("/")
    return path[len(prefix) + 1 :] if path.startswith(prefix + "/") else path


def _describe_resources(resources: Any) -> str:
    try:
        return describe_resources(resources)
    except ImportError:  # fray is not installed: the resources as they are
        return repr(resources)
