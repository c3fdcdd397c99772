"""``StepRunner``: call each step's ``executable_fn(output_path)`` once its dependencies are done (DESIGN §3).

It de-duplicates by output path, reads every status read-only (concurrently, in batches, as soon as steps are
known) and skips a SUCCESS without calling anything, runs ready steps on a bounded thread pool, never runs
dependents of a failure, and wakes only when a step finishes (no sleeps). What a dry run reports for each step is
decided in ``run.plan``. It knows steps only through their public
fields and methods (``read_status``/``read_statuses``, ``executable_fn``): it never inspects or wraps a function.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import queue
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from marin_exec.errors import StepsFailed
from marin_exec.progress import current_progress
from marin_exec.run.plan import classify, explain, read_plan_statuses, read_statuses
from marin_exec.run.run_only import select
from marin_exec.run.run_report import RunReport, StepOutcome, StepState
from marin_exec.run.step_graph import RunNode, StepGraph
from marin_exec.run.why import warn_drift
from marin_exec.settings import run_settings
from marin_exec.status.status import STATUS_SUCCESS

if TYPE_CHECKING:  # the runner knows steps only through this contract's fields and methods
    from marin_exec.compile.step_spec import StepSpec

logger = logging.getLogger(__name__)

# Status reads go to a few reader threads in batches of at most _STATUS_BATCH steps: object stores overlap a batch's
# requests on their event loop, and one thread hand-off per step cost more than a local read itself. Four readers
# keep ~256 object-store requests in flight (a real bucket's latency needs them); on the emulator, where our CPU
# bounds the re-run, 16 readers cost ~30 % more CPU than 4 for the same reads (GIL contention).
_STATUS_READERS = 4
_STATUS_BATCH = 64
# How many input steps may be pulled ahead of those settled: enough to keep every status reader busy with full
# batches twice over, never the whole input (an unbounded generator may stop once a step it yielded runs).
_READ_AHEAD = 2 * _STATUS_READERS * _STATUS_BATCH
_END: Any = object()
_SETTLED = (StepState.DEP_FAILED, StepState.FAILED, StepState.RAN, StepState.CACHED)
_SETTLED_OR_RUNNING = (*_SETTLED, StepState.RUNNING)


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
        self.graph = StepGraph()
        self.events: queue.SimpleQueue[tuple[str, Any, Future[Any] | None]] = queue.SimpleQueue()
        self.unread: list[RunNode] = []  # registered steps whose status is not yet being read
        self.in_flight = 0
        self.context = contextvars.copy_context()
        self.first_error: BaseException | None = None
        self.read_ahead = threading.Semaphore(_READ_AHEAD)
        self.cached: list[StepOutcome] = []  # cached steps whose drift is not yet checked
        self.progress = None if dry_run else current_progress()  # fed events; the lock reports its waits itself

    # -- driver ---------------------------------------------------------------------------------------------

    def execute(self, steps: Iterable[StepSpec], run_only: list[str] | None) -> RunReport:
        start = time.monotonic()
        unmatched: list[str] = []
        roots: Iterator[StepSpec]
        if run_only:
            roots, unmatched, self.graph.done = select(steps, run_only)
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
                warn_drift(self.cached)  # the last, partial batch
            except BaseException:
                self.workers.shutdown(wait=False, cancel_futures=True)
                self.readers.shutdown(wait=False, cancel_futures=True)
                raise
        report = RunReport(
            {path: node.outcome for path, node in self.graph.nodes.items()},
            dry_run=self.dry_run,
            seconds=time.monotonic() - start,
            unmatched_patterns=unmatched,
        )
        if self.dry_run:
            if self.first_error is not None:
                raise self.first_error
            classify(self.graph.nodes.values(), self.force_run_failed)
            explain(self.graph.nodes.values())
        else:
            self._raise_failures(report)
        return report

    def _feed(self, roots: Iterator[StepSpec]) -> None:
        """Consume the input on its own thread, so a slow generator never holds up steps already known."""
        try:
            while True:
                self.read_ahead.acquire()  # released when the step settles: bounded read-ahead
                spec = next(roots, _END)
                if spec is _END:
                    break
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
                self.graph.add(item, self._on_registered)
                self._hold_permit(self.graph.by_id[id(item)])
                continue
            self.in_flight -= 1
            if kind == "input_error":
                raise item
            if future is not None and kind == "status":
                self._on_statuses(item, future)
            elif future is not None and kind == "run":
                self._on_finished(item, future)

    def _hold_permit(self, node: RunNode) -> None:
        """The input step behind ``node`` stays pulled ahead until ``node`` settles."""
        node.permits += 1
        settled = node.status_known if self.dry_run else node.outcome.state in _SETTLED
        if settled:
            self._release(node)

    def _release(self, node: RunNode) -> None:
        for _ in range(node.permits):
            self.read_ahead.release()
        node.permits = 0

    def _submit(self, kind: str, pool: ThreadPoolExecutor, item: Any, fn: Any) -> None:
        self.in_flight += 1
        future = pool.submit(self.context.copy().run, fn, item)
        future.add_done_callback(lambda f: self.events.put((kind, item, f)))

    def _start_status_reads(self) -> None:
        """Hand the unread steps to the readers: batches of at most _STATUS_BATCH, spread over all readers."""
        if not self.unread:
            return
        size = min(_STATUS_BATCH, -(-len(self.unread) // _STATUS_READERS))
        read = read_plan_statuses if self.dry_run else read_statuses
        for start in range(0, len(self.unread), size):
            self._submit("status", self.readers, self.unread[start : start + size], read)
        self.unread = []

    # -- events ---------------------------------------------------------------------------------------------

    def _on_registered(self, node: RunNode) -> None:
        """A new step joined the run (its deps are linked): count what it waits for, queue its status read."""
        for dep in node.deps:
            if dep.outcome.state in (StepState.FAILED, StepState.DEP_FAILED):
                self._mark_dep_failed(node, dep)
            elif dep.outcome.state not in (StepState.RAN, StepState.CACHED):
                node.waiting += 1
        self.unread.append(node)
        if self.progress is not None:
            self.progress.add_total(1)
        if len(self.unread) >= _STATUS_READERS * _STATUS_BATCH:  # a long burst of input: start reading meanwhile
            self._start_status_reads()

    def _on_statuses(self, nodes: list[RunNode], future: Future[Any]) -> None:
        error = future.exception()
        statuses = [error] * len(nodes) if error is not None else future.result()
        for node, status in zip(nodes, statuses, strict=True):
            self._on_status(node, status)

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
        if node.outcome.status == STATUS_SUCCESS:
            logger.info(f"{node.spec.name}: skip, already done ({node.spec.output_path})")
            self.cached.append(node.outcome)
            if len(self.cached) >= _STATUS_BATCH:  # drift warnings read the recorded config beside the run
                self._submit("drift", self.readers, self.cached, warn_drift)
                self.cached = []
            self._settle(node, StepState.CACHED)
        else:
            self._maybe_start(node)

    def _maybe_start(self, node: RunNode) -> None:
        if node.submitted or node.waiting or not node.status_known or node.outcome.state != StepState.PENDING:
            return
        node.submitted = True
        node.outcome.state = StepState.RUNNING
        logger.info(f"{node.spec.name}: start ({node.spec.output_path})")
        if self.progress is not None:
            self.progress.step_started(node.spec.output_path)
        self._submit("run", self.workers, node, _call_step)

    def _on_finished(self, node: RunNode, future: Future[Any]) -> None:
        error = future.exception()
        node.outcome.seconds = future.result()[1] if error is None else getattr(error, "_marin_seconds", None)
        if error is None:
            logger.info(f"{node.spec.name}: finished in {node.outcome.seconds:.2f} s")
            self._settle(node, StepState.RAN)
            return
        node.outcome.error = error
        logger.error(f"{node.spec.name}: failed: {type(error).__name__}: {error}")
        if self.first_error is None:
            self.first_error = error
        self._settle(node, StepState.FAILED)

    def _settle(self, node: RunNode, state: StepState) -> None:
        node.outcome.state = state
        if self.progress is not None:
            self.progress.step_finished(node.spec.output_path, state)
        self._release(node)
        for dependent in node.dependents:
            if state in (StepState.RAN, StepState.CACHED):
                dependent.waiting -= 1
                self._maybe_start(dependent)
            else:
                self._mark_dep_failed(dependent, node)

    def _mark_dep_failed(self, node: RunNode, cause: RunNode) -> None:
        pending = [(node, cause)]
        while pending:
            current, because = pending.pop()
            if current.outcome.state in (
                StepState.DEP_FAILED,
                StepState.FAILED,
                StepState.RAN,
                StepState.CACHED,
                StepState.RUNNING,
            ):
                continue
            current.outcome.state = StepState.DEP_FAILED
            if self.progress is not None:
                self.progress.step_finished(current.spec.output_path, StepState.DEP_FAILED)
            self._release(current)
            current.outcome.reason = f"depends on {because.spec.name}, which failed"
            logger.warning(f"{current.spec.name}: not run: {current.outcome.reason}")
            pending.extend((d, current) for d in current.dependents)

    def _raise_failures(self, report: RunReport) -> None:
        failed = report.by_state(StepState.FAILED)
        if not failed:
            return
        dep_failed = report.by_state(StepState.DEP_FAILED)
        names = [o.spec.name_with_hash for o in failed]
        message = f"{len(failed)} step(s) failed: {', '.join(names)}"
        raise StepsFailed(message, failed=names, dep_failed=[o.spec.name_with_hash for o in dep_failed]) from (
            self.first_error
        )


def _call_step(node: RunNode) -> tuple[Any, float]:
    start = time.monotonic()
    try:
        result = node.spec.executable_fn(node.spec.output_path)
    except BaseException as e:
        e._marin_seconds = time.monotonic() - start  # type: ignore[attr-defined]
        raise
    return result, time.monotonic() - start
