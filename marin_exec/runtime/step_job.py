"""The step job: what runs for one step, locally or inside a Fray job — ``disk_cached(distributed_lock(fn))``
with a commit that saves the artifact, then ``.executor_info`` (with provenance: git commit, user, host, and the
failed attempts before a successful retry, since the step last had no status); a failed attempt leaves
``.executor_error``, fenced, before FAILED.

``StepJob`` is small and picklable (it does not hold the StepSpec graph). This module does not compute identity
(``compile.step_spec`` does), does not schedule (the runner does) and does not submit jobs (``remote`` does).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

from marin_exec.call_report import current_call, note_finished_elsewhere, note_wait
from marin_exec.plain import as_repr, json_text, to_plain
from marin_exec.runtime.commit import fenced, scope_for
from marin_exec.runtime.disk_cache import disk_cached
from marin_exec.runtime.distributed_lock import distributed_lock
from marin_exec.runtime.provenance import process_provenance
from marin_exec.runtime.replicas import current_task, run_follower, wait_for_followers
from marin_exec.runtime.unsaveable import raise_unsaveable
from marin_exec.settings import current_run_settings
from marin_exec.status.failure import earlier_attempts, prepare_error_record
from marin_exec.status.status import STATUS_SUCCESS, Lease, join, wait_for_holder
from marin_exec.status.step_status import INFO_FILENAME, clear_success, has_our_marker, read_statuses
from marin_exec.storage.artifact import Artifact, UnsaveableValue, load_value
from marin_exec.storage.artifact_class import is_artifact
from marin_exec.storage.store import store_for

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class StepJob:
    """Everything one step needs at run time; small and picklable (it does not hold the StepSpec graph)."""

    fn: Callable[[str], Any]
    name: str
    artifact_type: Any
    info: dict[str, Any]
    # The identity fields of the step's ArtifactRecord (``compile.identity.record_fields``); None: a pinned step,
    # which writes no record and is built on SUCCESS alone (Marin's pin).
    record: dict[str, Any] | None = None
    writes_record: bool = False  # ``fn`` writes its own record (Marin's ``StepSpec.writes_record``)


class _IncompleteCommit(Exception):
    """SUCCESS written by this executor, but the artifact is missing."""


def run_step(job: StepJob, output_path: str) -> Any:
    """Run one step through ``disk_cached(distributed_lock(fn))``; the commit saves artifact, then info."""
    started = time.time()
    fresh_artifact: list[Any] = []  # a fresh Marin Artifact value, saved: returned as loaded, as Marin's ``run`` does

    def save(result: Any, path: str) -> None:
        # Encoded first, before any write, and before the fence, which blocks the heartbeat's refresh: a model's
        # model_dump is user code. A result that cannot be encoded leaves nothing half-written.
        if job.record is not None and not job.writes_record:
            try:
                artifact = Artifact.encode(result, **_record(job, result, path, started))
            except UnsaveableValue as bad:
                raise_unsaveable(job.name, job.fn, bad)
            with fenced(path):  # each commit write under the lease on its own (DESIGN §5a)
                Artifact.write(artifact, path)
        if job.record is not None and is_artifact(result):
            fresh_artifact.append(result)
        scope = scope_for(path)
        holder = scope.lease.owner if scope is not None and scope.lease is not None else None
        info = {**job.info, "worker_id": holder, "start_time": _iso(started), "end_time": _iso(time.time())}
        call_id = current_run_settings().call_id
        if call_id is not None:  # a remote step's job: its caller reads which call committed (note_job_outcome)
            info["call_id"] = call_id
        # A step that had no status has no failed attempts to keep: no .executor_error read for a fresh step.
        attempts = earlier_attempts(path) if scope is None or scope.had_status else []
        if attempts:  # a retry that succeeded keeps the failures before it
            info["attempts"] = attempts
        record = _info_record(info)
        with fenced(path):
            _write_info_record(path, record)

    def load(path: str) -> Any:
        if job.record is None:  # pinned: no record, built on SUCCESS alone
            return None
        if not Artifact.exists(path) and has_our_marker(path):
            raise _IncompleteCommit(path)
        # an adopted step's value is its source's, as Marin's ``run`` loads an adopted handle
        return load_value(path, job.artifact_type, source=job.record.get("source") or path, step=job.name)

    def fn(path: str) -> Any:  # a multi-host step's task 0: the step's function ends when every replica's has
        result = job.fn(path)
        wait_for_followers(job.name, path)
        return result

    locked = distributed_lock(fn if current_task() is not None else job.fn)

    def run() -> Any:  # save fences each of its writes, the artifact first: no separate lease check before it
        result = disk_cached(locked, output_path, save=save, load=load, on_failure=record_error, save_fenced=True)
        return _as_loaded(fresh_artifact.pop(), output_path, load) if fresh_artifact else result

    try:
        return run()
    except _IncompleteCommit:
        logger.warning(
            f"{job.name}: status is SUCCESS but its artifact is missing at {output_path}; treating it as not "
            "done and running the step again"
        )
        clear_success(output_path)
        return run()


def _as_loaded(value: Any, output_path: str, load: Callable[[str], Any]) -> Any:
    """A fresh step's Marin ``Artifact`` value as its cached runs give it (loaded from the record just written, its
    ``path`` the output's), as Marin's ``run`` returns ``raw_load(path)`` built or not. A record that does not load
    back as an artifact (its payload does not validate as its class) leaves the value as returned, its empty ``path``
    set."""
    try:
        loaded = load(output_path)
    except Exception:
        loaded = None
    if is_artifact(loaded):
        return loaded
    return value.model_copy(update={"path": output_path}) if not getattr(value, "path", "") else value


def run_replica(job: StepJob, output_path: str) -> None:
    """A multi-host step's replica after the first (DESIGN §7): the user function alone, once its own job's task 0
    holds the step's one lease (never while another run holds it, never once the step is settled), leaving a marker
    that task 0 waits for before it commits (``runtime.replicas``). Never waits for the lease itself: a replica
    that did would keep task 0's collective (JAX needs every host) from forming. Its result is dropped."""
    run_follower(job.name, job.fn, output_path)


def record_error(error: BaseException, output_path: str) -> Callable[[], None]:
    """The ``{output_path}/.executor_error`` of a failed attempt, built now (no lock held: the exception's message is
    user code); the write it returns is made under the lease's fence, before FAILED."""
    return prepare_error_record(output_path, error)[1]


def finished_elsewhere(name: str, output_path: str) -> bool:
    """Before a resourced step's job is submitted: wait while another worker holds the step's lease, then say
    whether the step is done (so no job is submitted). A job would otherwise hold its hardware while it waits.

    Only a wait before submitting: the job's own lock still decides who runs the step (a worker that takes the
    lease just after this check is waited for inside the job, as without it). If the lease cannot be read, the
    job is submitted and its lock decides.
    """
    lease = Lease(output_path, timeout=current_run_settings().lease_timeout)
    started = time.monotonic()
    try:
        holder = lease.holder()
        if holder is None:
            return False
        logger.info(f"{name}: {holder.get('worker_id')} holds the lease of {output_path}; waiting before submitting")
        try:
            while lease.holder() is not None:
                wait_for_holder(started)
        finally:
            note_wait(str(holder.get("worker_id")), time.monotonic() - started)
        done = read_statuses([output_path])[0] == STATUS_SUCCESS
    except Exception as error:
        logger.warning(f"{name}: could not check the lease of {output_path} ({error!r}); submitting the job")
        return False
    if done:
        note_finished_elsewhere()
        logger.info(f"{name}: finished by the other worker; no job submitted")
    return done


def note_job_outcome(name: str, call_id: str, seconds: float, output_path: str) -> None:
    """After a resourced step's job succeeded: if the committed ``.executor_info`` is not that job's own (another
    worker finished the step while the job waited for its lease, or before), say so in the call's report, with
    whom it waited for. A job in this process (Fray's LocalClient) notes into the same report itself: only whom it
    waited for may be missing there (it found SUCCESS without waiting for a lease)."""
    report = current_call()
    if report is None or report.finished_elsewhere and report.waited_for is not None:
        return  # nothing to learn: a job in this process noted its wait into this report already
    path = join(output_path, INFO_FILENAME)
    try:
        found = store_for(path).read(path)
        info = json.loads(found[0]) if found is not None else {}
    except Exception as error:  # the step is done either way; only the summary's wording is at stake
        logger.warning(f"{name}: could not read {path} to tell who finished the step ({error!r})")
        return
    if report.finished_elsewhere or not isinstance(info, dict) or info.get("call_id") != call_id:
        holder = str((info.get("worker_id") if isinstance(info, dict) else None) or "another worker")
        logger.info(f"{name}: finished by {holder} while its job waited")
        note_finished_elsewhere()
        note_wait(holder, seconds)


def write_info(output_path: str, info: dict[str, Any]) -> None:
    """Write ``info`` plus provenance as ``{output_path}/.executor_info`` (values JSON cannot hold as their repr)."""
    _write_info_record(output_path, _info_record(info))


def _info_record(info: dict[str, Any]) -> bytes:
    record = to_plain({**info, **process_provenance()}, unknown=as_repr, str_keys=True)
    return json_text(record).encode()  # json.dumps(record, indent=2), faster


def _write_info_record(output_path: str, record: bytes) -> None:
    path = join(output_path, INFO_FILENAME)
    store_for(path).write(path, record)


def _record(job: StepJob, result: Any, output_path: str, started: float) -> dict[str, Any]:
    """Every field of the record but the result: the identity fields, the output path, the config the function
    received, the result's type as Marin loads it, and the launch's provenance (``launch_provenance``, captured
    where the run started; this process's when the spec gave none)."""
    from marin_exec.artifact_record import MARIN_ARTIFACT_TYPE
    from marin_exec.fingerprint import canonical_json
    from marin_exec.storage.artifact import artifact_class_in
    from marin_exec.storage.artifact_class import type_name

    assert job.record is not None
    config = job.record["config"]
    received = getattr(job.fn, "received_config", None)  # a compiled step: the config its function received
    if received is not None:  # Marin's canonical form; an adopted step's (it has a source) in the caller's key order
        config = json.loads(canonical_json(received(output_path), sort_keys="source" not in job.record))
    result_type = type_name(type(result)) if is_artifact(result) else MARIN_ARTIFACT_TYPE
    result_type = job.record.get("result_type", result_type) if result is None else result_type
    # A Marin Artifact class as the return annotation (or explicit type): recorded as declared, as Marin records a
    # handle's type; but the None of ``X | None`` keeps the base type, so that it loads as None (an X with no fields
    # records None as its result too).
    declared_class = artifact_class_in(job.artifact_type)
    if declared_class is not None and (result is not None or declared_class is job.artifact_type):
        result_type = type_name(declared_class)
    declared = getattr(job.fn, "result_type", None)  # a lazy handle's declared artifact type: Marin records it
    result_type = declared if isinstance(declared, str) else result_type
    return {
        # the spec's launch provenance when it gave one (executable_fn always does); built only when it did not
        "provenance": job.record["provenance"] if "provenance" in job.record else launch_provenance(started),
        **job.record,
        "config": config if isinstance(config, dict) else None,
        "output_path": output_path,
        "result_type": result_type,
    }


def launch_provenance(started: float | None = None) -> dict[str, Any]:
    """Marin's provenance shape for this launch: who ran it, when, with which command line and commit."""
    from marin_exec.artifact_record import make_provenance

    ours = process_provenance()
    return make_provenance(
        built_by=ours["user"],
        created_at=_iso(time.time() if started is None else started),
        command_line=sys.argv,
        base_commit=(ours["git_commit"] or "")[:12],
    )


def _iso(t: float) -> str:
    return datetime.datetime.fromtimestamp(t, tz=datetime.UTC).isoformat()
