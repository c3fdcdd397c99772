"""``StepRunner``: call each step's ``executable_fn(output_path)`` once its dependencies are done (DESIGN §3).

It de-duplicates by output path and walks from its input steps toward their inputs (``run.prune``, DESIGN §5b),
reading statuses in batches (concurrent on object stores, on its own thread for local ones): a built step is skipped
uncalled and what it needs is neither scheduled nor read. It runs ready steps on a bounded thread pool, never runs
dependents of a failure, wakes only when a step finishes (no sleeps), and obeys a ``RunStop``. A dry run's verdicts
are ``run.plan``'s. It knows steps only through their public fields and methods (``read_status(es)``,
``executable_fn``, ``mutable``): it never inspects or wraps a function, installs no signal handler and releases no
lease (the CLI does, around it).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import queue
import threading
import time
from collections.abc import Collection, Iterable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from marin_exec.progress import Silent, current_progress
from marin_exec.run import prune
from marin_exec.run.input_feed import InputFeed
from marin_exec.run.plan import classify, explain, read_plan_statuses, read_statuses
from marin_exec.run.run_report import RunReport, StepOutcome, StepState
from marin_exec.run.same_name import warn_same_names
from marin_exec.run.status_readers import BATCH, OBJECT_STORE_READERS, READ_AHEAD, reader_pool
from marin_exec.run.step_call import call_step, raise_failures, record_call
from marin_exec.run.step_graph import UNREAD, RunNode, StepGraph, mark_dep_failed
from marin_exec.run.stop import RunStop, StopLevel, mark_stopped
from marin_exec.run.why import warn_drift
from marin_exec.settings import current_run_settings, refuse_unsafe, run_settings

if TYPE_CHECKING:  # the runner knows steps only through this contract's fields and methods
    from marin_exec.compile.step_spec import StepSpec

logger = logging.getLogger(__name__)

_NOT_STARTED: Any = object()
_SETTLED = (StepState.DEP_FAILED, StepState.FAILED, StepState.RAN, StepState.CACHED)


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
        clock_skew_allowance: float | None = None,
        stop: RunStop | None = None,
        rebuild: Collection[str] = (),
    ) -> RunReport:
        """Run (or, with ``dry_run``, only look up) every step and what it needs; StepsFailed if any failed. ``stop``
        (``run.stop``) lets another thread end the run early (the report holds its failures). ``rebuild``: output
        paths never taken as built, so the walk reaches their inputs (``--force_rerun``'s: a dry run clears none)."""
        with contextlib.ExitStack() as stack:
            timings = dict(heartbeat_interval=heartbeat_interval, lease_timeout=lease_timeout)
            settings = dict(force_run_failed=force_run_failed, clock_skew_allowance=clock_skew_allowance)
            stack.enter_context(run_settings(**timings, **settings, fray_client=self.client))
            refuse_unsafe(current_run_settings(), max_concurrent)  # before any step starts
            if self.client is not None:
                from fray.current_client import set_current_client

                stack.enter_context(set_current_client(self.client))
            run = _Run(max_concurrent=max_concurrent, dry_run=dry_run, force_run_failed=force_run_failed, stop=stop)
            run.rebuild = frozenset(rebuild)  # output paths never taken as built
            return run.execute(steps, run_only)


class _Run:
    def __init__(self, *, max_concurrent: int, dry_run: bool, force_run_failed: bool, stop: RunStop | None) -> None:
        self.dry_run = dry_run
        self.force_run_failed = force_run_failed
        self.max_concurrent = max_concurrent
        self.graph = StepGraph()
        self.events: queue.SimpleQueue[tuple[str, Any, Future[Any] | None]] = queue.SimpleQueue()
        self.unread: list[RunNode] = []  # registered steps whose status is not yet being read
        self.in_flight = 0
        self.context = contextvars.copy_context()
        self.first_error: BaseException | None = None
        self.stop = stop or RunStop()
        self.running: set[RunNode] = set()  # steps handed to the worker pool and not finished
        self.started: dict[RunNode, float] = {}  # those whose function was called, when (a pool may queue others)
        self.starting = threading.Lock()  # a step starts, or is skipped by a stop, under this lock
        self.cached: list[StepOutcome] = []  # cached steps whose drift is not yet checked
        self.progress = (None if dry_run else current_progress()) or Silent()  # the lock reports its own waits
        self.rebuild: frozenset[str] = frozenset()
        self.not_built = 0  # needed steps found not built: how far below the walk statuses are read ahead

    def execute(self, steps: Iterable[StepSpec], run_only: list[str] | None) -> RunReport:
        start = time.monotonic()
        roots, unmatched = prune.input_steps(steps, run_only)  # run.prune: where the walk starts
        # No ``with``: its exit would wait for every step thread, and a stopped run must not wait for a blocked one.
        self.workers = ThreadPoolExecutor(self.max_concurrent, thread_name_prefix="marin-step")
        self.readers: Executor | None = None  # chosen for the store of the first step read
        self.feed = InputFeed(roots, READ_AHEAD, self.events.put)
        self.in_flight += 1  # the input itself counts as work in flight until it is exhausted
        self.feed.start(self.context.copy().run)
        self.stop.attach(lambda: self.events.put(("stop", None, None)))  # SimpleQueue.put: safe in a signal handler
        try:
            while self._busy():
                self._drain(block=True)
            warn_drift(self.cached)  # the last, partial batch
        except BaseException:
            self._shut_down(wait=False)
            raise
        finally:
            self.stop.detach()
        self._shut_down(wait=not self.stop.level)
        prune.mark_pruned(self.graph.nodes.values(), self.rebuild)  # first: a pruned step is never "not started"
        if self.stop.level:
            self._mark_stopped()
        outcomes = {path: node.outcome for path, node in self.graph.nodes.items()}
        report = RunReport(outcomes, self.dry_run, time.monotonic() - start, unmatched)
        if self.dry_run:
            if self.first_error is not None:
                raise self.first_error
            needed = [node for node in self.graph.nodes.values() if node.needed]
            classify(needed, self.force_run_failed)
            explain(needed)
        elif not self.stop.level:  # a stopped run's caller reads the failures in the report
            raise_failures(report, self.first_error)
        return report

    def _busy(self) -> bool:  # a draining run waits only for its running steps
        return bool(self.in_flight if not self.stop.level else self.running and self.stop.level == StopLevel.DRAIN)

    def _shut_down(self, *, wait: bool) -> None:
        self.workers.shutdown(wait=wait, cancel_futures=True)
        if self.readers is not None:
            self.readers.shutdown(wait=wait, cancel_futures=True)

    def _on_stop(self) -> None:
        on_drain, self.stop.on_drain = self.stop.on_drain, None  # said once
        if on_drain is not None and self.stop.level == StopLevel.DRAIN:
            with self.starting:
                on_drain([node.spec.name_with_hash for node in self.running & self.started.keys()])

    def _mark_stopped(self) -> None:
        """After a stop: take in the steps that finished meanwhile, then say what was interrupted or never started."""
        with contextlib.suppress(queue.Empty):
            while True:
                kind, item, future = self.events.get_nowait()
                if kind == "run" and future is not None and not future.cancelled():  # cancelled: never started
                    self._on_finished(item, future)
        with self.starting:  # a step still queued in the pool now never starts
            mark_stopped(self.graph.nodes.values(), self.started)

    def _drain(self, *, block: bool) -> None:
        """Handle the events that are there (waiting for one if ``block``), then start reading new statuses."""
        while True:
            try:
                kind, item, future = self.events.get(block=block)
            except queue.Empty:
                self._start_status_reads()
                return
            block = False
            if kind == "stop":
                self._on_stop()
                continue
            if kind == "add":
                for spec in self.feed.take():
                    self.graph.add(spec, lambda node: None)  # nothing is read until the walk needs it
                    node = self.graph.by_id[id(spec)]
                    if self._need(node):
                        self._judge([node])
                    self._hold_permit(node)
                continue
            self.in_flight -= 1
            if kind == "input_error":
                raise item
            if kind == "input_end":  # every step is known now: same-named steps are told once, with their count
                warn_same_names(node.spec for node in self.graph.nodes.values())
            if future is not None and kind == "status":
                self._on_statuses(item, future)
            elif future is not None and kind == "run":
                self._on_finished(item, future)

    def _hold_permit(self, node: RunNode) -> None:
        """The input step behind ``node`` stays pulled ahead until ``node`` settles."""
        node.permits += 1
        if node.status_known if self.dry_run else node.outcome.state in _SETTLED:
            self._release(node)

    def _release(self, node: RunNode) -> None:
        self.feed.release(node.permits)
        node.permits = 0

    def _submit(self, kind: str, pool: Executor, item: Any, fn: Any) -> None:
        self.in_flight += 1
        future = pool.submit(self.context.copy().run, fn, item)
        future.add_done_callback(lambda f: self.events.put((kind, item, f)))

    def _start_status_reads(self) -> None:
        """Hand the unread steps, and as many below them as were found not built so far (``prune.read_ahead``), to
        the readers in full batches (batches of 16 cost a 10,000-step cached re-run ~0.5 s)."""
        if not self.unread:
            return
        self.unread += prune.read_ahead(self.unread, min(self.not_built, OBJECT_STORE_READERS * BATCH))
        read = read_plan_statuses if self.dry_run else read_statuses
        if self.readers is None:
            self.readers = reader_pool(self.unread[0].spec.output_path)
        for start in range(0, len(self.unread), BATCH):
            self._submit("status", self.readers, self.unread[start : start + BATCH], read)
        self.unread = []

    def _need(self, node: RunNode) -> bool:
        """``node`` joins the pruned walk (an input step, or an input of a step found not built): count what it waits
        for, queue its status read; True if that was read ahead, so it is to be judged now. Steps never needed are
        pruned (``prune.mark_pruned``)."""
        if node.needed:
            return False
        node.needed = True
        for dep in node.deps:
            if dep.outcome.state in (StepState.FAILED, StepState.DEP_FAILED):
                self._mark_dep_failed(node, dep)
            elif dep.outcome.state not in (StepState.RAN, StepState.CACHED):
                node.waiting += 1
        self.progress.add_total(1)
        if node.requested:
            return node.read is not UNREAD
        node.requested = True
        self.unread.append(node)
        if len(self.unread) >= OBJECT_STORE_READERS * BATCH:  # a wide wave: start reading meanwhile
            self._start_status_reads()
        return False

    def _on_statuses(self, nodes: list[RunNode], future: Future[Any]) -> None:
        error = future.exception()
        statuses = [error] * len(nodes) if error is not None else future.result()
        for node, status in zip(nodes, statuses, strict=True):
            node.read = status
        self._judge([node for node in nodes if node.needed])  # those read ahead wait until (if) they are needed

    def _judge(self, nodes: list[RunNode]) -> None:
        """Act on needed steps' statuses; the inputs of one not built join the walk (judged in turn if read)."""
        pending = nodes[::-1]  # in the order given: the first may take the last free slot
        while pending:
            node = pending.pop()
            self._on_status(node, node.read)
            if not prune.is_built(node.spec, node.outcome.status, self.rebuild):
                self.not_built += 1
                pending.extend([dep for dep in node.deps if self._need(dep)][::-1])

    def _on_status(self, node: RunNode, status: str | None | BaseException) -> None:
        node.status_known = True
        if isinstance(status, BaseException):
            node.outcome.status = None
            node.outcome.reason = f"status could not be read: {status!r}"
            if self.dry_run and self.first_error is None:  # an unread step must not be shown as "will run"
                self.first_error = status
        else:
            node.outcome.status = status
        if self.dry_run:
            self._release(node)
            return
        if node.outcome.state == StepState.DEP_FAILED:
            return
        if prune.is_built(node.spec, node.outcome.status, self.rebuild):
            logger.debug(f"{node.spec.name}: skip, already done ({node.spec.output_path})")  # the Summary counts them
            self.cached.append(node.outcome)
            if len(self.cached) >= BATCH and self.readers is not None:  # drift: read the recorded config meanwhile
                self._submit("drift", self.readers, self.cached, warn_drift)
                self.cached = []
            self._settle(node, StepState.CACHED)
        else:
            self._maybe_start(node)

    def _maybe_start(self, node: RunNode) -> None:
        ready = node.status_known and not (node.submitted or node.waiting) and node.outcome.state == StepState.PENDING
        if not ready or self.stop.level:  # a stopped run starts nothing new
            return
        node.submitted = True
        node.outcome.state = StepState.RUNNING
        self.running.add(node)
        logger.info(f"{node.spec.name}: start ({node.spec.output_path})")
        self.progress.step_started(node.spec.output_path)
        self._submit("run", self.workers, node, self._call_step)

    def _on_finished(self, node: RunNode, future: Future[Any]) -> None:
        self.running.discard(node)
        if node not in self.started:  # stopped while it was queued: mark_stopped says so
            return
        if isinstance(gone := future.exception(), prune.PrunedOutputGone):  # not called: an input is no longer built
            self.first_error = self.first_error or gone
            return prune.fail_gone(gone, node, self._mark_dep_failed)
        error = record_call(node.spec.name, node.outcome, future)
        self.first_error = self.first_error or error
        self._settle(node, StepState.RAN if error is None else StepState.FAILED)

    def _settle(self, node: RunNode, state: StepState) -> None:
        node.outcome.state = state
        self.progress.step_finished(node.spec.output_path, state)
        self._release(node)
        for dependent in node.dependents:
            if not dependent.needed:  # counts what it waits for when (if) the walk needs it
                continue
            if state in (StepState.RAN, StepState.CACHED):
                dependent.waiting -= 1
                self._maybe_start(dependent)
            else:
                self._mark_dep_failed(dependent, node)

    def _mark_dep_failed(self, node: RunNode, cause: RunNode) -> None:
        for blocked in mark_dep_failed(node, cause):
            self.progress.step_finished(blocked.spec.output_path, StepState.DEP_FAILED)
            self._release(blocked)

    def _call_step(self, node: RunNode) -> Any:
        """In a worker thread: call the step's function, unless the run was stopped while the step was queued."""
        with self.starting:
            if self.stop.level:
                return _NOT_STARTED
            self.started[node] = time.monotonic()
        prune.confirm_pruned(node)
        prune.rebuild_mutable(node.spec, node.outcome.status)  # dev rebuilds on every run, outside executor_main too
        return call_step(node.spec)
