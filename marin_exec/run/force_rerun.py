"""``--force_rerun REGEX``: rerun done steps whose names match, and every step of the plan downstream of them.

A done step is rerun safely by taking it out of the cache before the run starts: its SUCCESS is removed while
holding its lease (``status.step_status.clear_done``), so a worker running it right now finishes first, and the
runner then reads it as not done and calls it like any other step (never counted as cached). Its old outputs stay
until the rerun overwrites them. Everything downstream is cleared the same way, since it was computed from outputs
that are about to change. A dry run clears nothing; it only shows these steps as ``[will run]`` with the reason.
This module schedules nothing: the runner runs what is not done.
"""

from __future__ import annotations

import logging
import re

from marin_exec.compile.step_spec import StepSpec
from marin_exec.run.run_files import transitive
from marin_exec.run.run_report import RunReport, StepState
from marin_exec.status.step_status import clear_done

logger = logging.getLogger(__name__)


def forced_steps(
    specs: list[StepSpec], patterns: list[str], run_only: list[str] | None = None
) -> list[tuple[StepSpec, str]]:
    """Each step to rerun with why: the steps whose names match a pattern, then those downstream of them. With
    ``run_only``, only among the steps that run would consider (the matches and what they need), so that no step is
    taken out of the cache without being run."""
    compiled = [re.compile(p) for p in patterns]
    every = transitive(specs)
    if run_only:
        selected = [s for s in every if any(re.search(p, s.name) for p in run_only)]
        considered = {s.output_path for s in transitive(selected)}
        every = [s for s in every if s.output_path in considered]
    dependents: dict[str, list[StepSpec]] = {}
    for spec in every:
        for dep in spec.deps:
            dependents.setdefault(dep.output_path, []).append(spec)
    why: dict[str, tuple[StepSpec, str]] = {}
    stack: list[tuple[StepSpec, str]] = []
    for spec in every:
        if any(rx.search(spec.name) for rx in compiled):
            why[spec.output_path] = (spec, "--force_rerun matches it")
            stack.append((spec, spec.name))
        elif spec.mutable:  # a dev version (or built from one) rebuilds on every run (DESIGN §4b)
            why[spec.output_path] = (spec, "its version is mutable (dev): it rebuilds on every run")
    for pattern, rx in zip(patterns, compiled, strict=True):
        if not any(rx.search(spec.name) for spec in every):
            logger.warning(f"--force_rerun pattern {pattern!r} matches no step of this plan; it reruns nothing")
    while stack:
        spec, root = stack.pop()
        for dependent in dependents.get(spec.output_path, []):  # only steps of ``every``: run_only is kept
            if dependent.output_path not in why:
                why[dependent.output_path] = (dependent, f"downstream of {root}, which --force_rerun reruns")
                stack.append((dependent, root))
    return list(why.values())


def clear_forced(forced: list[tuple[StepSpec, str]]) -> None:
    """Take each forced step out of the cache (its SUCCESS removed under its lease)."""
    for spec, reason in forced:
        if clear_done(spec.output_path):
            logger.info(f"{spec.name}: will rerun: {reason}")


def show_forced(plan: RunReport, forced: list[tuple[StepSpec, str]]) -> None:
    """In a dry run's plan, the done steps that ``--force_rerun`` would rerun are ``[will run]``, saying why."""
    for spec, reason in forced:
        outcome = plan.outcomes.get(spec.output_path)
        if outcome is not None and outcome.state == StepState.DONE:
            outcome.state, outcome.reason = StepState.WILL_RUN, reason
