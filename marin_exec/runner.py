"""``StepRunner``: call each step's ``executable_fn(output_path)`` once its dependencies are done (DESIGN §3).

It de-duplicates by output path, reads every status read-only (concurrently, in batches, as soon as steps are
known) and skips a SUCCESS without calling anything, runs ready steps on a bounded thread pool, never runs
dependents of a failure, and wakes only when a step finishes (no sleeps). It knows steps only through their public
fields and methods (``read_status``/``read_statuses``, ``executable_fn``): it never inspects or wraps a function.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import logging
import queue
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from marin_exec.errors import CycleError, PathCollisionError, StepsFailed
from marin_exec.run_only import select
from marin_exec.run_report import (
    BLOCKED,
    CACHED,
    DEP_FAILED,
    DONE,
    FAILED,
    FAILED_BEFORE,
    RAN,
    RUNNING_ELSEWHERE,
    WILL_RUN,
    RunReport,
    StepOutcome,
)
from marin_exec.settings import run_settings
from marin_exec.status import STATUS_FAILED, STATUS_RUNNING, STATUS_SUCCESS

if TYPE_CHECKING:  # the runner knows steps only through this contract's fields and methods
    from marin_exec.step_spec import StepSpec

logger = logging.getLogger(__name__)

# Status reads go to a few reader threads in batches of at most _STATUS_BATCH steps: object stores overlap a batch's
# requests on their event loop, and one thread hand-off per step cost more than a local read itself. Four readers
# keep ~256 object-store requests in flight (a real bucket's latency needs them); on the emulator, where our CPU
# bounds the re-run, 16 readers cost ~30 % more CPU than 4 for the same reads (GIL contention).
_STATUS_READERS = 4
_STATUS_BATCH = 64


class _Node:
    __slots__ = ("spec", "outcome", "deps", "dependents", "waiting", "status_known", "submitted", "selected")

    def __init__(self, spec: StepSpec) -> None:
        self.spec = spec
        self.outcome = StepOutcome(spec)
        self.deps: list[_Node] = []
        self.dependents: list[_Node] = []
        self.waiting = 0
        self.status_known = False
        self.submitted = False


class StepRunner:
    """Runs StepSpecs in dependency order. One instance may serve several runs."""

    def __init__(self, client: Any = None) -> None:
        self.client = client

    def run(
        self,
        steps: Iterable[StepSpec],
        *,
        dry_run: bool = False,
        force_run_failed: bool = True,
        max_concurrent: int = 8,
        run_only: list[str] | None = None,
        heartbeat_interval: float | None = None,
        lease_timeout: float | None = None,
    ) -> RunReport:
        """Run (or, with ``dry_run``, only look up) every step and what it needs; StepsFailed if any failed."""
        with contextlib.ExitStack() as stack:
            stack.enter_context(
                run_settings(
                    force_run_failed=force_run_failed,
                    heartbeat_interval=heartbeat_interval,
                    lease_timeout=lease_timeout,
                    fray_client=self.client,
                )
            )
            if self.client is not None:
                import fray

                stack.enter_context(fray.set_current_client(self.client))
            run = _Run(max_concurrent=max_concurrent, dry_run=dry_run, force_run_failed=force_run_failed)
            return run.execute(steps, run_only)


class _Run:
    def __init__(self, *, max_concurrent: int, dry_run: bool, force_run_failed: bool) -> None:
        self.dry_run = dry_run
        self.force_run_failed = force_run_failed
        self.max_concurrent = max(1, max_concurrent)
        self.nodes: dict[str, _Node] = {}
        self.by_id: dict[int, _Node] = {}
        self.events: queue.SimpleQueue[tuple[str, Any, Future[Any] | None]] = queue.SimpleQueue()
        self.unread: list[_Node] = []  # registered steps whose status is not yet being read
        self.in_flight = 0
        self.context = contextvars.copy_context()
        self.first_error: BaseException | None = None
        # run_only: steps found done while selecting; what they needed is not part of the run.
        self.done: set[int] = set()

    # -- driver ---------------------------------------------------------------------------------------------

    def execute(self, steps: Iterable[StepSpec], run_only: list[str] | None) -> RunReport:
        start = time.monotonic()
        unmatched: list[str] = []
        roots: Iterator[StepSpec]
        if run_only:
            roots, unmatched, self.done = select(steps, run_only)
        else:
            roots = iter(steps)
        with (
            ThreadPoolExecutor(self.max_concurrent, thread_name_prefix="marin-step") as self.workers,
            ThreadPoolExecutor(_STATUS_READERS, thread_name_prefix="marin-status") as self.readers,
        ):
            feeder = threading.Thread(
                target=self.context.copy().run, args=(self._feed, roots), name="marin-step-input", daemon=True
            )
            self.in_flight += 1  # the input itself counts as work in flight until it is exhausted
            feeder.start()
            try:
                while self.in_flight:
                    self._drain(block=True)
            except BaseException:
                self.workers.shutdown(wait=False, cancel_futures=True)
                self.readers.shutdown(wait=False, cancel_futures=True)
                raise
        report = RunReport(
            {path: node.outcome for path, node in self.nodes.items()},
            dry_run=self.dry_run,
            seconds=time.monotonic() - start,
            unmatched_patterns=unmatched,
        )
        if self.dry_run:
            if self.first_error is not None:
                raise self.first_error
            _plan(self.nodes.values(), self.force_run_failed)
        else:
            self._raise_failures(report)
        return report

    def _feed(self, roots: Iterator[StepSpec]) -> None:
        """Consume the input on its own thread, so a slow generator never holds up steps already known."""
        try:
            for spec in roots:
                self.events.put(("add", spec, None))
        except BaseException as e:
            self.events.put(("input_error", e, None))
        else:
            self.events.put(("input_end", None, None))

    def _drain(self, *, block: bool) -> None:
        """Handle the events that are there (waiting for one if ``block``), then start reading new statuses."""
        while True:
            try:
                kind, item, future = self.events.get(block=block)
            except queue.Empty:
                self._start_status_reads()
                return
            block = False
            if kind == "add":
                self._add(item)
                continue
            self.in_flight -= 1
            if kind == "input_error":
                raise item
            if future is not None and kind == "status":
                self._on_statuses(item, future)
            elif future is not None and kind == "run":
                self._on_finished(item, future)

    def _submit(self, kind: str, pool: ThreadPoolExecutor, item: Any, fn: Any) -> None:
        self.in_flight += 1
        future = pool.submit(self.context.copy().run, fn, item)
        future.add_done_callback(lambda f: self.events.put((kind, item, f)))

    def _start_status_reads(self) -> None:
        """Hand the unread steps to the readers: batches of at most _STATUS_BATCH, spread over all readers."""
        if not self.unread:
            return
        size = min(_STATUS_BATCH, -(-len(self.unread) // _STATUS_READERS))
        read = _read_plan_statuses if self.dry_run else _read_statuses
        for start in range(0, len(self.unread), size):
            self._submit("status", self.readers, self.unread[start : start + size], read)
        self.unread = []

    # -- graph ----------------------------------------------------------------------------------------------

    def _add(self, root: StepSpec) -> None:
        """Register ``root`` and its unseen transitive deps (deps first), without recursion; detect cycles."""
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
            if i < len(spec.deps) and id(spec) not in self.done:
                stack.append((spec, i + 1))
                dep = spec.deps[i]
                if id(dep) in on_path:
                    raise _cycle_error(dep, [s for s, _ in stack] + [dep])
                if id(dep) not in self.by_id:
                    stack.append((dep, 0))
                continue
            del on_path[id(spec)]
            self._register(spec)

    def _register(self, spec: StepSpec) -> None:
        path = spec.output_path
        existing = self.nodes.get(path)
        if existing is not None:
            if existing.spec.name != spec.name or existing.spec.version_str != spec.version_str:
                raise PathCollisionError(
                    f"steps '{existing.spec.name}' and '{spec.name}' both claim the output path {path} with "
                    "different versions; give one of them another name or override_output_path"
                )
            if _fn_name(existing.spec) != _fn_name(spec):
                raise PathCollisionError(
                    f"steps '{existing.spec.name}' and '{spec.name}' claim the output path {path} with different "
                    f"functions, {_fn_name(existing.spec)} and {_fn_name(spec)}; give one of them another name, "
                    "hash_attrs or override_output_path"
                )
            self.by_id[id(spec)] = existing
            return
        node = _Node(spec)
        self.nodes[path] = node
        self.by_id[id(spec)] = node
        seen: set[int] = set()
        for dep_spec in spec.deps:
            dep = self.by_id.get(id(dep_spec))
            if dep is None:  # a dep of a step found done by run_only: not waited for
                continue
            if id(dep) in seen:
                continue
            seen.add(id(dep))
            node.deps.append(dep)
            dep.dependents.append(node)
            if dep.outcome.state in (FAILED, DEP_FAILED):
                self._mark_dep_failed(node, dep)
            elif dep.outcome.state not in (RAN, CACHED):
                node.waiting += 1
        self.unread.append(node)
        if len(self.unread) >= _STATUS_READERS * _STATUS_BATCH:  # a long burst of input: start reading meanwhile
            self._start_status_reads()

    # -- events ---------------------------------------------------------------------------------------------

    def _on_statuses(self, nodes: list[_Node], future: Future[Any]) -> None:
        error = future.exception()
        statuses = [error] * len(nodes) if error is not None else future.result()
        for node, status in zip(nodes, statuses, strict=True):
            self._on_status(node, status)

    def _on_status(self, node: _Node, status: str | None | BaseException) -> None:
        node.status_known = True
        if isinstance(status, BaseException):
            node.outcome.status = None
            node.outcome.reason = f"status could not be read: {status!r}"
            if self.dry_run and self.first_error is None:  # an unread step must not be shown as "will run"
                self.first_error = status
        else:
            node.outcome.status = status
        if self.dry_run or node.outcome.state == DEP_FAILED:
            return
        if node.outcome.status == STATUS_SUCCESS:
            logger.info(f"{node.spec.name}: skip, already done ({node.spec.output_path})")
            self._settle(node, CACHED)
        else:
            self._maybe_start(node)

    def _maybe_start(self, node: _Node) -> None:
        if node.submitted or node.waiting or not node.status_known or node.outcome.state != "pending":
            return
        node.submitted = True
        node.outcome.state = "running"
        logger.info(f"{node.spec.name}: start ({node.spec.output_path})")
        self._submit("run", self.workers, node, _call_step)

    def _on_finished(self, node: _Node, future: Future[Any]) -> None:
        error = future.exception()
        node.outcome.seconds = future.result()[1] if error is None else getattr(error, "_marin_seconds", None)
        if error is None:
            logger.info(f"{node.spec.name}: finished in {node.outcome.seconds:.2f} s")
            self._settle(node, RAN)
            return
        node.outcome.error = error
        logger.error(f"{node.spec.name}: failed: {type(error).__name__}: {error}")
        if self.first_error is None:
            self.first_error = error
        self._settle(node, FAILED)

    def _settle(self, node: _Node, state: str) -> None:
        node.outcome.state = state
        for dependent in node.dependents:
            if state in (RAN, CACHED):
                dependent.waiting -= 1
                self._maybe_start(dependent)
            else:
                self._mark_dep_failed(dependent, node)

    def _mark_dep_failed(self, node: _Node, cause: _Node) -> None:
        pending = [(node, cause)]
        while pending:
            current, because = pending.pop()
            if current.outcome.state in (DEP_FAILED, FAILED, RAN, CACHED, "running"):
                continue
            current.outcome.state = DEP_FAILED
            current.outcome.reason = f"depends on {because.spec.name}, which failed"
            logger.warning(f"{current.spec.name}: not run: {current.outcome.reason}")
            pending.extend((d, current) for d in current.dependents)

    def _raise_failures(self, report: RunReport) -> None:
        failed = report.by_state(FAILED)
        if not failed:
            return
        dep_failed = report.by_state(DEP_FAILED)
        names = [o.spec.name_with_hash for o in failed]
        message = f"{len(failed)} step(s) failed: {', '.join(names)}"
        raise StepsFailed(message, failed=names, dep_failed=[o.spec.name_with_hash for o in dep_failed]) from (
            self.first_error
        )


def _read_statuses(nodes: list[_Node]) -> list[str | None | Exception]:
    """The statuses of a batch of steps (an exception in place of one that could not be read)."""
    reader = getattr(type(nodes[0].spec), "read_statuses", None)
    if reader is not None and all(type(n.spec) is type(nodes[0].spec) for n in nodes):
        statuses: list[str | None | Exception] = reader([n.spec for n in nodes])
        return statuses
    return [_read_one(n.spec) for n in nodes]


def _read_one(spec: StepSpec) -> str | None | Exception:
    try:
        return spec.read_status()
    except Exception as error:
        return error


def _read_plan_statuses(nodes: list[_Node]) -> list[str | None | Exception]:
    """For a dry run: the statuses, and whether a live lease is held (stored on the outcome).

    Only a RUNNING step is looked up: a holder writes RUNNING right after it takes the lease, so other statuses
    with a live lease last only an instant, and the extra read would double a dry run's cost on object stores.
    """
    statuses = _read_statuses(nodes)
    for i, node in enumerate(nodes):
        if statuses[i] == STATUS_RUNNING:
            try:
                node.outcome.lease_held = _lease_held(node.spec)
            except Exception as error:  # this step's plan says why; the rest of the batch is unaffected
                statuses[i] = error
    return statuses


def _call_step(node: _Node) -> tuple[Any, float]:
    start = time.monotonic()
    try:
        result = node.spec.executable_fn(node.spec.output_path)
    except BaseException as e:
        e._marin_seconds = time.monotonic() - start  # type: ignore[attr-defined]
        raise
    return result, time.monotonic() - start


def _plan(nodes: Iterable[_Node], force_run_failed: bool) -> None:
    """Classify each step of a dry run from the statuses read (nodes come deps first)."""
    for node in nodes:
        outcome, status = node.outcome, node.outcome.status
        blocked_by = [
            d
            for d in node.deps
            if d.outcome.state == BLOCKED or d.outcome.state == FAILED_BEFORE and not force_run_failed
        ]
        if status == STATUS_SUCCESS:
            outcome.state, outcome.reason = DONE, "already succeeded"
        elif blocked_by:
            outcome.state = BLOCKED
            outcome.reason = f"needs {blocked_by[0].spec.name}, which will not run"
        elif status == STATUS_FAILED:
            if force_run_failed:
                outcome.state, outcome.reason = WILL_RUN, "failed before; will be retried (force_run_failed)"
            else:
                outcome.state = FAILED_BEFORE
                outcome.reason = "failed before; rerun with --force_run_failed true"
        elif outcome.lease_held:
            outcome.state, outcome.reason = RUNNING_ELSEWHERE, "another worker holds its lease; will wait for it"
        else:
            outcome.state = WILL_RUN
            outcome.reason = "never ran" if status is None else f"status {status}"


def _lease_held(spec: StepSpec) -> bool:
    return spec.lease_holder() is not None


def _fn_name(spec: StepSpec) -> str:
    """``module.qualname`` of the function a spec runs (what a compiled StepCall calls), for collision checks."""
    fn = inspect.unwrap(spec.fn)  # type: ignore[arg-type]
    while isinstance(fn, functools.partial):
        fn = inspect.unwrap(fn.func)
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', type(fn).__qualname__)}"


def _cycle_error(start: StepSpec, path: list[StepSpec]) -> CycleError:
    names = [s.name for s in path]
    first = next(i for i, s in enumerate(path) if s is start)
    cycle = " -> ".join(names[first:])
    return CycleError(
        f"dependency cycle: {cycle}. A step cannot (indirectly) depend on itself; remove one of these deps"
    )
