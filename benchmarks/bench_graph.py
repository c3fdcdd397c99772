"""One measurement of one benchmark graph, in this (fresh) process; prints a single JSON line.

    .venv/bin/python benchmarks/bench_graph.py --shape chain --size 1000 --frontend spec --phase fresh --prefix DIR

Phases (each builds the graph first and reports that time as ``build_s``: StepSpec construction plus output
paths for ``--frontend spec``, used as a library; trace + compile for ``--frontend traced``, compiled as
``executor_main`` compiles, with the cyclic GC paused and the plan frozen):

- ``plan``: a dry run (``StepRunner.run(dry_run=True)``) and the rendering of its plan text, against whatever
  ``--prefix`` holds (nothing, or a finished run).
- ``fresh``: a real run; ``--prefix`` must be empty. Every step must report "ran".
- ``cached``: a real run over a prefix a ``fresh`` phase completed. Every step must report "cached", or "pruned"
  when a built step needs it (DESIGN §5b: its status is not read); ``states`` gives the split.
- ``seed``: no run: writes every step's artifact and then its SUCCESS status (16 threads), so that ``cached`` and
  ``plan`` can be measured where a real fresh run of 10,000 steps takes many minutes (an object-store emulator).
  The runner reads only these two objects to skip a step, so a seeded prefix is a finished one for them.
- ``seed_legacy``: an older executor's finished step: ``.executor_info`` without marin_exec's marker, then SUCCESS,
  and no artifact. marin_exec then reads three objects before it counts the step as done (status; no artifact;
  info without its marker).

Also reported: ``run_cpu_s`` (CPU time of the run, which other users of the machine do not inflate as they do
wall time), ``peak_rss_mb`` (this process's ru_maxrss) and ``import_s``. run_all.py drives this script; it
does not start storage emulators itself (pass ``STORAGE_EMULATOR_HOST`` in the environment for ``gs://``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from typing import Any

_t0 = time.perf_counter()
import marin_exec  # noqa: E402,F401 - timed: the first import of this process

IMPORT_S = time.perf_counter() - _t0

from workloads import build_specs, roots, traced_entry  # noqa: E402

EXPECTED = {"fresh": "ran", "cached": "cached"}


def build(shape: str, size: int, frontend: str, prefix: str) -> tuple[list[Any], float, dict[str, float]]:
    """The specs to hand the runner, the build time, and (traced) the split between trace and compile."""
    start = time.perf_counter()
    if frontend == "spec":
        specs = build_specs(shape, size, prefix)
        for spec in specs:
            spec.output_path  # noqa: B018 - computing identities is part of building, as compiling does it
        given = roots(shape, specs)
        return given, time.perf_counter() - start, {}
    entry = traced_entry(shape)
    ref = entry(size)
    traced = time.perf_counter()
    # As executor_main compiles a traced plan: the cyclic GC paused while compiling, then the plan frozen (without
    # that, full collections re-scan the growing graph and time grows super-linearly with the number of steps).
    from marin_exec.run.cli import _compile_without_gc

    specs = _compile_without_gc([ref], prefix).specs
    done = time.perf_counter()
    return specs, done - start, {"trace_s": traced - start, "compile_s": done - traced}


def _cpu() -> float:
    """CPU seconds (user + system) of this process so far: unlike wall time, not inflated by other users."""
    times = os.times()
    return times.user + times.system


def seed(given: list[Any], with_artifact: bool) -> float:
    """Write an artifact (or, if not asked, an older executor's info), then SUCCESS, for every step reachable from
    ``given``; returns the seconds."""
    from concurrent.futures import ThreadPoolExecutor

    from marin_exec import STATUS_SUCCESS, Artifact, StatusFile
    from marin_exec.storage.store import store_for

    def finish(path: str) -> None:
        if with_artifact:
            Artifact.save(1, path)
        else:  # the provenance an older executor left (Marin's executors write .executor_info, not artifacts)
            info = f"{path}/.executor_info"
            record = {"name": every[path].name, "output_path": path, "version": every[path].version_str}
            store_for(info).write(info, json.dumps(record).encode())
        StatusFile(path).write(STATUS_SUCCESS)

    every: dict[str, Any] = {}
    stack = list(given)
    while stack:
        spec = stack.pop()
        if spec.output_path not in every:
            every[spec.output_path] = spec
            stack.extend(spec.deps)
    start = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(finish, every))
    return time.perf_counter() - start


def measure(shape: str, size: int, frontend: str, phase: str, prefix: str, max_concurrent: int) -> dict[str, Any]:
    from marin_exec import StepRunner

    specs, build_s, split = build(shape, size, frontend, prefix)
    result: dict[str, Any] = {"import_s": IMPORT_S, "build_s": build_s, **split}
    if phase.startswith("seed"):
        result["seed_s"] = seed(specs, with_artifact=phase == "seed")
        return result
    cpu = _cpu()
    start = time.perf_counter()
    report = StepRunner().run(specs, dry_run=phase == "plan", max_concurrent=max_concurrent)
    result["run_s"] = time.perf_counter() - start
    result["run_cpu_s"] = _cpu() - cpu
    result["steps"] = len(report.outcomes)
    if phase == "plan":
        from marin_exec.run.render import render_plan

        start = time.perf_counter()
        text = render_plan(report, prefix=prefix)
        result["render_s"] = time.perf_counter() - start
        result["plan_lines"] = text.count("\n") + 1
    else:
        states: dict[str, int] = {}
        for outcome in report.outcomes.values():
            states[outcome.state] = states.get(outcome.state, 0) + 1
        # A cached re-run walks from the terminals: the steps a built one needs are pruned, never read (DESIGN §5b).
        served = states.get(EXPECTED[phase], 0) + (states.get("pruned", 0) if phase == "cached" else 0)
        if served != size or set(states) - {EXPECTED[phase], "pruned"}:
            result["error"] = f"expected {size} steps {EXPECTED[phase]!r}, got {states}"
        result["states"] = states
    if result["steps"] != size:
        result["error"] = f"expected {size} steps in the plan, got {result['steps']}"
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", required=True)
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--frontend", choices=("spec", "traced"), default="spec")
    parser.add_argument("--phase", choices=("plan", "fresh", "cached", "seed", "seed_legacy"), required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--max-concurrent", type=int, default=8)
    args = parser.parse_args(argv)
    try:
        result = measure(args.shape, args.size, args.frontend, args.phase, args.prefix, args.max_concurrent)
    except Exception as e:  # reported as data: run_all shows it in the table instead of a number
        result = {"error": f"{type(e).__name__}: {e}"}
        if type(e).__name__ == "TracingUnavailable":
            result["unavailable"] = str(e)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
