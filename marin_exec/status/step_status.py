"""Whether a step is done, read for many steps at once, and the repair of a SUCCESS whose artifact is missing.

A step is done when its status is SUCCESS and, if this executor wrote it, its artifact exists (DESIGN §5): our
``.executor_info`` marker means an artifact was committed before SUCCESS, so SUCCESS without it is an incomplete
commit; any other SUCCESS (outputs of older executors) is done. ``read_statuses`` answers that for a batch of
output paths in at most three rounds — statuses, the artifacts of the SUCCESSes, the info of SUCCESSes without
one — each one batch: ``read_known`` for statuses and ``exist_many`` for artifacts answer from metadata where the
store can (GCS: 100 objects per request, a status recognised by its MD5), ``read_many`` the rest (object stores
overlap those requests). A step of ours costs two lookups, an older executor's three; one whose status is in the
older JSON-lines format costs one, since marin_exec only ever writes a bare token, so such a SUCCESS cannot be an
incomplete commit of ours. ``clear_done`` takes a done step out of the cache under its lease (``--force_rerun``).
``read_lease_view`` and ``is_interrupted`` tell, from one read each, a step still running elsewhere from one whose
worker was interrupted (RUNNING without a live lease).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence

from marin_exec.settings import current_run_settings
from marin_exec.status.lease_record import LIVE, LeaseView, describe_lease, parse_record
from marin_exec.status.status import (
    LOCK_FILENAME,
    STATUS_RUNNING,
    STATUS_SUCCESS,
    STATUSES,
    Lease,
    StatusFile,
    join,
    parse_status,
    wait_for_holder,
)
from marin_exec.storage.artifact import Artifact
from marin_exec.storage.protocol import Found
from marin_exec.storage.store import exist_many, read_known, read_many, store_for

EXECUTOR_NAME = "marin_exec"
EXECUTOR_VERSION = "0.1.0"
INFO_FILENAME = ".executor_info"
_STATUS_BYTES = [status.encode() for status in STATUSES]  # what marin_exec writes (``StatusFile.write``)


def read_statuses(output_paths: Sequence[str]) -> list[str | None | Exception]:
    """The status of each output path (None: never ran, or our SUCCESS without its artifact), or the error that
    reading it raised. Read-only."""
    found = read_known([StatusFile(path).path for path in output_paths], _STATUS_BYTES)
    results: list[str | None | Exception] = [_parse(f) for f in found]
    succeeded = [i for i, r in enumerate(results) if r == STATUS_SUCCESS and not _older_format(found[i])]
    artifacts = exist_many([Artifact.path(output_paths[i]) for i in succeeded])
    missing = []
    for i, artifact in zip(succeeded, artifacts, strict=True):
        if isinstance(artifact, Exception):
            results[i] = artifact
        elif not artifact:
            missing.append(i)
    infos = read_many([join(output_paths[i], INFO_FILENAME) for i in missing])
    for i, info in zip(missing, infos, strict=True):
        results[i] = info if isinstance(info, Exception) else None if _is_ours(info) else STATUS_SUCCESS
    return results


def read_lease_view(output_path: str) -> LeaseView:
    """The step's lease as one read shows it (``describe_lease`` under the run settings), for a status display."""
    path = join(output_path, LOCK_FILENAME)
    found = store_for(path).read(path)
    settings = current_run_settings()
    record = None if found is None else parse_record(found[0])
    return describe_lease(record, timeout=settings.lease_timeout, clock_skew_allowance=settings.clock_skew_allowance)


def is_interrupted(status: str | None, lease: LeaseView) -> bool:
    """RUNNING without a live lease: its worker was interrupted (or died); the step reruns at once (DESIGN §5a)."""
    return status == STATUS_RUNNING and lease.state != LIVE


def has_our_marker(output_path: str) -> bool:
    """Whether ``.executor_info`` at ``output_path`` was written by this executor (so an artifact is expected)."""
    path = join(output_path, INFO_FILENAME)
    return _is_ours(store_for(path).read(path))


def clear_success(output_path: str) -> None:
    """Remove a SUCCESS whose artifact is missing, holding the step's lease and only if the artifact is still missing.

    A worker that re-ran the step meanwhile committed its artifact and SUCCESS under that lease; status tokens are
    the file's bytes, so without the lease a second clearer could not tell that SUCCESS from the incomplete one.
    """
    _remove_success_under_lease(output_path, lambda: not Artifact.exists(output_path))


def clear_done(output_path: str) -> bool:
    """Remove the step's SUCCESS so that it runs again (``--force_rerun``); returns whether there was one.

    Done under the step's lease, waiting for a live holder first, so a worker committing the step right now is not
    cut off halfway and the removal is a compare-and-delete of the SUCCESS just read (SUCCESS is final: no holder
    rewrites it).
    """
    return _remove_success_under_lease(output_path, lambda: True)


def _remove_success_under_lease(output_path: str, still_wanted: Callable[[], bool]) -> bool:
    """Take the step's lease (waiting for a live holder), then compare-and-delete a SUCCESS read under it if
    ``still_wanted()``; returns whether one was removed. The lease is released in any case."""
    settings = current_run_settings()
    lease = Lease(output_path, timeout=settings.lease_timeout, clock_skew_allowance=settings.clock_skew_allowance)
    started = time.monotonic()
    while not lease.try_acquire():
        wait_for_holder(started)
    try:
        status = StatusFile(output_path)
        found = store_for(status.path).read(status.path)
        if found is None or parse_status(found[0]) != STATUS_SUCCESS or not still_wanted():
            return False
        return store_for(status.path).delete_if(status.path, found[1])
    finally:
        lease.release()


def _parse(found: Found) -> str | None | Exception:
    if found is None or isinstance(found, Exception):
        return found
    return parse_status(found[0])


def _older_format(found: Found) -> bool:
    """Whether a status file holds the older JSON-lines events rather than the bare token marin_exec writes."""
    return isinstance(found, tuple) and found[0].strip().decode("utf-8", errors="replace") not in STATUSES


def _is_ours(found: Found) -> bool:
    if found is None or isinstance(found, Exception):
        return False
    try:
        info = json.loads(found[0])
        marker = info.get("executor_version", "")
    except (ValueError, AttributeError):
        return False
    # ``artifact_record: 0``: a pinned named step, which writes no artifact (SUCCESS alone makes it built)
    return isinstance(marker, str) and marker.startswith(EXECUTOR_NAME) and info.get("artifact_record") != 0
