"""Run every benchmark, each measurement in a fresh subprocess, and print one markdown report with targets.

    .venv/bin/python benchmarks/run_all.py                 # everything (about 22 minutes on 2 cores)
    .venv/bin/python benchmarks/run_all.py --quick         # a small subset (3–5 minutes)
    .venv/bin/python benchmarks/run_all.py --no-peer       # without Marin's executors (/work/peer-venv, /work/peer-227)
    .venv/bin/python benchmarks/run_all.py --peer-only     # only the side-by-side with Marin 0.2.227/0.2.20 (~10 min)

Graphs (workloads.py): chain, fan-out/fan-in, diamond lattice, realistic sweep, at 200, 1,000 and 10,000 steps,
built as StepSpecs and, once ``marin_exec.compile.compiler`` has landed, traced from ``@step``/``deferred`` code. For
each: trace/build + dry run, fresh run, fully cached re-run (in a new process, as a user's re-run is), peak RSS.
Then import time, per-step overhead, the same dry/cached runs on ``gs://`` against fake-gcs-server, today's Marin
(0.2.227: ``StepRunner`` and lazy ``run``, bench_peer.py) and the June one (0.2.20) side by side (their runners
poll with a 1 s sleep; the June 200-chain is scaled from a 20-chain unless ``--peer-chain 200``), and
``bench_remote.py`` if present. Medians of ``--repeats`` runs; fresh 10,000-step runs
once. The machine is shared, so the header records the load average before and after.

It writes only under a temp dir (deleted at the end) and leaves the repository alone; ``--out`` saves the report.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bench_peer

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PYTHON = sys.executable
PEER_PYTHON = os.environ.get("PEER_PYTHON", "/work/peer-venv/bin/python")
PEER227_PYTHON = os.environ.get("PEER227_PYTHON", "/work/peer-227/bin/python")
SHAPES = ("chain", "fanout", "diamond", "sweep")
TMPFS = "/dev/shm"
NA_TRACING = "n/a (tracing not landed)"

# Targets from the "runtime core" and "benchmarks and scale" issues.
TARGETS = {
    "chain200": 1.0,
    "fanout200": 1.0,
    "marin_ratio": 200.0,
    "plan10k": 3.0,
    "cached10k_local": 3.0,
    "cached10k_gcs": 10.0,
    "overhead_ms": 5.0,
    "rss10k_mb": 300.0,
    "import_s": 0.5,
}


@dataclasses.dataclass
class Settings:
    quick: bool
    peer: bool
    peer227: bool
    peer_only: bool
    gcs: bool
    remote: bool
    repeats: int
    fresh_10k: bool
    peer_chain: int
    local_cases: list[tuple[str, int]]
    tmpfs_cases: list[tuple[str, int]]  # StepSpec graphs again under /dev/shm: the framework without the disk
    gcs_cases: list[tuple[str, int, str]]  # (shape, size, how the prefix is finished: fresh | seed | seed_legacy)
    overhead_steps: int


def settings_from(args: argparse.Namespace) -> Settings:
    if args.quick:
        local = [(s, n) for n in (200, 1000) for s in ("chain", "fanout")] + [("sweep", 10_000)]
        tmpfs = [("chain", 200), ("fanout", 200)]
        gcs = [("sweep", 200, "fresh")]
        overhead = 200
    else:
        local = [(s, n) for n in (200, 1000, 10_000) for s in SHAPES]
        tmpfs = [(s, n) for n in (200, 1000) for s in ("chain", "fanout")] + [("sweep", 10_000)]
        gcs = [("sweep", 1000, "fresh"), ("sweep", 10_000, "seed"), ("sweep", 10_000, "seed_legacy")]
        overhead = 1000
    return Settings(
        quick=args.quick,
        peer=not args.no_peer and Path(PEER_PYTHON).exists(),
        peer227=not args.no_peer and Path(PEER227_PYTHON).exists(),
        peer_only=args.peer_only,
        gcs=not args.no_gcs,
        remote=not args.no_remote,
        repeats=args.repeats,
        fresh_10k=not (args.skip_fresh_10k or args.quick),
        peer_chain=args.peer_chain,
        local_cases=local,
        tmpfs_cases=tmpfs if Path(TMPFS).is_dir() and os.access(TMPFS, os.W_OK) else [],
        gcs_cases=gcs,
        overhead_steps=overhead,
    )


# -- subprocesses ----------------------------------------------------------------------------------------------


def child(argv: list[str], *, python: str = PYTHON, env: dict[str, str] | None = None, timeout: float = 900) -> dict:
    """Run one benchmark script in a fresh interpreter; its last stdout line is JSON (or an error dict)."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    try:
        done = subprocess.run(
            [python, *argv], capture_output=True, text=True, timeout=timeout, env=full_env, cwd=str(HERE)
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:g} s: {' '.join(argv)}"}
    lines = done.stdout.strip().splitlines()
    try:
        return json.loads(lines[-1])
    except (IndexError, ValueError):
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return {"error": f"exit {done.returncode}: {' | '.join(tail)}"}


def wall(argv: list[str]) -> float:
    """Wall-clock seconds of a whole process (interpreter start-up included)."""
    start = time.perf_counter()
    subprocess.run(argv, check=True, cwd=str(HERE))
    return time.perf_counter() - start


def median_of(samples: list[dict]) -> dict:
    """Per-key median of the numeric values; the first error (or unavailability) wins over numbers."""
    for sample in samples:
        if "error" in sample:
            return sample
    out: dict[str, Any] = {"n": len(samples)}
    for key in samples[0]:
        values = [s[key] for s in samples if isinstance(s.get(key), (int, float)) and not isinstance(s[key], bool)]
        out[key] = statistics.median(values) if values else samples[0][key]
    out["peak_rss_mb"] = max((s.get("peak_rss_mb", 0) for s in samples), default=0)
    return out


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def graph(phase: str, shape: str, size: int, frontend: str, prefix: str, repeats: int, env: dict | None = None) -> dict:
    argv = ["bench_graph.py", "--shape", shape, "--size", str(size), "--frontend", frontend, "--phase", phase]
    samples = []
    for _ in range(repeats):
        samples.append(child([*argv, "--prefix", prefix], env=env))
        if "error" in samples[-1]:
            break
    return median_of(samples)


# -- the suite -------------------------------------------------------------------------------------------------


def run_graph_case(frontend: str, shape: str, size: int, root: str, s: Settings, env: dict | None = None) -> dict:
    """Dry run on nothing, fresh run(s), cached re-runs and a dry run on the finished prefix."""
    case: dict[str, Any] = {}
    base = f"{root}/{frontend}-{shape}-{size}-{uuid.uuid4().hex[:6]}"
    case["plan_empty"] = graph("plan", shape, size, frontend, f"{base}/empty", s.repeats, env)
    if "unavailable" in case["plan_empty"]:
        return {"unavailable": case["plan_empty"]["unavailable"]}
    fresh_repeats = 1 if size >= 10_000 else s.repeats
    done = f"{base}/run0"
    if size >= 10_000 and not s.fresh_10k:
        case["fresh"] = {"skipped": "fresh 10,000-step runs skipped: SUCCESS statuses seeded instead"}
        case["seed"] = child_graph("seed", shape, size, frontend, done, env)
    else:
        fresh = [child_graph("fresh", shape, size, frontend, f"{base}/run{i}", env) for i in range(fresh_repeats)]
        case["fresh"] = median_of(fresh)
    if "error" in case["fresh"] or "error" in case.get("seed", {}):
        return case
    case["cached"] = graph("cached", shape, size, frontend, done, s.repeats, env)
    case["plan_done"] = graph("plan", shape, size, frontend, done, s.repeats, env)
    return case


def child_graph(phase: str, shape: str, size: int, frontend: str, prefix: str, env: dict | None) -> dict:
    argv = ["bench_graph.py", "--shape", shape, "--size", str(size), "--frontend", frontend, "--phase", phase]
    return child([*argv, "--prefix", prefix], env=env)


def run_gcs_cases(s: Settings, work: Path) -> dict[str, Any]:
    """Start fake-gcs-server (filesystem backend, as tests/conftest_stores.py does) and run the gs:// cases."""
    os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
    sys.path.insert(0, str(REPO))
    try:
        from tests.conftest_stores import GcsServer
    except ImportError as e:
        return {"skipped": f"cannot load the emulator recipe from tests/conftest_stores.py: {e}"}
    probe = child(["-c", "import marin_exec.storage.gcs_store; print('{}')"])
    if "error" in probe:
        return {"skipped": f"marin_exec.storage.gcs_store is not usable yet: {probe['error']}"}
    # The filesystem backend: fake-gcs-server's memory backend slows down linearly with the number of objects
    # (1,000 reads take 0.5 s in an empty bucket, 6.7 s with 11,000 objects), which would measure the emulator.
    root = work / "gcs-root"
    root.mkdir()
    server = GcsServer(root=root)
    try:
        server.start()
    except (OSError, RuntimeError) as e:
        return {"skipped": f"fake-gcs-server did not start: {e}"}
    results: dict[str, Any] = {}
    try:
        env = {"STORAGE_EMULATOR_HOST": server.url, "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false"}
        bucket = server.make_bucket()
        for shape, size, how in s.gcs_cases:
            progress(f"gs:// {shape} {size} ({how})")
            base = f"gs://{bucket}/{shape}-{size}-{how}"
            case: dict[str, Any] = {"how": how}
            if how != "seed_legacy":  # the same empty prefix as the other 10,000-step case
                case["plan_empty"] = graph("plan", shape, size, "spec", f"{base}/empty", s.repeats, env)
            case["fresh" if how == "fresh" else "seed"] = child_graph(how, shape, size, "spec", f"{base}/done", env)
            case["cached"] = graph("cached", shape, size, "spec", f"{base}/done", s.repeats, env)
            case["plan_done"] = graph("plan", shape, size, "spec", f"{base}/done", s.repeats, env)
            results[f"{shape}-{size}-{how}"] = case
    finally:
        server.stop()
    return results


def run_peer(s: Settings) -> dict[str, Any]:
    cases = [("chain", 20), ("chain", s.peer_chain)] if s.peer_chain != 20 else [("chain", 20)]
    if not s.quick:
        cases.append(("fanout", 200))
    out: dict[str, Any] = {}
    for shape, size in cases:
        progress(f"Marin {shape} {size}")
        argv = ["marin_peer_bench.py", "--shape", shape, "--size", str(size)]
        out[f"{shape}{size}"] = child(argv, python=PEER_PYTHON, timeout=max(600, 3 * size))
    return out


def _peer227() -> str | None:
    return PEER227_PYTHON if Path(PEER227_PYTHON).exists() else None


def run_peer_227(s: Settings, work: Path) -> dict[str, Any]:
    if not (s.peer227 or s.peer):
        return {"skipped": f"--no-peer, or no peer venv at {PEER227_PYTHON} nor {PEER_PYTHON}"}
    peer020 = PEER_PYTHON if s.peer else None
    tmpfs = Path(tempfile.mkdtemp(prefix="marin-bench-peer-", dir=TMPFS)) if s.tmpfs_cases else None
    try:
        peer227 = _peer227() if s.peer227 else None
        return bench_peer.collect(child, progress, work / "peer", s.repeats, peer227, peer020, tmpfs)
    finally:
        if tmpfs is not None:
            shutil.rmtree(tmpfs, ignore_errors=True)


def compile_bytecode() -> None:
    """Write marin_exec's .pyc files, as installing a package does: with PYTHONDONTWRITEBYTECODE=1 in the
    environment (as on this machine kind) every import would compile the sources again, which no user sees."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([PYTHON, "-m", "compileall", "-q", str(REPO / "marin_exec")], env=env, check=False)


def collect_peer_only(s: Settings) -> dict[str, Any]:
    """Only what compares with Marin: ``import marin_exec`` and bench_peer.py's graphs."""
    results: dict[str, Any] = {"started": time.time(), "load_before": os.getloadavg()}
    work = Path(tempfile.mkdtemp(prefix="marin-bench-peer-"))
    compile_bytecode()
    try:
        progress("import marin_exec")
        results["import"] = median_of([child(["bench_import.py"]) for _ in range(max(5, s.repeats))])
        results["peer227"] = run_peer_227(s, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["load_after"] = os.getloadavg()
    results["finished"] = time.time()
    return results


def render_peer_227(results: dict, s: Settings) -> list[str]:
    peer = results.get("peer227", {})
    if "skipped" in peer:
        return [f"skipped: {peer['skipped']}"]
    old = PEER_PYTHON if s.peer else None
    return bench_peer.render(peer, results["import"].get("import_s"), _peer227() if s.peer227 else None, old)


def render_peer_only(results: dict, s: Settings, command: str) -> str:
    out = _header(results, s, command, "peer comparisons only")
    out += ["", "### Side by side with Marin 0.2.227 (today) and 0.2.20 (June)", ""]
    out += render_peer_227(results, s)
    return "\n".join(out) + "\n"


def run_remote(s: Settings) -> str:
    script = HERE / "bench_remote.py"
    if not script.exists():
        return "bench_remote.py not present"
    argv = [str(script)] + (["--local-calls", "20", "--iris-jobs", "2"] if s.quick else [])
    try:
        done = subprocess.run(
            [PYTHON, *argv], capture_output=True, text=True, timeout=900, env={**os.environ, "PYTHONPATH": str(REPO)}
        )
    except subprocess.TimeoutExpired:
        return "bench_remote.py timed out after 900 s"
    if done.returncode != 0:
        return f"bench_remote.py failed (exit {done.returncode}): {done.stderr.strip().splitlines()[-1:]}"
    return done.stdout.strip()


def collect(s: Settings) -> dict[str, Any]:
    results: dict[str, Any] = {"started": time.time(), "load_before": os.getloadavg(), "local": {}}
    work = Path(tempfile.mkdtemp(prefix="marin-bench-"))
    try:
        progress("python start-up and import marin_exec")
        results["startup"] = {
            "bare_s": statistics.median(wall([PYTHON, "-c", "pass"]) for _ in range(5)),
            "import_s": statistics.median(wall([PYTHON, "-c", "import marin_exec"]) for _ in range(5)),
        }
        results["import"] = median_of([child(["bench_import.py"]) for _ in range(max(5, s.repeats))])
        progress(f"per-step overhead ({s.overhead_steps} steps)")
        steps = ["bench_overhead.py", "--steps", str(s.overhead_steps)]
        results["overhead"] = median_of([child([*steps, "--prefix", str(work / f"o{i}")]) for i in range(s.repeats)])
        if s.tmpfs_cases:
            shm = Path(tempfile.mkdtemp(prefix="marin-bench-", dir=TMPFS))
            try:
                results["overhead_tmpfs"] = median_of(
                    [child([*steps, "--prefix", str(shm / f"o{i}")]) for i in range(s.repeats)]
                )
                for shape, size in s.tmpfs_cases:
                    progress(f"tmpfs spec/{shape}/{size}")
                    results["local"][f"tmpfs/{shape}/{size}"] = run_graph_case("spec", shape, size, str(shm), s)
                    shutil.rmtree(shm, ignore_errors=True)
                    shm.mkdir()
            finally:
                shutil.rmtree(shm, ignore_errors=True)
        traced_na: str | None = None
        for shape, size in s.local_cases:  # front ends interleaved, so that the machine's mood hits both alike
            for frontend in ("spec", "traced"):
                if frontend == "traced" and traced_na:
                    continue
                key = f"{frontend}/{shape}/{size}"
                progress(f"local {key}")
                case = run_graph_case(frontend, shape, size, str(work / "local"), s)
                results["local"][key] = case
                if "unavailable" in case:
                    traced_na = results["local"][f"{frontend}/unavailable"] = case["unavailable"]
                shutil.rmtree(work / "local", ignore_errors=True)
        results["gcs"] = run_gcs_cases(s, work) if s.gcs else {"skipped": "--no-gcs"}
        results["peer"] = run_peer(s) if s.peer else {"skipped": "--no-peer or no peer venv at " + PEER_PYTHON}
        results["peer227"] = run_peer_227(s, work)
        if s.remote:
            progress("bench_remote.py")
            results["remote"] = run_remote(s)
        else:
            results["remote"] = "skipped (--no-remote)"
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["load_after"] = os.getloadavg()
    results["finished"] = time.time()
    return results


# -- the report ------------------------------------------------------------------------------------------------


secs = bench_peer.secs


def verdict(value: float | None, limit: float, higher_is_better: bool = False) -> str:
    if value is None:
        return "n/a"
    ok = value >= limit if higher_is_better else value < limit
    return "**pass**" if ok else "**MISS**"


def cell(case: dict, phase: str, key: str) -> str:
    data = case.get(phase, {})
    if "skipped" in data:
        return "not run (seeded)" if "seed" in case else "skipped"
    if "error" in data:
        return "error"
    return secs(data.get(key))


def total(data: dict, *keys: str) -> float | None:
    if not data or "error" in data or "skipped" in data:
        return None
    values = [data.get(k) for k in keys]
    return sum(v for v in values if isinstance(v, (int, float))) if all(v is not None for v in values) else None


def frontend_cases(results: dict, frontend: str) -> Iterator[tuple[str, int, dict]]:
    for key, case in results["local"].items():
        parts = key.split("/")
        if parts[0] == frontend and len(parts) == 3 and "unavailable" not in case:
            yield parts[1], int(parts[2]), case


def _header(results: dict, s: Settings, command: str, what: str) -> list[str]:
    out: list[str] = []
    started = datetime.datetime.fromtimestamp(results["started"], tz=datetime.UTC)
    minutes = (results["finished"] - results["started"]) / 60
    out.append(f"Command: `{command}` ({what}, {minutes:.1f} min)  ")
    out.append(
        f"Machine: {os.cpu_count()} cores (`nproc` {_nproc()}), {_cpu_model()}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}  "
    )
    before = ", ".join(f"{x:.2f}" for x in results["load_before"])
    after = ", ".join(f"{x:.2f}" for x in results["load_after"])
    out.append(f"Date: {started:%Y-%m-%d %H:%M} UTC; load average before {before}, after {after} (shared machine)  ")
    out.append(f"marin_exec commit: {_git_commit()}; medians of {s.repeats} runs (fresh 10,000-step runs: 1)")
    return out


def render(results: dict, s: Settings, command: str) -> str:
    out = _header(results, s, command, "quick subset" if s.quick else "full suite")
    out.append("")
    traced_na = results["local"].get("traced/unavailable")
    out += render_targets(results, s, traced_na)
    sections = (
        ("spec", "StepSpec graphs (runtime core), local prefix on disk"),
        ("traced", "Traced graphs (@step/deferred), local prefix on disk"),
        ("tmpfs", f"StepSpec graphs, local prefix on tmpfs ({TMPFS}): the framework without the disk"),
    )
    for frontend, title in sections:
        if frontend == "tmpfs" and not s.tmpfs_cases:
            continue
        out += ["", f"### {title}", ""]
        if frontend == "traced" and traced_na:
            out.append(f"{NA_TRACING}: {traced_na}")
            continue
        out += render_graph_table(results, frontend)
        out += render_growth(results, frontend)
    out += ["", "### gs:// on fake-gcs-server (filesystem backend), sweep graph", ""]
    out += render_gcs(results["gcs"])
    out += ["", "### Per-step overhead (trivial step)", ""]
    out += render_overhead(results["overhead"], results.get("overhead_tmpfs"))
    out += ["", "### Import", ""]
    imp = results["import"]
    if "error" in imp:
        out.append(f"error: {imp['error']}")
    else:
        heavy = ", ".join(imp.get("heavy_modules") or []) or "none"
        out.append(
            f"`import marin_exec`: {secs(imp['import_s'])} (median of {imp['n']} fresh processes), "
            f"{imp['modules']} modules in sys.modules, heavy optional dependencies loaded: {heavy}, "
            f"RSS {imp['peak_rss_mb']:.0f} MB. Whole process `python -c 'import marin_exec'`: "
            f"{secs(results['startup']['import_s'])} wall, against {secs(results['startup']['bare_s'])} for "
            "`python -c pass`."
        )
    out += ["", "### Side by side with today's Marin (marin-core 0.2.227, /work/peer-227) and 0.2.20", ""]
    out += render_peer_227(results, s)
    out += ["", "### Side by side with Marin's June executor (marin-core 0.2.20, /work/peer-venv)", ""]
    out += render_peer(results, s)
    out += ["", "### remote() (bench_remote.py)", "", results.get("remote", "not run")]
    return "\n".join(out) + "\n"


def _largest(results: dict, frontend: str, size: int) -> list[tuple[str, dict]]:
    return [(shape, case) for shape, n, case in frontend_cases(results, frontend) if n == size]


def render_targets(results: dict, s: Settings, traced_na: str | None) -> list[str]:
    rows: list[tuple[str, str, str, str]] = []
    local = results["local"]
    for where, shape, target_key in (
        ("spec", "chain", "chain200"),
        ("tmpfs", "chain", "chain200"),
        ("spec", "fanout", "fanout200"),
        ("tmpfs", "fanout", "fanout200"),
    ):
        fresh = local.get(f"{where}/{shape}/200", {}).get("fresh", {})
        if not fresh:
            continue
        value = total(fresh, "run_s")
        disk = "on disk" if where == "spec" else "on tmpfs"
        rows.append(
            (
                f"200-step {shape} of trivial steps, fresh run, local prefix {disk} (StepRunner.run)",
                f"< {TARGETS[target_key]:g} s",
                secs(value),
                verdict(value, TARGETS[target_key]),
            )
        )
    ratio = peer_chain_ratio(results)
    if ratio is not None:
        rows.append(
            (
                "200-step chain vs Marin's StepRunner" + (" (Marin scaled from 20)" if ratio[1] else ""),
                f"≥ {TARGETS['marin_ratio']:g}×",
                f"{ratio[0]:.0f}×",
                verdict(ratio[0], TARGETS["marin_ratio"], higher_is_better=True),
            )
        )
    frontend = "spec" if traced_na else "traced"
    label = "build + output paths" if traced_na else "trace + compile"
    for shape, case in _largest(results, frontend, 10_000):
        value = total(case.get("plan_empty", {}), "build_s", "run_s", "render_s")
        rows.append(
            (
                f"10,000-step {shape}: {label} + dry run + plan text"
                + (" (tracing not landed: StepSpecs)" if traced_na else ""),
                f"< {TARGETS['plan10k']:g} s",
                secs(value),
                verdict(value, TARGETS["plan10k"]),
            )
        )
    for shape, case in _largest(results, frontend, 10_000):
        value = total(case.get("cached", {}), "build_s", "run_s")
        rows.append(
            (
                f"10,000-step {shape}: fully cached re-run, local ({label} + run, new process)",
                f"< {TARGETS['cached10k_local']:g} s",
                secs(value),
                verdict(value, TARGETS["cached10k_local"]),
            )
        )
    gcs = results.get("gcs", {})
    for key, case in gcs.items() if isinstance(gcs, dict) and "skipped" not in gcs else []:
        shape, size, how = key.split("-", 2)
        if size != "10000":
            continue
        value = total(case.get("cached", {}), "build_s", "run_s")
        legacy = " (an older executor's outputs: info, SUCCESS, no artifact)" if how == "seed_legacy" else ""
        rows.append(
            (
                f"10,000-step {shape}: fully cached re-run (build + run), gs:// emulator{legacy}",
                f"< {TARGETS['cached10k_gcs']:g} s",
                secs(value),
                verdict(value, TARGETS["cached10k_gcs"]),
            )
        )
    for over, disk in ((results["overhead"], "disk"), (results.get("overhead_tmpfs") or {}, "tmpfs")):
        for key, what in (("commit_fresh_ms", "executable_fn, serial"), ("runner_chain_fresh_ms", "StepRunner chain")):
            if not over:
                continue
            value = over.get(key)
            floor = over.get("fs_floor_ms")
            rows.append(
                (
                    f"fresh trivial step overhead ({what}, {disk}"
                    + (f"; the same file-system calls alone: {floor:.2f} ms)" if isinstance(floor, float) else ")"),
                    f"< {TARGETS['overhead_ms']:g} ms",
                    f"{value:.2f} ms" if isinstance(value, float) else "error",
                    verdict(value, TARGETS["overhead_ms"]) if isinstance(value, float) else "n/a",
                )
            )
    peaks = [
        case[p].get("peak_rss_mb", 0)
        for f in ("spec", "traced")
        for _, case in _largest(results, f, 10_000)
        for p in ("plan_empty", "fresh", "cached", "plan_done")
        if isinstance(case.get(p), dict) and "peak_rss_mb" in case[p]
    ]
    if peaks:
        rows.append(
            (
                "10,000-step graph peak memory (max ru_maxrss over all 10,000-step processes)",
                f"< {TARGETS['rss10k_mb']:g} MB",
                f"{max(peaks):.0f} MB",
                verdict(max(peaks), TARGETS["rss10k_mb"]),
            )
        )
    imp = results["import"].get("import_s")
    rows.append(("`import marin_exec`", f"< {TARGETS['import_s']:g} s", secs(imp), verdict(imp, TARGETS["import_s"])))
    out = ["### Targets", "", "| target | limit | measured | result |", "| --- | --- | --- | --- |"]
    out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    if traced_na:
        out += ["", f"Trace + compile: {NA_TRACING} ({traced_na}); the 10,000-step rows above time StepSpecs."]
    return out


def render_graph_table(results: dict, frontend: str) -> list[str]:
    build = "trace + compile" if frontend == "traced" else "build"
    out = [
        f"| graph | steps | {build} | dry run (nothing done) | render plan | fresh run | fresh run CPU | per step | "
        "cached re-run | cached + build | dry run (all done) | peak RSS |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for shape, size, case in sorted(frontend_cases(results, frontend), key=lambda t: (t[1], SHAPES.index(t[0]))):
        fresh = case.get("fresh", {})
        per_step = fresh.get("run_s") / size if isinstance(fresh.get("run_s"), (int, float)) else None
        fresh_cell = cell(case, "fresh", "run_s") + (" (1 run)" if size >= 10_000 and "run_s" in fresh else "")
        peaks = [case[p]["peak_rss_mb"] for p in case if isinstance(case[p], dict) and "peak_rss_mb" in case[p]]
        out.append(
            f"| {shape} | {size:,} | {cell(case, 'plan_empty', 'build_s')} | {cell(case, 'plan_empty', 'run_s')} | "
            f"{cell(case, 'plan_empty', 'render_s')} | {fresh_cell} | {cell(case, 'fresh', 'run_cpu_s')} | "
            f"{secs(per_step)} | "
            f"{cell(case, 'cached', 'run_s')} | {secs(total(case.get('cached', {}), 'build_s', 'run_s'))} | "
            f"{cell(case, 'plan_done', 'run_s')} | {max(peaks, default=0):.0f} MB |"
        )
        errors = [f"{p}: {case[p]['error']}" for p in case if isinstance(case[p], dict) and "error" in case[p]]
        if errors:
            out.append(f"| ↳ errors | | {'; '.join(errors)} | | | | | | | | | |")
    return out


def render_growth(results: dict, frontend: str) -> list[str]:
    """Time at 10,000 divided by time at 1,000: 10 means linear."""
    by = {(shape, size): case for shape, size, case in frontend_cases(results, frontend)}
    rows = []
    for shape in SHAPES:
        small, large = by.get((shape, 1000)), by.get((shape, 10_000))
        if not small or not large:
            continue
        ratios = []
        for phase, keys in (
            ("plan_empty", ("build_s",)),
            ("plan_empty", ("run_s",)),
            ("fresh", ("run_s",)),
            ("cached", ("build_s", "run_s")),
        ):
            a, b = total(small.get(phase, {}), *keys), total(large.get(phase, {}), *keys)
            ratios.append(f"{b / a:.1f}×" if a and b else "–")
        rows.append(f"| {shape} | " + " | ".join(ratios) + " |")
    if not rows:
        return []
    build = "trace + compile" if frontend == "traced" else "build"
    return [
        "",
        "Growth from 1,000 to 10,000 steps (time at 10,000 ÷ time at 1,000; 10× is linear):",
        "",
        f"| graph | {build} | dry run | fresh run | cached re-run (with build) |",
        "| --- | ---: | ---: | ---: | ---: |",
        *rows,
    ]


def render_gcs(gcs: dict) -> list[str]:
    if "skipped" in gcs:
        return [f"skipped: {gcs['skipped']}"]
    out = [
        "| graph | steps | how it was finished | dry run (nothing done) | fresh run | cached re-run | "
        "cached + build | dry run (all done) | peak RSS |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key, case in gcs.items():
        shape, size, _ = key.split("-", 2)
        how = {
            "fresh": "real fresh run",
            "seed": f"seeded artifact + SUCCESS ({cell(case, 'seed', 'seed_s')})",
            "seed_legacy": f"seeded info + SUCCESS, no artifact (older executor) ({cell(case, 'seed', 'seed_s')})",
        }[case["how"]]
        peaks = [case[p]["peak_rss_mb"] for p in case if isinstance(case[p], dict) and "peak_rss_mb" in case[p]]
        out.append(
            f"| {shape} | {int(size):,} | {how} | {cell(case, 'plan_empty', 'run_s')} | "
            f"{cell(case, 'fresh', 'run_s') if case['how'] == 'fresh' else '–'} | {cell(case, 'cached', 'run_s')} | "
            f"{secs(total(case.get('cached', {}), 'build_s', 'run_s'))} | {cell(case, 'plan_done', 'run_s')} | "
            f"{max(peaks, default=0):.0f} MB |"
        )
        errors = [f"{p}: {case[p]['error']}" for p in case if isinstance(case[p], dict) and "error" in case[p]]
        if errors:
            out.append(f"| ↳ errors | | {'; '.join(errors)} | | | | | | |")
    return out


def render_overhead(disk: dict, tmpfs: dict | None) -> list[str]:
    if "error" in disk:
        return [f"error: {disk['error']}"]
    columns = [("disk", disk)] + ([(TMPFS, tmpfs)] if tmpfs and "error" not in tmpfs else [])
    rows = (
        ("bare function call", "bare_call_us", "µs"),
        ("file-system calls of one fresh step, made directly (the floor)", "fs_floor_ms", "ms"),
        ("only the directory and five files one fresh step creates", "creations_floor_ms", "ms"),
        (
            "`executable_fn(path)` fresh (status, lease, heartbeat, artifact, info, SUCCESS), serial",
            "commit_fresh_ms",
            "ms",
        ),
        ("`executable_fn(path)` cached (status read + artifact load)", "commit_cached_ms", "ms"),
        ("StepRunner fresh chain (one step at a time)", "runner_chain_fresh_ms", "ms"),
        ("StepRunner fresh fan-out (8 workers)", "runner_fanout_fresh_ms", "ms"),
        ("StepRunner all-cached re-run", "runner_cached_ms", "ms"),
    )
    out = [
        f"Trivial step, {disk['steps']} steps per measurement, median of {disk['n']}:",
        "",
        "| what | " + " | ".join(name for name, _ in columns) + " |",
        "| --- |" + " ---: |" * len(columns),
    ]
    for label, key, unit in rows:
        values = " | ".join(
            f"{data[key]:.3f} {unit}" if isinstance(data.get(key), float) else "–" for _, data in columns
        )
        out.append(f"| {label} | {values} |")
    return out


def peer_chain_ratio(results: dict) -> tuple[float, bool] | None:
    """(Marin 200-chain ÷ marin_exec 200-chain, whether Marin's number was scaled from its 20-chain)."""
    peer = results.get("peer", {})
    ours = total(results["local"].get("spec/chain/200", {}).get("fresh", {}), "run_s")
    if not ours or "skipped" in peer:
        return None
    if "fresh_s" in peer.get("chain200", {}):
        return peer["chain200"]["fresh_s"] / ours, False
    if "fresh_s" in peer.get("chain20", {}):
        return peer["chain20"]["fresh_s"] * 10 / ours, True
    return None


def render_peer(results: dict, s: Settings) -> list[str]:
    peer = results.get("peer", {})
    if "skipped" in peer:
        return [f"skipped: {peer['skipped']}"]
    local = results["local"]
    rows = ["| case | marin_exec | Marin | Marin ÷ marin_exec |", "| --- | ---: | ---: | ---: |"]

    def row(label: str, ours: float | None, theirs: float | None, note: str = "") -> None:
        ratio = (
            "–"
            if not (ours and theirs)
            else f"{theirs / ours:,.0f}×"
            if theirs >= 10 * ours
            else f"{theirs / ours:.2f}×"
        )
        rows.append(f"| {label} | {secs(ours)} | {secs(theirs)}{note} | {ratio} |")

    imports = [c["import_s"] for c in peer.values() if isinstance(c, dict) and "import_s" in c]
    row(
        "import (marin_exec vs marin.execution)",
        results["import"].get("import_s"),
        statistics.median(imports) if imports else None,
    )
    ours20 = None  # marin_exec has no 20-chain case: scale its per-step time from the 200-chain
    ours200 = total(local.get("spec/chain/200", {}).get("fresh", {}), "run_s")
    if ours200:
        ours20 = ours200 / 10
    chain20 = peer.get("chain20", {})
    if "fresh_s" in chain20:
        row("chain 20, fresh run (marin_exec: 200-chain ÷ 10)", ours20, chain20["fresh_s"])
    chain200 = peer.get("chain200", {})
    if "fresh_s" in chain200:
        row("chain 200, fresh run", ours200, chain200["fresh_s"])
        row(
            "chain 200, cached re-run",
            total(local.get("spec/chain/200", {}).get("cached", {}), "run_s"),
            chain200["cached_s"],
        )
    elif "fresh_s" in chain20:
        row("chain 200, fresh run (Marin: 20-chain × 10)", ours200, chain20["fresh_s"] * 10, " (scaled)")
    fan = peer.get("fanout200", {})
    if "fresh_s" in fan:
        ours_fan = local.get("spec/fanout/200", {})
        row("fan-out/in 200, fresh run", total(ours_fan.get("fresh", {}), "run_s"), fan["fresh_s"])
        row("fan-out/in 200, dry run", total(ours_fan.get("plan_empty", {}), "run_s"), fan["dry_run_s"])
        row("fan-out/in 200, cached re-run", total(ours_fan.get("cached", {}), "run_s"), fan["cached_s"])
    errors = [f"{k}: {v['error']}" for k, v in peer.items() if isinstance(v, dict) and "error" in v]
    rows += [""] + [f"Marin error: {e}" for e in errors] if errors else []
    rows += [
        "",
        "Marin's cached re-run shares the process with its fresh run (its import costs seconds); marin_exec's "
        "re-run starts a new process. Marin's `StepRunner` sleeps 1 s whenever no step has finished, so its "
        "chain costs about 1 s per step"
        + (
            "; its 200-chain here is the 20-chain × 10 (`--peer-chain 200` measures it, ~200 s)."
            if s.peer_chain == 20
            else "."
        ),
    ]
    return rows


def _nproc() -> str:
    try:
        return subprocess.run(["nproc"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return "?"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _git_commit() -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        )
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "marin_exec"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return "unknown"
    return done.stdout.strip() + (" + uncommitted changes in marin_exec/" if dirty.stdout.strip() else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small subset (3-5 minutes)")
    parser.add_argument("--no-peer", action="store_true", help="skip Marin's executors")
    parser.add_argument("--peer-only", action="store_true", help="only the side-by-side with Marin (~10 minutes)")
    parser.add_argument("--no-gcs", action="store_true", help="skip the gs:// cases on fake-gcs-server")
    parser.add_argument("--no-remote", action="store_true", help="skip bench_remote.py")
    parser.add_argument(
        "--skip-fresh-10k", action="store_true", help="seed 10,000-step prefixes instead of running them (as --quick)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement (median reported)")
    parser.add_argument("--peer-chain", type=int, default=20, help="also run Marin's chain at this size (200: ~200 s)")
    parser.add_argument("--out", type=Path, help="also write the markdown report here")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)
    s = settings_from(args)
    command = " ".join([".venv/bin/python benchmarks/run_all.py", *(argv if argv is not None else sys.argv[1:])])
    results = collect_peer_only(s) if s.peer_only else collect(s)
    report = render_peer_only(results, s, command) if s.peer_only else render(results, s, command)
    print(report)
    if args.out:
        args.out.write_text(report)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
