"""The pruned schedule (DESIGN §5b): which steps a run walks from, which are built, and what became of the rest.

The runner walks from its input steps toward their inputs and reads a step's status only when the walk needs it; a
step found built (the cache-hit test: SUCCESS, with its artifact for marin_exec's own steps; and not ``mutable``)
does not bring its inputs into the walk. Whatever the walk never needed ends ``pruned``, missing on disk or not.

Streaming input. The runner consumes a generator lazily with a bounded read-ahead, so it cannot know whether a
later step will need one it has been given: a generator's steps are each taken as asked for (a step it yields is
never pruned; only what the walk reaches below a built step is). A list or tuple is known whole, so the walk
starts from its terminals (the steps nothing else in it needs), which is what ``executor_main`` passes: the
compiled plan. ``--run_only`` matches are each asked for.

Run time. A step found built while the walk pruned its inputs may lose its output before a step that needs it
runs (deleted, or rerun elsewhere). Before such a step is called, ``confirm_pruned`` reads those statuses again;
a step no longer built fails with "rerun to rebuild it and its inputs", as Marin's runner does, and the step that
needed it is blocked. A mutable step found done is taken out of the cache just before it is called
(``rebuild_mutable``), so that it is rebuilt, not served. This module reads statuses only through the step's
public method; it schedules nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from marin_exec.errors import MarinExecError
from marin_exec.run.plan import read_statuses
from marin_exec.run.run_only import select
from marin_exec.run.run_report import StepState
from marin_exec.run.step_graph import RunNode, terminals
from marin_exec.status.status import STATUS_SUCCESS

if TYPE_CHECKING:
    from marin_exec.compile.step_spec import StepSpec

logger = logging.getLogger(__name__)


class PrunedOutputGone(MarinExecError):
    """A step found built, whose inputs the run therefore pruned, is no longer built when a step needs it."""

    def __init__(self, message: str, node: RunNode) -> None:
        super().__init__(message)
        self.node = node


def input_steps(
    steps: Iterable[StepSpec], run_only: list[str] | None
) -> tuple[list[StepSpec] | Iterator[StepSpec], list[str]]:
    """The steps the walk starts from (a list when known whole, else an iterator the runner consumes lazily), and
    unmatched run_only patterns."""
    if run_only:
        selected, unmatched = select(steps, run_only)
        return list(selected), unmatched
    if isinstance(steps, Sequence):  # the input container, never a step: a list is known whole
        return terminals(steps), []
    return iter(steps), []


def is_built(spec: StepSpec, status: str | None, rebuild: Collection[str]) -> bool:
    """Whether a step with this status is served from cache, so that what it needs is not scheduled."""
    return status == STATUS_SUCCESS and not spec.mutable and spec.output_path not in rebuild


def rebuild_mutable(spec: StepSpec, status: str | None) -> None:
    """Just before a mutable (dev) step found done is called: take it out of the cache as ``--force_rerun`` does
    (its SUCCESS removed under its lease), so that the call rebuilds it rather than serving the old output (DESIGN
    §4b, for ``StepRunner.run`` alone too). ``executor_main`` clears such steps before the run: not found done."""
    if not (spec.mutable and status == STATUS_SUCCESS):
        return
    from marin_exec.status.step_status import clear_done  # here: ``import marin_exec`` loads no status writer

    if clear_done(spec.output_path):
        logger.info(f"{spec.name}: will rerun: its version is mutable (dev): it rebuilds on every run")


def mark_pruned(nodes: Iterable[RunNode], rebuild: Collection[str]) -> None:
    """Steps the walk never needed because a step that needs them was found built: ``[pruned]``, naming that step.
    Nodes come deps first, so each dependent is judged before the steps it needs. Run before a stop's verdicts: a
    step left unneeded only because a stop ended the walk before it judged what needs it stays pending, for
    ``run.stop.mark_stopped`` to call "not started"."""
    because: dict[int, str] = {}  # pruned steps: the name of the built step that keeps each out of the walk
    for node in reversed(list(nodes)):
        if node.needed or node.outcome.state is not StepState.PENDING:
            continue
        built = None
        for dependent in node.dependents:  # the first that is pruned itself, or needed and found built
            built = because.get(id(dependent))
            if built is not None:
                break
            if (
                dependent.needed
                and dependent.status_known
                and is_built(dependent.spec, dependent.outcome.status, rebuild)
            ):
                built = dependent.spec.name
                break
        if built is None:
            continue
        because[id(node)] = built
        node.outcome.state = StepState.PRUNED
        node.outcome.reason = f"not needed: {built}, which needs it, is already built"


def confirm_pruned(node: RunNode) -> None:
    """Before ``node`` is called (in its worker thread): each step it needs whose own inputs were pruned must still
    be built; PrunedOutputGone names the first that is not."""
    pruned_over = [d for d in node.deps if d.outcome.state == StepState.CACHED and any(not x.needed for x in d.deps)]
    if not pruned_over:
        return
    for dep, status in zip(pruned_over, read_statuses(pruned_over), strict=True):
        if status != STATUS_SUCCESS:
            found = f"status {status}" if not isinstance(status, Exception) else f"status unreadable: {status!r}"
            raise PrunedOutputGone(
                f"step '{dep.spec.name}': its output at {dep.spec.output_path} is no longer built ({found}) after "
                f"the steps it needs were pruned from this run; rerun to rebuild it and its inputs",
                dep,
            )


def fail_gone(error: PrunedOutputGone, node: RunNode, block: Callable[[RunNode, RunNode], None]) -> None:
    """The run's verdict when ``node`` was not called because ``confirm_pruned`` raised: the step no longer built
    failed, and ``block(dependent, failed)`` blocks what needs it, ``node`` included."""
    logger.error(str(error))
    error.node.outcome.state, error.node.outcome.error = StepState.FAILED, error
    node.outcome.state = StepState.PENDING  # not called, so blocked like the rest
    for dependent in error.node.dependents:
        block(dependent, error.node)


def read_ahead(nodes: list[RunNode], budget: int) -> list[RunNode]:
    """Up to ``budget`` steps below ``nodes`` (breadth first) whose status is not read yet, marked requested: read
    with them, so a walk through steps that are not built (a fresh deep chain) does not take one round of reads per
    step. The runner's budget is the number of steps found not built so far: a built graph is read at its terminals
    only, and no more steps are read in vain than were found to need running."""
    out: list[RunNode] = []
    seen: set[int] = set()
    frontier = list(nodes)
    while frontier and len(out) < budget and len(seen) < 8 * budget:
        below: list[RunNode] = []
        for dep in (d for node in frontier for d in node.deps):
            if id(dep) in seen or len(out) >= budget:
                continue
            seen.add(id(dep))
            below.append(dep)
            if not dep.requested:
                dep.requested = True
                out.append(dep)
        frontier = below
    return out
