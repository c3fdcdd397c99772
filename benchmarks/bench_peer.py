"""Side by side with today's Marin (marin-core 0.2.227: ``StepRunner`` and lazy ``run``) and the June one (0.2.20).

run_all.py calls ``collect`` (every measurement a fresh process: marin_exec's with this venv, Marin's with its own
Python 3.12 venv) and ``render`` (the markdown table and the issue-18 limits). The same graphs on each side:
workloads.py's chain (20 and 200), fan-out/fan-in (200) and sweep (200), trivial steps, a local prefix on disk.
For each: a fresh run, then a cached re-run in a new process, timed inside the process (the runner call) and as
the whole process (interpreter, import, build, run), which is what a user waits for when re-running a script.
The 200-chain runs a second time with both prefixes on a RAM disk (``tmpfs``: marin_exec and Marin's StepRunner):
this VM's disk spends 0.2-0.4 ms on every new file or directory (six per fresh step, each a commit write DESIGN §5
requires), which is most of a fresh level on disk but says nothing about either executor.
marin_exec runs ``--repeats`` times (median); Marin once per case (its runner sleeps 1 s per poll: its numbers
are whole seconds and its import alone takes 6–17 s here). The 0.2.20 column comes from marin_peer_bench.py
(fresh and cached in one process) and is left out where that peer is not installed.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

CASES = (("chain", 20), ("chain", 200), ("fanout", 200), ("sweep", 200))
APIS = ("stepspec", "lazy")
LIMITS = {"per_level_ratio": 2000.0, "cached200_ratio": 5.0, "import_s": 0.1}

Child = Callable[..., dict]


def _timed(child: Child, argv: list[str], **kwargs: Any) -> dict:
    start = time.perf_counter()
    result = child(argv, **kwargs)
    return {**result, "wall_s": time.perf_counter() - start}


def _median(samples: list[dict]) -> dict:
    for sample in samples:
        if "error" in sample:
            return sample
    keys = [k for k, v in samples[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return {k: statistics.median(s[k] for s in samples) for k in keys}


def collect(
    child: Child,
    progress: Callable[[str], None],
    work: Path,
    repeats: int,
    peer227: str | None,
    peer020: str | None,
    tmpfs: Path | None = None,
) -> dict[str, Any]:
    """Numbers per case and system: ``{"chain200": {"ours": {...}, "stepspec": {...}, "lazy": {...}, "old": {...}}}``;
    each system ``{"fresh": {...}, "cached": {...}}`` (``run_s``, ``wall_s``, ``import_s``) or ``{"error"}``."""
    results: dict[str, Any] = {}
    for shape, size in CASES:
        key = f"{shape}{size}"
        case: dict[str, Any] = {}
        progress(f"peer comparison: marin_exec {key}")
        graph = ["bench_graph.py", "--shape", shape, "--size", str(size), "--frontend", "spec"]
        base = work / f"ours-{key}"
        fresh = [_timed(child, [*graph, "--phase", "fresh", "--prefix", f"{base}/run{i}"]) for i in range(repeats)]
        cached = [_timed(child, [*graph, "--phase", "cached", "--prefix", f"{base}/run0"]) for _ in range(repeats)]
        case["ours"] = {"fresh": _median(fresh), "cached": _median(cached)}
        for api in APIS if peer227 else ():
            progress(f"peer comparison: Marin 0.2.227 {api} {key}")
            argv = ["peer/marin_227_bench.py", "--api", api, "--shape", shape, "--size", str(size)]
            prefix = str(work / f"marin227-{api}-{key}")
            timeout = max(600.0, 3.0 * size)
            first = _timed(child, [*argv, "--phase", "fresh", "--prefix", prefix], python=peer227, timeout=timeout)
            second = {} if "error" in first else {"cached": _timed(
                child, [*argv, "--phase", "cached", "--prefix", prefix], python=peer227, timeout=timeout
            )}  # fmt: skip
            case[api] = {"fresh": first, **second}
        if peer020 and size <= 200 and key != "chain200":  # its 200-chain would take 200 s more; scaled below
            progress(f"peer comparison: Marin 0.2.20 {key}")
            old = child(["marin_peer_bench.py", "--shape", shape, "--size", str(size)], python=peer020, timeout=900)
            if "error" not in old:
                old = {"fresh": {"run_s": old["fresh_s"]}, "cached": {"run_s": old["cached_s"]}, **old}
            case["old"] = old
        results[key] = case
    results["chain200"]["floor"] = _floors(child, progress, work, "disk")
    if tmpfs is not None:
        results["chain200 on tmpfs"] = _chain_on_tmpfs(child, progress, tmpfs, repeats, peer227)
        results["chain200 on tmpfs"]["floor"] = _floors(child, progress, tmpfs, "tmpfs")
    return results


def _floors(child: Child, progress: Callable[[str], None], where: Path, label: str) -> dict:
    """bench_overhead.py's file-system floors of one fresh step, on the file system of ``where``, in this run."""
    progress(f"peer comparison: file-system floors of a fresh step on {label}")
    where.mkdir(parents=True, exist_ok=True)
    return child(["bench_overhead.py", "--floors-only", "--steps", "200", "--prefix", str(where)])


def _chain_on_tmpfs(child: Child, progress: Callable[[str], None], work: Path, repeats: int, peer227: str | None):
    """The 200-chain fresh and cached with every prefix on a RAM disk: marin_exec and Marin 0.2.227's StepRunner."""
    progress("peer comparison: marin_exec chain200 on tmpfs")
    graph = ["bench_graph.py", "--shape", "chain", "--size", "200", "--frontend", "spec"]
    fresh = [_timed(child, [*graph, "--phase", "fresh", "--prefix", f"{work}/ours/run{i}"]) for i in range(repeats)]
    cached = [_timed(child, [*graph, "--phase", "cached", "--prefix", f"{work}/ours/run0"]) for _ in range(repeats)]
    case: dict[str, Any] = {"ours": {"fresh": _median(fresh), "cached": _median(cached)}}
    if peer227:
        progress("peer comparison: Marin 0.2.227 stepspec chain200 on tmpfs")
        argv = ["peer/marin_227_bench.py", "--api", "stepspec", "--shape", "chain", "--size", "200"]
        prefix = str(work / "marin227")
        first = _timed(child, [*argv, "--phase", "fresh", "--prefix", prefix], python=peer227, timeout=900)
        second = {} if "error" in first else {"cached": _timed(
            child, [*argv, "--phase", "cached", "--prefix", prefix], python=peer227, timeout=900
        )}  # fmt: skip
        case["stepspec"] = {"fresh": first, **second}
    return case


def _get(case: dict, system: str, phase: str, key: str) -> float | None:
    data = case.get(system, {}).get(phase, {})
    value = None if "error" in data else data.get(key)  # a failed run's wall time is no measurement
    return value if isinstance(value, (int, float)) else None


def secs(value: Any) -> str:
    """A duration for the tables: µs, ms or s; "–" for anything that is not a number (no measurement)."""
    if not isinstance(value, (int, float)):
        return "–"
    if value < 0.001:
        return f"{value * 1e6:.0f} µs"
    if value < 1:
        return f"{value * 1e3:.1f} ms"
    return f"{value:.2f} s"


def _ratio(theirs: float | None, ours: float | None) -> str:
    if not (theirs and ours):
        return "–"
    r = theirs / ours
    return f"{r:,.0f}×" if r >= 10 else f"{r:.2f}×"


def _median_import(results: dict[str, Any], system: str) -> float | None:
    """The median first-import time of a system over all its processes."""
    values = []
    for case in results.values():
        data = case.get(system, {})
        values += [
            part["import_s"] for part in (data, data.get("fresh", {}), data.get("cached", {})) if "import_s" in part
        ]
    return statistics.median(values) if values else None


def _error(case: dict, system: str) -> str | None:
    data = case.get(system, {})
    parts = (("", data), ("fresh run: ", data.get("fresh", {})), ("cached re-run: ", data.get("cached", {})))
    for label, part in parts:
        if isinstance(part, dict) and "error" in part:
            return label + str(part["error"])
    return None


def render(results: dict[str, Any], import_s: float | None, peer227: str | None, peer020: str | None) -> list[str]:
    out = [
        "| case | marin_exec | Marin 0.2.227 StepRunner | Marin 0.2.227 lazy `run` | Marin 0.2.20 StepRunner "
        "| 0.2.227 StepRunner ÷ marin_exec | 0.2.227 lazy ÷ marin_exec |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]

    def row(label: str, ours: float | None, a: float | None, b: float | None, old: float | None) -> None:
        cells = [secs(ours), secs(a), secs(b), secs(old), _ratio(a, ours), _ratio(b, ours)]
        out.append(f"| {label} | {' | '.join(cells)} |")

    imports = {
        api: [_get(c, api, p, "import_s") for c in results.values() for p in ("fresh", "cached")] for api in APIS
    }
    imports = {api: [v for v in values if v is not None] for api, values in imports.items()}
    old_imports = [c["old"]["import_s"] for c in results.values() if "import_s" in c.get("old", {})]
    row(
        "import (`marin_exec`; `marin.execution.step_runner` / `.lazy`; `marin.execution`)",
        import_s,
        statistics.median(imports["stepspec"]) if imports["stepspec"] else None,
        statistics.median(imports["lazy"]) if imports["lazy"] else None,
        statistics.median(old_imports) if old_imports else None,
    )
    for key, case in results.items():
        for phase, what in (("fresh", "fresh run"), ("cached", "cached re-run, runner call")):
            row(
                f"{key}, {what}",
                _get(case, "ours", phase, "run_s"),
                _get(case, "stepspec", phase, "run_s"),
                _get(case, "lazy", phase, "run_s"),
                _get(case, "old", phase, "run_s"),
            )
        row(
            f"{key}, cached re-run, whole process",
            _get(case, "ours", "cached", "wall_s"),
            _get(case, "stepspec", "cached", "wall_s"),
            _get(case, "lazy", "cached", "wall_s"),
            None,
        )
    out.append("")
    for key, case in results.items():
        for system, label in (("stepspec", "0.2.227 StepRunner"), ("lazy", "0.2.227 lazy run"), ("old", "0.2.20")):
            if (error := _error(case, system)) is not None:
                out.append(f"- {label}, {key}: {error}")
    if peer020:
        out.append("- 0.2.20's 200-chain is not run (200 s more; its 20-chain shows the same 1 s per level)")
    out += [
        "- runner call: the `StepRunner.run` / `run(...)` call alone, in a process that has imported and built the "
        "graph; whole process: the cached re-run as a user waits for it (interpreter, import, build, run). "
        "Marin 0.2.20's cached re-run shares the process with its fresh run (marin_peer_bench.py)."
    ]
    out += ["", *render_limits(results, import_s)]
    if not peer227:
        out.append("- Marin 0.2.227 not measured: no peer venv (benchmarks/peer/install_peer_227.sh)")
    if not peer020:
        out.append("- Marin 0.2.20 not measured: no peer venv (benchmarks/peer/install_peer.sh)")
    return out


def _floor_rows(floor: dict, where: str, theirs_level: float | None) -> list[str]:
    """What the file system alone allows: the ratio an executor would reach if a level cost only its floor."""
    rows = []
    for key, what in (
        ("fs_floor_ms", "the system calls of one fresh step alone, no executor"),
        ("creations_floor_ms", "only the directory and five files a fresh step creates"),
    ):
        level = floor[key] / 1e3 if isinstance(floor.get(key), (int, float)) else None
        best = theirs_level / level if theirs_level and level else None
        rows.append(
            f"| floor ({where}): {what} | ≤ {secs(theirs_level / LIMITS['per_level_ratio']) if theirs_level else '–'}"
            f" for {LIMITS['per_level_ratio']:,.0f}× | {secs(level)} per level: at best "
            f"{'–' if best is None else f'{best:,.0f}×'} | {_within(best)} |"
        )
    return rows


def _within(best: float | None) -> str:
    if best is None:
        return "n/a"
    return "floor within the budget" if best >= LIMITS["per_level_ratio"] else "**floor over the budget**"


def render_limits(results: dict[str, Any], import_s: float | None) -> list[str]:
    out = ["| limit (issue 18) | target | measured | verdict |", "| --- | --- | --- | --- |"]

    def verdict(value: float | None, ok: bool) -> str:
        return "n/a" if value is None else "**pass**" if ok else "**MISS**"

    for key, where in (("chain200", "prefix on disk"), ("chain200 on tmpfs", "prefixes on tmpfs")):
        chain = results.get(key)
        if chain is None:
            continue
        ours_level = (_get(chain, "ours", "fresh", "run_s") or 0) / 200 or None
        theirs_level = (_get(chain, "stepspec", "fresh", "run_s") or 0) / 200 or None
        ratio = theirs_level / ours_level if theirs_level and ours_level else None
        out.append(
            f"| chain, per level, fresh, vs 0.2.227 StepRunner ({where}) | ≥ {LIMITS['per_level_ratio']:,.0f}× | "
            f"{'–' if ratio is None else f'{ratio:,.0f}×'} ({secs(ours_level)} vs {secs(theirs_level)} per level) "
            f"| {verdict(ratio, (ratio or 0) >= LIMITS['per_level_ratio'])} |"
        )
        out += _floor_rows(chain.get("floor", {}), where, theirs_level)
    chain = results.get("chain200", {})
    for phase_key, label in (("wall_s", "whole process"), ("run_s", "runner call")):
        ours, theirs = _get(chain, "ours", "cached", phase_key), _get(chain, "stepspec", "cached", phase_key)
        r = theirs / ours if ours and theirs else None
        out.append(
            f"| cached re-run of the 200-chain ({label}) vs 0.2.227 StepRunner | ≥ {LIMITS['cached200_ratio']:g}× | "
            f"{'–' if r is None else f'{r:,.2f}×'} ({secs(ours)} vs {secs(theirs)}) | "
            f"{verdict(r, (r or 0) >= LIMITS['cached200_ratio'])} |"
        )
    out.append(
        f"| `import marin_exec` | < {LIMITS['import_s']:g} s | {secs(import_s)} | "
        f"{verdict(import_s, (import_s or 1) < LIMITS['import_s'])} |"
    )
    return out
