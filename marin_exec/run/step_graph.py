"""The runner's step graph: one ``RunNode`` per output path, deps linked, cycles and path collisions refused.

Steps are added as the input yields them, each with its unseen transitive deps (deps first, without recursion).
Two specs with the same output path must be the same step (same name, version and function); they then share a
node. ``terminals`` gives the steps of a plan that nothing else in it needs: the runner's pruned walk starts there
(DESIGN §5b). This module reads no status and runs nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from marin_exec.errors import CycleError, PathCollisionError
from marin_exec.naming import qualified_name
from marin_exec.run.run_report import StepOutcome, StepState

if TYPE_CHECKING:
    from marin_exec.compile.step_spec import StepSpec

logger = logging.getLogger("marin_exec.run.runner")  # the runner's log: what it decided
_SETTLED_OR_RUNNING = (StepState.DEP_FAILED, StepState.FAILED, StepState.RAN, StepState.CACHED, StepState.RUNNING)


UNREAD: Any = object()  # ``RunNode.read`` before its status read returns


class RunNode:
    """One step of a run: its spec and outcome, the steps it waits for and the steps waiting for it."""

    __slots__ = (
        "spec",
        "outcome",
        "deps",
        "dependents",
        "waiting",
        "status_known",
        "submitted",
        "permits",
        "needed",
        "requested",
        "read",
    )

    def __init__(self, spec: StepSpec) -> None:
        self.spec = spec
        self.outcome = StepOutcome(spec)
        self.deps: list[RunNode] = []
        self.dependents: list[RunNode] = []
        self.waiting = 0
        self.status_known = False
        self.submitted = False
        self.permits = 0  # input steps pulled ahead that this node stands for (the runner's bounded read-ahead)
        # Part of the pruned walk (DESIGN §5b): an input step, or needed by a step found not built. Only needed
        # steps have their status read; the others stay "pruned" unless something needs them later.
        self.needed = False
        self.requested = False  # its status read is queued or done (needed, or read ahead: ``run.prune.read_ahead``)
        self.read: Any = UNREAD  # what that read gave (a status, None, or the exception), judged once needed


class StepGraph:
    """The steps of one run by output path (``nodes``) and by spec identity (``by_id``)."""

    def __init__(self) -> None:
        self.nodes: dict[str, RunNode] = {}
        self.by_id: dict[int, RunNode] = {}

    def add(self, root: StepSpec, on_new: Callable[[RunNode], None]) -> None:
        """Register ``root`` and its unseen transitive deps (deps first), without recursion; detect cycles.

        ``on_new`` is called with each newly registered node right after its deps are linked.
        """
        if id(root) in self.by_id:
            return
        on_path: dict[int, StepSpec] = {}
        stack: list[tuple[StepSpec, int]] = [(root, 0)]
        while stack:
            spec, i = stack.pop()
            if i == 0:
                if id(spec) in on_path:
                    raise _cycle_error(spec, [s for s, _ in stack] + [spec])
                on_path[id(spec)] = spec
            if i < len(spec.deps):
                stack.append((spec, i + 1))
                dep = spec.deps[i]
                if id(dep) in on_path:
                    raise _cycle_error(dep, [s for s, _ in stack] + [dep])
                if id(dep) not in self.by_id:
                    stack.append((dep, 0))
                continue
            del on_path[id(spec)]
            self._register(spec, on_new)

    def _register(self, spec: StepSpec, on_new: Callable[[RunNode], None]) -> None:
        path = spec.output_path
        existing = self.nodes.get(path)
        if existing is not None:
            if existing.spec.name != spec.name or existing.spec.version_str != spec.version_str:
                raise PathCollisionError(
                    f"steps '{existing.spec.name}' and '{spec.name}' both claim the output path {path} with "
                    "different versions; give one of them another name or override_output_path"
                )
            if qualified_name(existing.spec.fn, unwrap=True) != qualified_name(spec.fn, unwrap=True):
                raise PathCollisionError(
                    f"steps '{existing.spec.name}' and '{spec.name}' claim the output path {path} with different "
                    f"functions, {qualified_name(existing.spec.fn, unwrap=True)} and "
                    f"{qualified_name(spec.fn, unwrap=True)}; give one of them another name, hash_attrs or "
                    "override_output_path"
                )
            self.by_id[id(spec)] = existing
            return
        node = RunNode(spec)
        self.nodes[path] = node
        self.by_id[id(spec)] = node
        seen: set[int] = set()
        for dep_spec in spec.deps:
            dep = self.by_id[id(dep_spec)]
            if id(dep) in seen:
                continue
            seen.add(id(dep))
            node.deps.append(dep)
            dep.dependents.append(node)
        on_new(node)


def mark_dep_failed(node: RunNode, cause: RunNode) -> list[RunNode]:
    """Mark ``node`` and what needs it, transitively, blocked by the failed ``cause`` (steps the walk needs and that
    are neither settled nor running); returns those marked."""
    marked: list[RunNode] = []
    pending = [(node, cause)]
    while pending:
        current, because = pending.pop()
        if current.outcome.state in _SETTLED_OR_RUNNING or not current.needed:
            continue
        current.outcome.state = StepState.DEP_FAILED
        current.outcome.reason = f"depends on {because.spec.name}, which failed"
        current.outcome.blocked_by = because.spec.name_with_hash
        logger.warning(f"{current.spec.name}: not run: {current.outcome.reason}")
        marked.append(current)
        pending.extend((d, current) for d in current.dependents)
    return marked


def terminals(steps: Sequence[StepSpec]) -> list[StepSpec]:
    """The steps of ``steps`` that no step reachable from them needs (by output path), in their order, once each.

    A depth-first walk of the whole plan without recursion and without I/O; a cycle is a CycleError, found before
    any identity is computed (an identity of a cycle never ends).
    """
    needed: dict[int, StepSpec] = {}
    state: dict[int, bool] = {}  # False: on the current path, True: finished
    for root in steps:
        if id(root) in state:
            continue
        state[id(root)] = False
        stack: list[tuple[StepSpec, int]] = [(root, 0)]
        while stack:
            spec, i = stack[-1]
            if i == len(spec.deps):
                state[id(spec)] = True
                stack.pop()
                continue
            stack[-1] = (spec, i + 1)
            dep = spec.deps[i]
            needed[id(dep)] = dep
            seen = state.get(id(dep))
            if seen is False:
                raise _cycle_error(dep, [s for s, _ in stack] + [dep])
            if seen is None:
                state[id(dep)] = False
                stack.append((dep, 0))
    paths = {dep.output_path for dep in needed.values()}
    chosen: set[int] = set()
    out: list[StepSpec] = []
    for spec in steps:  # two specs of one path both stay: the graph shares their node or refuses the collision
        if id(spec) not in chosen and spec.output_path not in paths:
            chosen.add(id(spec))
            out.append(spec)
    return out


def _cycle_error(start: StepSpec, path: list[StepSpec]) -> CycleError:
    names = [s.name for s in path]
    first = next(i for i, s in enumerate(path) if s is start)
    cycle = " -> ".join(names[first:])
    return CycleError(
        f"dependency cycle: {cycle}. A step cannot (indirectly) depend on itself; remove one of these deps"
    )
