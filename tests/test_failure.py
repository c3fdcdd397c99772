"""Readable failures: tracebacks with marin_exec's frames folded away, and the ``.executor_error`` record."""

from __future__ import annotations

import json
import pathlib
import time

import pytest

from marin_exec import StepSpec, TracingError, output
from marin_exec.status.failure import (
    ERROR_FILENAME,
    MAX_TRACEBACK_CHARS,
    earlier_attempts,
    error_line,
    fold_traceback_text,
    format_failure,
    is_internal,
    next_attempt,
    read_error_record,
    write_error_record,
)
from marin_exec.status.status import worker_id


def _load_batch(output_path: str) -> None:
    batches = {"eval": [1, 2]}
    batches["train"]  # noqa: B018 - the user's bug this test is about


def _failure_of_a_real_step(prefix: str) -> BaseException:
    spec = StepSpec(name="models/broken", fn=_load_batch, output_path_prefix=prefix)
    with pytest.raises(KeyError) as caught:
        spec.executable_fn(spec.output_path)
    return caught.value


def test_format_failure_shows_the_user_frames_and_folds_marin_exec_frames_into_one_line(prefix):
    text = format_failure(_failure_of_a_real_step(prefix))

    assert 'batches["train"]' in text
    assert "in _load_batch" in text
    assert "marin_exec frame(s) hidden" in text.splitlines()[0]
    assert "disk_cache.py" not in text and "distributed_lock.py" not in text
    assert text.endswith("KeyError: 'train'")


def test_format_failure_keeps_the_marin_exec_frame_that_raised_because_its_message_says_what_to_do():
    with pytest.raises(TracingError) as caught:
        output()

    text = format_failure(caught.value)

    assert "graph.py" in text
    assert "in output" in text
    assert "call it inside a @step function body" in text


def test_format_failure_shows_the_cause_before_the_error_it_caused():
    try:
        try:
            {}["missing"]
        except KeyError as cause:
            raise RuntimeError("could not read the config") from cause
    except RuntimeError as error:
        text = format_failure(error)

    assert text.index("KeyError: 'missing'") < text.index("direct cause") < text.index("RuntimeError: could not")


def test_error_line_is_the_type_and_the_first_line_of_the_message():
    assert error_line(ValueError("bad value\nmore detail")) == "ValueError: bad value"
    assert error_line(KeyboardInterrupt()) == "KeyboardInterrupt"
    assert error_line(ValueError("ends with a colon:")) == "ValueError: ends with a colon:"


def test_write_error_record_stores_type_message_traceback_worker_host_time_and_attempt(prefix):
    error = _failure_of_a_real_step(prefix)
    out = f"{prefix}/models/broken-abc123"

    write_error_record(out, error, attempt=1)

    with open(f"{out}/{ERROR_FILENAME}") as f:
        record = json.load(f)
    assert record["type"] == "builtins.KeyError"
    assert record["message"] == "'train'"
    assert "in _load_batch" in record["traceback"]
    assert record["worker"] == worker_id()
    assert record["host"] and record["time"].startswith("20")
    assert record["attempt"] == 1
    assert record["history"] == []
    assert read_error_record(out) == record


def test_a_second_failure_keeps_the_first_in_its_history(tmp_path):
    out = str(tmp_path / "step-abc123")
    write_error_record(out, ValueError("first"), attempt=1)

    record = write_error_record(out, ValueError("second"), attempt=2)

    assert [(h["attempt"], h["message"]) for h in record["history"]] == [(1, "first")]
    assert [h["message"] for h in earlier_attempts(out)] == ["first", "second"]
    assert "traceback" not in earlier_attempts(out)[0]
    assert next_attempt(earlier_attempts(out)) == 3


def test_a_step_that_never_failed_has_no_record_and_its_first_attempt_is_one(tmp_path):
    out = str(tmp_path / "step-abc123")

    assert read_error_record(out) is None
    assert earlier_attempts(out) == []
    assert next_attempt(earlier_attempts(out)) == 1


def test_error_records_work_on_memory_store():
    out = "memory://observe-test/step-abc123"
    write_error_record(out, ValueError("in memory"), attempt=1)

    assert read_error_record(out)["message"] == "in memory"  # type: ignore[index]


def test_an_unreadable_error_record_reads_as_none(tmp_path):
    out = tmp_path / "step-abc123"
    out.mkdir()
    (out / ERROR_FILENAME).write_text("not json {")

    assert read_error_record(str(out)) is None


def test_a_huge_traceback_is_cut_in_the_middle_in_the_record(tmp_path):
    error = ValueError("x" * (3 * MAX_TRACEBACK_CHARS) + " the end")

    record = write_error_record(str(tmp_path / "s-abc123"), error, attempt=1)

    assert len(record["traceback"]) < MAX_TRACEBACK_CHARS + 100
    assert "characters cut" in record["traceback"]
    assert record["traceback"].endswith("the end")


def test_a_remote_worker_traceback_text_is_folded_like_a_local_one(prefix):
    import traceback

    error = _failure_of_a_real_step(prefix)
    text = "".join(traceback.format_exception(error))

    try:
        raise RuntimeError("the step failed") from error
    except RuntimeError as raised:
        chained = raised
    chained_text = "".join(traceback.format_exception(chained))

    assert fold_traceback_text(text) == format_failure(error)
    assert fold_traceback_text(chained_text) == format_failure(chained)


def test_only_marin_exec_and_its_thread_pool_count_as_internal():
    import concurrent.futures.thread
    import threading

    import marin_exec.runtime.disk_cache

    assert is_internal(marin_exec.runtime.disk_cache.__file__)
    assert is_internal(concurrent.futures.thread.__file__) and is_internal(threading.__file__)
    assert not is_internal("/home/me/project/mythreading.py")
    assert not is_internal(__file__)


class _SlowMessage(Exception):
    """A user exception whose message takes long to build: while it is built the first time, it watches whether
    the step's lease is refreshed (the heartbeat's record changes), for up to four lease timeouts."""

    def __init__(self, lock: pathlib.Path) -> None:
        super().__init__()
        self.lock, self.refreshed = lock, None

    def __str__(self) -> str:
        if self.refreshed is None:
            before = self.lock.read_bytes()
            deadline = time.monotonic() + 4 * 0.5  # fast_leases: a 0.5 s lease timeout, a beat every 0.05 s
            while self.lock.read_bytes() == before and time.monotonic() < deadline:
                time.sleep(0.01)
            self.refreshed = self.lock.read_bytes() != before
        return "a message built slowly"


def test_a_failure_record_is_built_with_no_lock_held_so_the_heartbeat_refreshes_meanwhile(prefix, fast_leases):
    # Regression (review): .executor_error was built inside the lease's fence: formatting the user's exception (its
    # __str__) and reading the earlier record blocked the heartbeat, and a slow message lost the lease.
    def fails(output_path: str) -> None:
        raise error

    spec = StepSpec(name="models/slow_message", fn=fails, output_path_prefix=prefix)
    error = _SlowMessage(pathlib.Path(spec.output_path, ".executor_status.lock"))
    with pytest.raises(_SlowMessage):
        spec.executable_fn(spec.output_path)

    assert error.refreshed, "the lease was not refreshed while the failure record was built"
    assert spec.read_status() == "FAILED"
    record = read_error_record(spec.output_path)
    assert record is not None and record["message"] == "a message built slowly"
