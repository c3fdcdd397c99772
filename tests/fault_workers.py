"""Worker processes for the exactly-once tests and benchmark: each runs one StepRunner over a shared DAG and reports.

A worker is ``python -m tests.fault_workers '<WorkerSpec as JSON>'``. It builds the same DAG of chains and diamonds
as every other worker with the same spec (same output paths), optionally waits for a "go" line on stdin so that a
whole group starts at once, runs the DAG with ``StepRunner``, and prints one ``RESULT {json}`` line: outcome, root
error, takeovers, the steps it waited for and how long after their holder's commit it returned. Every execution of a
step's function appends a line to a per-step file in a side directory (``O_APPEND``, one machine), which is how tests
count executions on any backend.

Faults are set up inside the worker, by the step function itself or by a ``FaultInjectingStore`` (the real store of
the root, registered in its place through ``register_store``): a step can block while holding its lease (inside its
function, right before writing RUNNING, or right before writing its artifact) so that the parent can SIGKILL or
SIGSTOP the process there, and a process can SIGKILL itself right after one commit stage (outputs, artifact, info,
SUCCESS). Nothing of marin_exec is patched. Stops always come from
the parent: a process that stopped itself was sometimes continued at once in our sandbox. The parent side
(``Worker``, ``run_race``, ``run_crash``, ``run_stall``) starts workers and collects what happened.

Deliberately not here: assertions (the tests make them) and any change to how marin_exec runs a step.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import os
import random
import signal
import statistics
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

# Commit stages at which a worker can kill itself (DESIGN §5: outputs -> artifact -> .executor_info -> SUCCESS).
STAGES = ("outputs", "artifact", "info", "status")
# Where a step can be made to block while its process holds the lease (see WorkerSpec.hang_in).
HANG_POINTS = ("step", "running", "save")
EXIT_LEASE_LOST = 3
EXIT_FAILED = 1
_RESULT_PREFIX = "RESULT "
_HANG_LIMIT = 120.0
_TAKEOVER_LOGGED = "taking over the stale lease"
_BLOCKED_GRACE = 1.0


@dataclasses.dataclass
class WorkerSpec:
    """What one worker process does; JSON-serialisable, passed on the command line."""

    root: str  # output prefix: a local directory, gs://bucket or s3://bucket
    record_dir: str  # local directory where every execution of a step function is appended
    steps: int = 100
    seed: str = "0"  # enters every step's version, so separate races never share output paths
    order_seed: int = 0  # shuffles the order in which this worker hands the steps to its runner
    delay: float = 0.0  # seconds each step function sleeps after writing its outputs
    max_concurrent: int = 8
    heartbeat_interval: float = 0.1
    lease_timeout: float = 2.0
    wait_for_go: bool = False
    signal_dir: str | None = None  # where hanging steps announce themselves and look for "resume"
    hang_at: str | None = None  # key of the step that blocks (holding its lease) until signal_dir/resume exists...
    hang_in: str = (
        "step"  # ...inside its function ("step"), before writing RUNNING ("running") or its artifact ("save")
    )
    die_at: str | None = None  # key of the step at which the process SIGKILLs itself...
    die_after: str | None = None  # ...right after this commit stage (one of STAGES)
    store_retry_timeout: float | None = None  # retry budget of the gs:// and s3:// stores (default 60 s)
    store_error_at: str | None = None  # key of the step whose store fails once...
    store_error_in: str = "release"  # ...while releasing its lease, or reading its status right after acquiring


# -- the DAG ------------------------------------------------------------------------------------------------------


def dag_branches(steps: int) -> list[tuple[str, int]]:
    """Independent branches totalling ``steps``: chains of diamonds (up to 16 steps) alternating with chains (12)."""
    branches: list[tuple[str, int]] = []
    remaining, diamonds = steps, True
    while remaining:
        if diamonds and remaining >= 4:
            size = min(16, remaining - remaining % 4)
            branches.append(("diamonds", size))
        else:
            size = min(12, remaining)
            branches.append(("chain", size))
        remaining -= size
        diamonds = not diamonds
    return branches


def dag_edges(steps: int) -> dict[str, list[str]]:
    """Step key -> keys of its dependencies, deps before dependents. Keys read ``b{branch}-s{index}``."""
    edges: dict[str, list[str]] = {}
    for b, (kind, size) in enumerate(dag_branches(steps)):
        for j in range(size):
            key = f"b{b}-s{j}"
            if kind == "chain":
                edges[key] = [f"b{b}-s{j - 1}"] if j else []
            elif j % 4 == 0:  # top of a diamond hangs below the previous diamond's bottom
                edges[key] = [f"b{b}-s{j - 1}"] if j else []
            elif j % 4 in (1, 2):  # its two sides
                edges[key] = [f"b{b}-s{j - j % 4}"]
            else:  # its bottom joins both sides
                edges[key] = [f"b{b}-s{j - 2}", f"b{b}-s{j - 1}"]
    return edges


def expected_value(key: str, inputs: Iterable[int]) -> int:
    """What step ``key`` computes from its dependencies' values: checks that data flowed through every edge."""
    return (zlib.crc32(key.encode()) + 31 * sum(inputs)) % 1_000_003


def expected_values(steps: int) -> dict[str, int]:
    values: dict[str, int] = {}
    for key, deps in dag_edges(steps).items():
        values[key] = expected_value(key, (values[d] for d in deps))
    return values


@dataclasses.dataclass(frozen=True)
class StepCall:
    """The arguments of one step's function, apart from its output path."""

    record_dir: str
    key: str
    dep_paths: tuple[str, ...]
    delay: float = 0.0
    hang: bool = False
    die_after_outputs: bool = False
    signal_dir: str | None = None


def race_step(call: StepCall, output_path: str) -> dict[str, int]:
    """Record the execution, read the deps' outputs, write ``data.json``; the artifact is the value and our pid."""
    record_execution(call.record_dir, call.key)
    value = expected_value(call.key, (_read_json(f"{dep}/data.json")["value"] for dep in call.dep_paths))
    _write_json(f"{output_path}/data.json", {"value": value, "pid": os.getpid()})
    if call.delay:
        time.sleep(call.delay)
    if call.hang:
        _hang(call.signal_dir, call.key)
    if call.die_after_outputs:
        _die()
    return {"value": value, "pid": os.getpid()}


def build_dag(spec: WorkerSpec) -> dict[str, Any]:
    """Step key -> StepSpec, deps first; identical output paths in every process given the same root and seed."""
    from marin_exec import StepSpec

    specs: dict[str, Any] = {}
    for key, deps in dag_edges(spec.steps).items():
        b, s = key.split("-")
        call = StepCall(
            record_dir=spec.record_dir,
            key=key,
            dep_paths=tuple(specs[d].output_path for d in deps),
            delay=spec.delay,
            hang=key == spec.hang_at and spec.hang_in == "step",
            die_after_outputs=key == spec.die_at and spec.die_after == "outputs",
            signal_dir=spec.signal_dir,
        )
        specs[key] = StepSpec(
            name=f"race/{b}/{s}",
            fn=functools.partial(race_step, call),
            deps=[specs[d] for d in deps],
            hash_attrs={"seed": spec.seed},
            output_path_prefix=spec.root,
        )
    return specs


# -- side records ---------------------------------------------------------------------------------------------------


def record_execution(record_dir: str, key: str) -> None:
    """Append ``pid time`` to ``{record_dir}/{key}.log`` with one O_APPEND write (atomic between processes)."""
    fd = os.open(os.path.join(record_dir, f"{key}.log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{os.getpid()} {time.time():.6f}\n".encode())
    finally:
        os.close(fd)


def read_executions(record_dir: str | Path) -> dict[str, list[int]]:
    """Step key -> pids of the processes that executed it, in order."""
    executions: dict[str, list[int]] = {}
    for path in sorted(Path(record_dir).glob("*.log")):
        executions[path.stem] = [int(line.split()[0]) for line in path.read_text().splitlines() if line]
    return executions


def _hang(signal_dir: str | None, key: str) -> None:
    """Announce that ``key`` is running (lease held), then block until the parent creates ``resume``."""
    if signal_dir is None:
        raise ValueError(f"step {key}: hang_at needs a signal_dir")
    Path(signal_dir, f"holding-{key}").write_text(str(os.getpid()))
    resume = Path(signal_dir, "resume")
    deadline = time.monotonic() + _HANG_LIMIT
    while not resume.exists() and time.monotonic() < deadline:
        time.sleep(0.01)


def _read_json(path: str) -> Any:
    import fsspec

    fs, inner = fsspec.core.url_to_fs(path)
    return json.loads(fs.cat_file(inner))


def _write_json(path: str, value: Any) -> None:
    import fsspec

    fs, inner = fsspec.core.url_to_fs(path)
    fs.pipe_file(inner, json.dumps(value).encode())


# -- faults inside the worker -----------------------------------------------------------------------------------


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


Hook = Callable[[bytes | None], None]


class FaultInjectingStore:
    """The real store of the worker's root (local disk, GCS or S3), registered in its place through
    ``register_store``, with hooks run before or after chosen operations on chosen objects.

    A hook is ``hook(data)``, keyed by (operation, path); operations are read, create, swap, delete_if, write and
    fenced (the lease check that opens each commit write). Everything else is the inner store's own behaviour.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.atomic = inner.atomic
        self.conditional_delete = inner.conditional_delete
        self.before: dict[tuple[str, str], Hook] = {}
        self.after: dict[tuple[str, str], Hook] = {}

    def _hook(self, hooks: dict[tuple[str, str], Hook], op: str, path: str, data: Any) -> None:
        hook = hooks.get((op, path.rstrip("/")))
        if hook is not None:
            hook(data)

    def _call(self, op: str, path: str, data: bytes | None, *args: Any) -> Any:
        self._hook(self.before, op, path, data)
        result = getattr(self.inner, op)(path, *args)
        self._hook(self.after, op, path, data)
        return result

    def read(self, path: str) -> Any:
        return self._call("read", path, None)

    def read_many(self, paths: list[str]) -> Any:
        from marin_exec.storage.protocol import read_or_error

        batch = getattr(self.inner, "read_many", None)
        return batch(paths) if batch is not None else [read_or_error(self.inner, path) for path in paths]

    def create(self, path: str, data: bytes) -> Any:
        return self._call("create", path, data, data)

    def swap(self, path: str, data: bytes, expected: Any) -> Any:
        return self._call("swap", path, data, data, expected)

    def delete_if(self, path: str, expected: Any) -> Any:
        return self._call("delete_if", path, None, expected)

    def write(self, path: str, data: bytes) -> None:
        self._call("write", path, data, data)

    def fenced(self, path: str, expected: Any) -> Any:
        self._hook(self.before, "fenced", path, None)
        return self.inner.fenced(path, expected)


def _install_faults(spec: WorkerSpec, dag: dict[str, Any], inner: Any) -> None:
    """Register a FaultInjectingStore for the root's protocol so that this process dies or blocks at one point of
    its victim step's commit (the victim's own objects only; every other step runs unhindered)."""
    from marin_exec.status.status import LOCK_FILENAME, STATUS_FILENAME, STATUS_SUCCESS, join
    from marin_exec.status.step_status import INFO_FILENAME
    from marin_exec.storage.protocol import strip_protocol
    from marin_exec.storage.store import register_store

    store = FaultInjectingStore(inner)
    if spec.die_at is not None and spec.die_after in ("artifact", "info", "status"):
        victim = dag[spec.die_at].output_path
        if spec.die_after == "status":
            store.after[("write", join(victim, STATUS_FILENAME))] = lambda data: (
                _die() if data == STATUS_SUCCESS.encode() else None
            )
        else:
            name = ".artifact.json" if spec.die_after == "artifact" else INFO_FILENAME
            store.after[("write", join(victim, name))] = lambda data: _die()
    if spec.hang_at is not None and spec.hang_in != "step":
        hanging = dag[spec.hang_at].output_path
        hang_once = _once(lambda data: _hang(spec.signal_dir, spec.hang_at or ""))
        if spec.hang_in == "running":
            # The first lease check after acquiring opens the RUNNING write: block right before it.
            store.before[("fenced", join(hanging, LOCK_FILENAME))] = hang_once
        elif spec.hang_in == "save":
            store.before[("write", join(hanging, ".artifact.json"))] = hang_once
        else:
            raise ValueError(f"hang_in must be one of {HANG_POINTS}, not {spec.hang_in!r}")
    if spec.store_error_at is not None:
        failing = dag[spec.store_error_at].output_path
        fail_once = _once(lambda data: _store_error(spec.store_error_in))
        if spec.store_error_in == "release":
            store.before[("delete_if", join(failing, LOCK_FILENAME))] = fail_once
        elif spec.store_error_in == "after acquire":

            def fail_next_status_read(data: bytes | None) -> None:
                store.before[("read", join(failing, STATUS_FILENAME))] = fail_once

            store.after[("create", join(failing, LOCK_FILENAME))] = fail_next_status_read
            store.after[("swap", join(failing, LOCK_FILENAME))] = fail_next_status_read
        else:
            raise ValueError(f"store_error_in must be 'release' or 'after acquire', not {spec.store_error_in!r}")
    protocol, _ = strip_protocol(spec.root)
    for name in ("file", "local") if protocol == "file" else (protocol,):
        register_store(name, lambda: store)


def _store_error(where: str) -> None:
    raise OSError(f"injected store error ({where})")


def _once(hook: Callable[[bytes | None], None]) -> Callable[[bytes | None], None]:
    done: list[bool] = []

    def run(data: bytes | None) -> None:
        if not done:
            done.append(True)
            hook(data)

    return run


class _Observer(logging.Handler):
    """Collects, from marin_exec's log, the takeovers, the steps waited for, and when each step finished."""

    def __init__(self, key_of_path: dict[str, str], key_of_name: dict[str, str]) -> None:
        super().__init__(logging.INFO)
        self.key_of_path = key_of_path
        self.key_of_name = key_of_name
        self.takeovers: list[str] = []
        self.waited: list[str] = []
        self.finished: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        head = message.split(": ", 1)[0]
        if record.name == "marin_exec.status.status" and _TAKEOVER_LOGGED in message:
            self.takeovers.append(self.key_of_path.get(head, head))
        elif record.name == "marin_exec.runtime.distributed_lock" and ": waiting for " in message:
            self.waited.append(self.key_of_path.get(head, head))
        elif record.name == "marin_exec.run.runner" and ": finished in " in message and head in self.key_of_name:
            self.finished[self.key_of_name[head]] = record.created


def worker_main(argv: list[str]) -> int:
    """Entry point of a worker process (see the module docstring); returns its exit code."""
    from marin_exec import LeaseLostError, StepRunner, StepsFailed
    from marin_exec.storage.store import register_store, store_for

    spec = WorkerSpec(**json.loads(argv[1]))
    if spec.store_retry_timeout is not None:
        from marin_exec.storage.gcs_store import GcsStore
        from marin_exec.storage.s3_store import S3Store

        budget = spec.store_retry_timeout
        register_store("gs", lambda: GcsStore(retry_timeout=budget))
        register_store("s3", lambda: S3Store(retry_timeout=budget))
    dag = build_dag(spec)
    _install_faults(spec, dag, store_for(spec.root + "/x"))
    observer = _Observer({s.output_path: key for key, s in dag.items()}, {s.name: key for key, s in dag.items()})
    package_logger = logging.getLogger("marin_exec")
    package_logger.setLevel(logging.INFO)
    package_logger.addHandler(observer)
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(logging.WARNING)
    stderr.setFormatter(logging.Formatter(f"%(asctime)s [{os.getpid()}] %(name)s %(levelname)s %(message)s"))
    package_logger.addHandler(stderr)
    package_logger.propagate = False

    order = list(dag.values())
    random.Random(spec.order_seed).shuffle(order)
    next(iter(dag.values())).read_status()  # connect to the store before the start signal
    print("READY", flush=True)
    if spec.wait_for_go:
        sys.stdin.readline()

    started = time.time()
    result: dict[str, Any] = {"pid": os.getpid(), "outcome": "ok", "error_type": None, "message": None}
    code = 0
    try:
        StepRunner().run(
            order,
            max_concurrent=spec.max_concurrent,
            heartbeat_interval=spec.heartbeat_interval,
            lease_timeout=spec.lease_timeout,
        )
    except StepsFailed as error:
        cause = error.__cause__ or error
        result.update(outcome="steps_failed", error_type=type(cause).__name__, message=f"{error}; first: {cause}")
        code = EXIT_LEASE_LOST if isinstance(cause, LeaseLostError) else EXIT_FAILED
    except Exception as error:
        result.update(outcome="error", error_type=type(error).__name__, message=str(error))
        code = EXIT_FAILED
    result.update(
        seconds=time.time() - started,
        takeovers=observer.takeovers,
        waited=sorted(set(observer.waited)),
        extra_waits=_extra_waits(dag, observer),
    )
    print(_RESULT_PREFIX + json.dumps(result), flush=True)
    return code


def _extra_waits(dag: dict[str, Any], observer: _Observer) -> dict[str, float]:
    """For each step this worker waited for and another worker committed: our return minus its commit time.

    The commit time is the ``end_time`` in the holder's ``.executor_info``, taken just before it wrote the info and
    SUCCESS; so this slightly overstates the wait (by two small writes), and never understates it.
    """
    import datetime

    from marin_exec.status.status import join
    from marin_exec.storage.store import store_for

    waits = {}
    for key in set(observer.waited) & set(observer.finished):
        path = join(dag[key].output_path, ".executor_info")
        found = store_for(path).read(path)
        if found is None:
            continue
        end = datetime.datetime.fromisoformat(json.loads(found[0])["end_time"]).timestamp()
        if end < observer.finished[key]:  # otherwise it was committed after our return: we ran it ourselves
            waits[key] = observer.finished[key] - end
    return waits


# -- the parent side ------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class WorkerResult:
    pid: int
    returncode: int
    report: dict[str, Any] | None  # the RESULT line; None when the process died before printing it
    log: str  # the worker's stderr (warnings and errors)

    @property
    def takeovers(self) -> list[str]:
        return self.report["takeovers"] if self.report else []


class Worker:
    """One worker process started from the parent; its stderr goes to ``{log_dir}/{name}.log``."""

    def __init__(self, spec: WorkerSpec, log_dir: Path, name: str) -> None:
        self.spec = spec
        self.log_path = log_dir / f"{name}.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.fault_workers", json.dumps(dataclasses.asdict(spec))],
                cwd=REPO,
                stdin=subprocess.PIPE if spec.wait_for_go else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self) -> None:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != b"READY":
            self.proc.wait(timeout=30)
            raise RuntimeError(f"worker {self.pid} exited ({self.proc.returncode}) before starting: {self.log()}")

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.flush()  # communicate() closes it

    def signal(self, signum: int) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)

    def finish(self, timeout: float = 120) -> WorkerResult:
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError(f"worker {self.pid} did not finish within {timeout} s: {self.log()}") from None
        report = None
        for line in out.decode().splitlines():
            if line.startswith(_RESULT_PREFIX):
                report = json.loads(line[len(_RESULT_PREFIX) :])
        return WorkerResult(self.pid, self.proc.returncode, report, self.log())

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Poll ``condition`` every few milliseconds until it holds; RuntimeError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.005)


def is_stopped(pid: int) -> bool:
    """Whether process ``pid`` is stopped by a signal (state T in /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] in ("T", "t")


@dataclasses.dataclass
class RaceOutcome:
    results: list[WorkerResult]
    executions: dict[str, list[int]]
    seconds: float  # from the start signal until the last worker finished
    extra_waits: list[float]  # per step a worker waited for: its return minus the holder's commit (seconds)

    @property
    def takeovers(self) -> int:
        return sum(len(r.takeovers) for r in self.results)

    def wait_summary(self) -> str:
        if not self.extra_waits:
            return "no waits"
        ms = sorted(1000 * w for w in self.extra_waits)
        p90 = ms[min(len(ms) - 1, int(0.9 * len(ms)))]
        return f"{len(ms)} waits, median {statistics.median(ms):.1f} ms, p90 {p90:.1f} ms, max {ms[-1]:.1f} ms"


def run_race(base: WorkerSpec, processes: int, log_dir: Path, timeout: float = 300) -> RaceOutcome:
    """Start ``processes`` workers on the same DAG, release them together, and collect what happened."""
    workers = [
        Worker(dataclasses.replace(base, order_seed=i, wait_for_go=True), log_dir, f"racer-{i}")
        for i in range(processes)
    ]
    try:
        for worker in workers:
            worker.wait_ready()
        started = time.monotonic()
        for worker in workers:
            worker.go()
        results = [worker.finish(timeout) for worker in workers]
        seconds = time.monotonic() - started
    finally:
        for worker in workers:
            worker.kill()
    extra_waits = [w for r in results if r.report for w in r.report["extra_waits"].values()]
    return RaceOutcome(results, read_executions(base.record_dir), seconds, extra_waits)


@dataclasses.dataclass
class FaultOutcome:
    first: WorkerResult  # the worker that was killed or stalled while holding the victim's lease
    second: WorkerResult  # the worker started after the fault, which takes the victim over
    executions: dict[str, list[int]]
    seconds: float  # from the fault until both workers were done
    between: Any  # what the ``between`` callback returned (see run_crash and run_stall for when it runs)


# The victim of crash and stall scenarios: a side of the second diamond of branch 0 (work before and after it).
VICTIM = "b0-s5"


def run_crash(spec: WorkerSpec, log_dir: Path, between: Callable[[], Any] | None = None) -> FaultOutcome:
    """SIGKILL a worker while it holds the lease of VICTIM mid-step; a second worker then runs the whole DAG.

    The first worker runs one step at a time, so VICTIM is the only step it is executing when it dies. ``between``
    runs after the kill, before the second worker starts.
    """
    first = Worker(dataclasses.replace(spec, max_concurrent=1, hang_at=VICTIM), log_dir, "killed")
    try:
        _wait_until_holding(first)
        started = time.monotonic()
        first.signal(signal.SIGKILL)
        killed = first.finish()
    finally:
        first.kill()
    snapshot = between() if between is not None else None
    second = Worker(spec, log_dir, "successor")
    try:
        took_over = second.finish()
    finally:
        second.kill()
    seconds = time.monotonic() - started
    return FaultOutcome(killed, took_over, read_executions(spec.record_dir), seconds, snapshot)


def run_stall(
    spec: WorkerSpec, log_dir: Path, between: Callable[[], Any] | None = None, where: str = "step"
) -> FaultOutcome:
    """SIGSTOP a worker holding VICTIM's lease, let a second worker take over, then SIGCONT the first.

    ``where`` the first worker is stopped (one of HANG_POINTS): inside the step function, right after acquiring
    the lease (before writing RUNNING), or right before saving the artifact. The second worker is let finish before
    the first resumes; with ``save``, if it is still not done a second after it started taking the step over (blocked
    behind the stalled worker by the lock local disk holds around a commit), the first is resumed anyway. ``between``
    runs just before the first worker resumes.
    """
    first = Worker(dataclasses.replace(spec, max_concurrent=1, hang_at=VICTIM, hang_in=where), log_dir, "stalled")
    try:
        _wait_until_holding(first)
        first.signal(signal.SIGSTOP)
        wait_for(lambda: is_stopped(first.pid) or first.proc.poll() is not None, "the first worker to stop")
        started = time.monotonic()
        second = Worker(spec, log_dir, "successor")
        try:

            def done() -> bool:
                return second.proc.poll() is not None

            if where == "save":
                wait_for(lambda: done() or _TAKEOVER_LOGGED in second.log(), "the successor to take over")
                with contextlib.suppress(RuntimeError):  # blocked behind the stalled worker: resume it anyway
                    wait_for(done, "the successor", timeout=_BLOCKED_GRACE)
            else:
                wait_for(done, "the successor to finish")
            if not is_stopped(first.pid):
                raise RuntimeError(f"worker {first.pid} is no longer stopped: something else continued it")
            snapshot = between() if between is not None else None
            Path(spec.signal_dir or "", "resume").touch()
            first.signal(signal.SIGCONT)
            resumed = first.finish()
            took_over = second.finish()
        finally:
            second.kill()
    finally:
        first.kill()
    seconds = time.monotonic() - started
    return FaultOutcome(resumed, took_over, read_executions(spec.record_dir), seconds, snapshot)


def _wait_until_holding(worker: Worker) -> None:
    holding = Path(worker.spec.signal_dir or "", f"holding-{VICTIM}")
    wait_for(lambda: holding.exists() or worker.proc.poll() is not None, f"{VICTIM} to start in worker {worker.pid}")
    if not holding.exists():
        raise RuntimeError(f"worker {worker.pid} exited before reaching {VICTIM}: {worker.log()}")


if __name__ == "__main__":
    # Import ourselves by name, so that step functions are tests.fault_workers.race_step, not __main__.race_step.
    from tests.fault_workers import worker_main as _main

    sys.exit(_main(sys.argv))
