"""Today's Marin (marin-core 0.2.227) on the benchmark graphs, for side-by-side ratios; prints a single JSON line.

Runs under the 0.2.227 peer's interpreter (benchmarks/peer/install_peer_227.sh), never under marin_exec's venv;
benchmarks/run_all.py drives it:

    /work/peer-227/bin/python benchmarks/peer/marin_227_bench.py --api stepspec --shape chain --size 200 \
        --phase fresh --prefix DIR

``--api stepspec`` builds the workloads.py shape with Marin's ``StepSpec`` and runs it with Marin's ``StepRunner``
(the same graph benchmarks/bench_graph.py gives marin_exec); ``--api lazy`` builds it with ``apply`` handles (each
step a ``name@version`` whose inputs hold its dependencies) and runs it with ``marin.execution.lazy.run``. Phases:
``fresh`` on an empty ``--prefix`` (every step must then have SUCCESS), ``cached`` on a prefix a fresh phase
finished, in a new process, as a user's re-run is. Reported: ``import_s`` (the first import of Marin's module),
``build_s``, ``run_s``, ``peak_rss_mb``; a failure is reported as ``error``. Imports no marin_exec.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for workloads.py

from workloads import SWEEP_EVALS, SWEEP_MODEL_SIZES, SWEEP_PER_DATASET, build_specs, check_size, roots  # noqa: E402

VERSION = "2026.12.06"


def _nothing(output_path: str) -> None:
    """Every StepSpec step: no work. (Marin 0.2.227 fails a step whose return value is not an object or None.)"""


def _noop(**inputs: Any) -> None:
    """Every lazy step: no work."""


def build_lazy(shape: str, n: int) -> list[Any]:
    """The handles of ``shape`` the runner must be given (its sinks); the rest are reached as dependencies."""
    from marin.execution.lazy import OUT, apply

    check_size(shape, n)

    def node(name: str, deps: list[Any], **attrs: Any) -> Any:
        return apply(name, _noop, version=VERSION, inputs=deps, out=OUT, **attrs)

    handles: list[Any] = []
    if shape == "chain":
        for i in range(n):
            handles.append(node(f"chain/s{i}", handles[-1:], i=i))
        return handles[-1:]
    if shape == "fanout":
        root = node("fanout/root", [])
        middles = [node(f"fanout/m{i}", [root], i=i) for i in range(n - 2)]
        return [node("fanout/sink", middles)]
    if shape != "sweep":
        raise ValueError(f"--api lazy builds chain, fanout and sweep, not {shape!r}")
    sinks = []
    for d in range(n // SWEEP_PER_DATASET):
        raw = node(f"sweep/raw/ds{d}", [], url=f"https://example.org/ds{d}.jsonl")
        tok = node(f"sweep/tokenized/ds{d}", [raw], tokenizer="llama3")
        for size in SWEEP_MODEL_SIZES:
            model = node(f"sweep/train/ds{d}-{size}", [tok], size=size, lr=3e-4)
            sinks += [node(f"sweep/eval/ds{d}-{size}/task{k}", [model], task=k) for k in range(SWEEP_EVALS)]
    return sinks


def measure(api: str, shape: str, size: int, phase: str, prefix: str, max_concurrent: int) -> dict[str, Any]:
    os.environ["MARIN_PREFIX"] = prefix
    start = time.perf_counter()
    if api == "lazy":
        from marin.execution.lazy import run
    else:
        from marin.execution.step_runner import StepRunner
        from marin.execution.step_spec import StepSpec
    result: dict[str, Any] = {"import_s": time.perf_counter() - start}
    start = time.perf_counter()
    if api == "lazy":
        given = build_lazy(shape, size)
    else:
        specs = build_specs(shape, size, prefix, fn=_nothing, spec_class=StepSpec)
        for spec in specs:
            spec.output_path  # noqa: B018 - identities in dependency order, as bench_graph.py does for marin_exec
        given = roots(shape, specs)
    result["build_s"] = time.perf_counter() - start
    start = time.perf_counter()
    if api == "lazy":
        run(*given, max_concurrent=max_concurrent)
    else:
        StepRunner().run(given, max_concurrent=max_concurrent)
    result["run_s"] = time.perf_counter() - start
    succeeded = sum(1 for p in Path(prefix).rglob(".executor_status") if p.read_text().strip() == "SUCCESS")
    if succeeded != size:
        result["error"] = f"expected {size} SUCCESS status files after the {phase} run, found {succeeded}"
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", choices=("stepspec", "lazy"), required=True)
    parser.add_argument("--shape", default="chain")
    parser.add_argument("--size", type=int, default=20)
    parser.add_argument("--phase", choices=("fresh", "cached"), required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--max-concurrent", type=int, default=8)
    args = parser.parse_args(argv)
    import logging

    logging.basicConfig(level=logging.WARNING)  # Marin's runner logs every step at INFO otherwise
    try:
        result = measure(args.api, args.shape, args.size, args.phase, args.prefix, args.max_concurrent)
    except BaseException as e:  # reported as data (RecursionError included), shown in run_all's table
        result = {"error": f"{type(e).__name__}: {str(e)[:200]}"}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
