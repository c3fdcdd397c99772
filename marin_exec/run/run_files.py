"""The files a run leaves beside its steps' outputs, and the command that reruns it.

``write_run_info`` writes Marin's run-level file ``{executor_info_base_path}/{script}-{hash}.json`` (every step's
info and the run's description; the same path for the same plan, so it is rewritten by each run of that plan).
``write_run_record`` writes one more file per run, created once and never overwritten:
``{executor_info_base_path}/runs/{script}-{hash}-{time}-{pid}.json`` with each step's outcome, time, worker and
error line. ``rerun_command`` is the command line that would run the same plan again, with failed steps retried.
``unwritable`` tells, without writing, why a local prefix could not be written. This module runs nothing and
decides no outcome.
"""

from __future__ import annotations

import itertools
import json
import os
import shlex
import sys
import time
from typing import TYPE_CHECKING, Any

from marin_exec.compile.identity import shallow_version
from marin_exec.compile.step_spec import StepSpec
from marin_exec.errors import PrefixNotWritable
from marin_exec.storage.store import store_for
from marin_exec.versioning import hash_version

if TYPE_CHECKING:
    from marin_exec.run.run_report import RunReport

# Flags a rerun hint drops (with their values): the default (force_run_failed true) retries failed steps, a dry run
# would run nothing, and steps a --force_rerun already reran are done now.
_DROPPED_FLAGS = ("--force_run_failed", "--dry_run", "--force_rerun")


def write_run_info(specs: list[StepSpec], base: str, prefix: str, description: str | None) -> str:
    """Marin's run-level file; returns its path."""
    every = transitive(specs)
    path = f"{base}/{script_name()}-{run_hash(every)}.json"
    record = {
        "description": description,
        "command": rerun_command(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "prefix": prefix,
        "steps": [
            {"name": s.name, "output_path": s.output_path, "version": shallow_version(s), "info": s.info} for s in every
        ],
    }
    try:
        store_for(path).write(path, json_text(record))
    except OSError as error:  # the first write of a run: a prefix it cannot write fails here, in one line
        why = unwritable(base) or error.filename
        raise PrefixNotWritable(
            f"cannot write under {base}: {error.strerror or error} ({why}); pass a --prefix "
            "(or --executor_info_base_path) this process can write to"
        ) from None
    return path


def warn_if_unwritable(prefix: str) -> None:
    """The dry run's warning (on stderr) when a run could not write under ``prefix``; it writes nothing."""
    why = unwritable(prefix)
    if why is not None:
        print(f"warning: a run could not write under {prefix}: {why}", file=sys.stderr)


def unwritable(prefix: str) -> str | None:
    """Why the local directory ``prefix`` could not be created or written, found without writing anything (None:
    it looks writable, or it is a URL, which only a write can tell)."""
    if "://" in prefix and not prefix.startswith("file://"):
        return None
    existing = os.path.abspath(prefix.removeprefix("file://"))
    while not os.path.lexists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        return f"{existing} is not a directory"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable by this user"
    if os.statvfs(existing).f_flag & os.ST_RDONLY:
        return f"{existing} is on a read-only file system"
    return None


def write_run_record(
    specs: list[StepSpec], base: str, *, description: str | None, started: float, steps: list[dict[str, Any]]
) -> str:
    """This run's own record, created once (a name no other run has); returns its path."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(started))
    stem = f"{base}/runs/{script_name()}-{run_hash(transitive(specs))}-{stamp}-{os.getpid()}"
    record = {
        "description": description,
        "command": " ".join(shlex.quote(a) for a in sys.argv),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "ended": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "steps": steps,
    }
    data = json_text(record)
    for n in itertools.count(1):  # the same process may finish several runs of one plan within a second
        path = f"{stem}.json" if n == 1 else f"{stem}-{n}.json"
        try:
            store_for(path).create(path, data)
            return path
        except FileExistsError:
            continue
    raise AssertionError("unreachable")


def json_text(record: dict[str, Any]) -> bytes:
    """``record`` as indented JSON with each item of a top-level list on one line (each step one line).

    json's C encoder runs only without ``indent``: ``indent=2`` over 10,000 steps took ~1 s of pure-Python encoding
    per file, this takes a tenth of that. Values it cannot encode are written as their ``repr``.
    """
    fields = []
    for key, value in record.items():
        if isinstance(value, list) and value:
            items = ",\n".join(f"    {_dumps(item)}" for item in value)
            fields.append(f"  {_dumps(key)}: [\n{items}\n  ]")
        else:
            fields.append(f"  {_dumps(key)}: {_dumps(value)}")
    return ("{\n" + ",\n".join(fields) + "\n}\n").encode()


def _dumps(value: Any) -> str:
    return json.dumps(value, default=repr)


def script_name() -> str:
    return os.path.splitext(os.path.basename(sys.argv[0] or "interactive"))[0] or "interactive"


def run_hash(every: list[StepSpec]) -> str:
    return hash_version(json.dumps(sorted(s.output_path for s in every)))


def transitive(specs: list[StepSpec]) -> list[StepSpec]:
    """Every step of the plan, each once, in Marin's order (a step, then what it needs, first seen first)."""
    seen: dict[str, StepSpec] = {}
    stack = list(reversed(specs))
    while stack:
        spec = stack.pop()
        if spec.output_path in seen:
            continue
        seen[spec.output_path] = spec
        stack.extend(reversed(spec.deps))
    return list(seen.values())


def rerun_command(*, something_failed: bool = True) -> str:
    """This command line again: with ``--prefix`` if it came from the environment, ``--force_run_failed true`` once
    if ``something_failed`` (else as given), and no ``--dry_run`` or ``--force_rerun``."""
    argv = [sys.executable] if sys.argv[0].endswith(".py") else []
    argv += _without(sys.argv, _DROPPED_FLAGS if something_failed else _DROPPED_FLAGS[1:])
    if "--prefix" not in argv and not any(a.startswith("--prefix=") for a in argv) and os.environ.get("MARIN_PREFIX"):
        argv += ["--prefix", os.environ["MARIN_PREFIX"]]
    return shlex.join([*argv, "--force_run_failed", "true"] if something_failed else argv)


def continue_command(report: RunReport | None) -> str:
    """How to continue a stopped run: ``rerun_command``, retrying failed steps only if one failed."""
    from marin_exec.run.run_report import StepState

    failed = report is not None and report.count(StepState.FAILED) > 0
    return rerun_command(something_failed=failed)


def _without(argv: list[str], flags: tuple[str, ...]) -> list[str]:
    """``argv`` without each of ``flags``, given as ``--flag value``, ``--flag=value`` or bare."""
    out: list[str] = []
    skip = False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        if arg.partition("=")[0] in flags:
            following = argv[i + 1] if i + 1 < len(argv) else None
            skip = "=" not in arg and following is not None and not following.startswith("--")
            continue
        out.append(arg)
    return out
