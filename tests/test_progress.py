"""Progress: done/total, running steps with elapsed time, waits with holder and heartbeat age; a status line off a
terminal, a live display on one. Time is a fake clock the tests move; drawing is driven by tick()."""

from __future__ import annotations

import contextvars
import io
import logging
import os
import threading

from marin_exec import distributed_lock, run_settings
from marin_exec.progress import reporting_to
from marin_exec.progress_display import MAX_LISTED, Progress
from tests.test_distributed_lock import WAIT, log_event, write_lease


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _progress(total: int = 3, **kwargs) -> tuple[Progress, Clock, io.StringIO]:
    clock, stream = Clock(), io.StringIO()
    return Progress(total, stream=stream, clock=clock, **kwargs), clock, stream


def test_the_status_line_lists_running_steps_with_their_elapsed_time():
    progress, clock, _ = _progress()
    progress.step_started("models/big")
    clock.now += 50
    progress.step_started("evals/a")
    clock.now += 15

    assert progress.status_line() == "progress: 0/3 done; running: models/big (1m05s), evals/a (15s)"


def test_a_wait_shows_the_holder_and_a_heartbeat_age_that_grows_with_time():
    progress, clock, _ = _progress()
    progress.waiting("tokenized/x", "host-a-123", heartbeat_age=4.0)
    clock.now += 10

    assert progress.status_line() == "progress: 0/3 done; waiting: tokenized/x for host-a-123 (heartbeat 14s ago)"


def test_a_finished_step_counts_as_done_by_outcome_and_leaves_running_and_waits():
    progress, _, _ = _progress()
    progress.waiting("a", "other", None)
    progress.step_started("a")
    progress.step_finished("a", "ran")
    progress.step_finished("b", "cached")

    snapshot = progress.snapshot()
    assert (snapshot.done, snapshot.total, snapshot.outcomes) == (2, 3, {"ran": 1, "cached": 1})
    assert snapshot.running == [] and snapshot.waits == []
    assert progress.status_line() == "progress: 2/3 done (1 ran, 1 cached)"


def test_starting_a_step_ends_its_wait():
    progress, _, _ = _progress()
    progress.waiting("a", "other", None)
    progress.step_started("a")

    assert progress.snapshot().waits == []


def test_long_listings_name_the_first_steps_and_count_the_rest():
    progress, _, _ = _progress(total=20)
    for i in range(MAX_LISTED + 2):
        progress.step_started(f"s{i}")

    assert progress.status_line().endswith("s4 (0s) and 2 more")


def test_the_total_grows_as_steps_become_known_and_never_shows_below_done():
    progress, _, _ = _progress(total=0)
    progress.add_total(2)
    progress.step_finished("a", "ran")
    assert progress.snapshot().total == 2
    progress.set_total(0)
    assert progress.snapshot().total == 1


def test_off_a_terminal_each_tick_prints_the_status_line():
    progress, _, stream = _progress()
    assert not progress.live
    progress.step_started("a")
    progress.tick()
    progress.tick()

    assert stream.getvalue() == "progress: 0/3 done; running: a (0s)\n" * 2


def test_the_background_thread_prints_every_interval_until_stopped():
    printed = threading.Event()

    class Stream(io.StringIO):
        def write(self, text: str) -> int:
            printed.set()
            return super().write(text)

    stream = Stream()
    progress = Progress(1, stream=stream, interval=0.01)
    with progress:
        assert printed.wait(10)
        thread = progress._thread
    assert thread is not None and not thread.is_alive()
    assert stream.getvalue().startswith("progress: 0/1 done")


def test_on_a_terminal_the_live_display_shows_done_total_running_and_waits():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    clock, stream = Clock(), Terminal()
    progress = Progress(4, stream=stream, clock=clock, interval=3600)
    assert progress.live
    progress.step_finished("raw", "cached")
    progress.step_started("models/big")
    progress.waiting("tokenized/x", "host-b-9", heartbeat_age=2.0)
    clock.now += 75
    with progress:
        progress.tick()
        shown = stream.getvalue()

    assert "1/4 steps done (1 cached)" in shown
    assert "models/big" in shown and "1m15s" in shown
    assert "tokenized/x" in shown and "host-b-9" in shown and "heartbeat 1m17s ago" in shown


def test_events_from_many_threads_are_all_counted():
    progress, _, _ = _progress(total=800)

    def work(k: int) -> None:
        for i in range(100):
            name = f"t{k}-{i}"
            progress.step_started(name)
            progress.waiting(name, "h", 1.0)
            progress.step_finished(name, "ran")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    snapshot = progress.snapshot()
    assert (snapshot.done, snapshot.outcomes, snapshot.running, snapshot.waits) == (800, {"ran": 800}, [], [])


def test_code_in_a_copied_context_reports_to_the_run_progress():
    import contextvars

    from marin_exec.progress import current_progress, reporting_to

    progress, _, _ = _progress()
    with reporting_to(progress):
        context = contextvars.copy_context()
    assert current_progress() is None

    def in_worker() -> None:
        reporter = current_progress()
        assert reporter is not None
        reporter.waiting("a", "host-z", 3.0)

    thread = threading.Thread(target=context.run, args=(in_worker,))
    thread.start()
    thread.join()

    assert progress.snapshot().waits == [("a", "host-z", 3.0)]


def test_steps_named_by_output_path_are_shown_relative_to_the_prefix():
    progress = Progress(2, stream=io.StringIO(), clock=Clock(), prefix="gs://bucket/runs/")
    progress.step_started("gs://bucket/runs/models/x-3f2a1c")
    progress.waiting("gs://bucket/runs/data/y-111111", "host-q", None)

    assert progress.status_line() == (
        "progress: 0/2 done; running: models/x-3f2a1c (0s); waiting: data/y-111111 for host-q (heartbeat age unknown)"
    )


def test_a_step_waiting_for_another_holder_reports_the_holder_and_its_heartbeat_age(tmp_path):
    out = str(tmp_path / "step")
    write_lease(out, "other-worker", age=3.0)
    progress = Progress(stream=io.StringIO(), live=False)
    ran = threading.Event()
    locked = distributed_lock(lambda path: ran.set())
    with (
        run_settings(heartbeat_interval=0.05, lease_timeout=60.0),
        reporting_to(progress),
        log_event("marin_exec.runtime.distributed_lock", "waiting for other-worker") as waiting,
    ):
        worker = threading.Thread(target=contextvars.copy_context().run, args=(locked, out))
        worker.start()
        assert waiting.wait(WAIT)
        [(name, holder, age)] = progress.snapshot().waits
        os.remove(os.path.join(out, ".executor_status.lock"))  # the holder goes away: the waiter takes the lease
        worker.join(WAIT)

    assert ran.is_set()
    assert (name, holder) == (out, "other-worker") and age is not None and age >= 3.0
    assert progress.snapshot().waits == []


def test_the_wait_is_on_the_display_before_the_waiting_line_is_logged(tmp_path):
    # Regression: the lock logged "waiting for ..." and only then told the display, so a reader woken by the log
    # line (the test above, about one run in five) could find no wait. Checked inside the logging call itself.
    out = str(tmp_path / "step")
    write_lease(out, "other-worker", age=3.0)
    progress = Progress(stream=io.StringIO(), live=False)
    seen: list[list] = []

    class AtLogTime(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "waiting for other-worker" in record.getMessage():
                seen.append(progress.snapshot().waits)
                os.remove(os.path.join(out, ".executor_status.lock"))  # the holder goes away: the waiter goes on

    logger = logging.getLogger("marin_exec.runtime.distributed_lock")
    handler, level = AtLogTime(logging.INFO), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with run_settings(heartbeat_interval=0.05, lease_timeout=60.0), reporting_to(progress):
            distributed_lock(lambda path: None)(out)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)

    assert len(seen) == 1 and [name for name, _, _ in seen[0]] == [out]


def test_before_any_step_is_known_neither_display_shows_a_zero_total():
    # Regression (issue 20, item 19): the live display of every run began with "0/0 steps done".
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    progress = Progress(stream=stream, interval=3600)
    with progress:
        progress.tick()
        shown = stream.getvalue()
    assert "0/0" not in shown and "steps done" not in shown
    assert Progress(stream=io.StringIO(), live=False).status_line() == "progress: no step known yet"
