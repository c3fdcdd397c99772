"""Marin's own executor on the benchmark graphs, for side-by-side ratios; prints a single JSON line.

Runs under the reference peer's interpreter (benchmarks/peer/install_peer.sh), never under marin_exec's venv:

    /work/peer-venv/bin/python benchmarks/marin_peer_bench.py --shape chain --size 20

In one process: ``import marin.execution`` (timed), the graph built with Marin's ``StepSpec`` from the same
workloads.py shapes (output paths warmed while building, as Marin's cold deep chains overflow the stack), then a
dry run, a fresh run and an all-cached re-run with Marin's ``StepRunner``, each timed. Marin's import costs
seconds, so the re-run shares the process with the fresh run (marin_exec's re-run is measured in a new process;
this only flatters Marin). It does not import marin_exec and does not compare anything itself.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from workloads import build_specs, roots


def measure(shape: str, size: int, max_concurrent: int) -> dict[str, Any]:
    start = time.perf_counter()
    import marin.execution  # noqa: F401 - the import being timed
    from marin.execution.step_runner import StepRunner
    from marin.execution.step_spec import StepSpec

    result: dict[str, Any] = {"import_s": time.perf_counter() - start}
    with tempfile.TemporaryDirectory(prefix="marin-peer-bench-") as prefix:
        os.environ["MARIN_PREFIX"] = prefix
        start = time.perf_counter()
        specs = build_specs(shape, size, prefix, spec_class=StepSpec)
        for spec in specs:
            spec.output_path  # noqa: B018 - warm identities in dependency order (Marin recurses otherwise)
        given = roots(shape, specs)
        result["build_s"] = time.perf_counter() - start
        for phase in ("dry_run_s", "fresh_s", "cached_s"):
            start = time.perf_counter()
            StepRunner().run(given, dry_run=phase == "dry_run_s", max_concurrent=max_concurrent)
            result[phase] = time.perf_counter() - start
        succeeded = sum(1 for p in Path(prefix).rglob(".executor_status") if p.read_text().strip().endswith("SUCCESS"))
        if succeeded != size:
            result["error"] = f"expected {size} SUCCESS status files after the run, found {succeeded}"
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="chain")
    parser.add_argument("--size", type=int, default=20)
    parser.add_argument("--max-concurrent", type=int, default=8)
    args = parser.parse_args(argv)
    try:
        result = measure(args.shape, args.size, args.max_concurrent)
    except Exception as e:  # reported as data, shown in run_all's table
        result = {"error": f"{type(e).__name__}: {e}"}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
