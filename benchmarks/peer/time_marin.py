"""Times Marin's own executor: `import marin.execution`, and a StepSpec chain run with Marin's StepRunner.

Run with the reference peer's interpreter (see install_peer.sh):

    /work/peer-venv/bin/python benchmarks/peer/time_marin.py [--steps 20]

Each step is trivial (writes nothing itself), so the run time is Marin's scheduling cost. A second run over the
same prefix measures the all-cached path. It deliberately does not compare with marin_exec: that belongs to the
benchmark suite, which imports this peer's numbers, not its code.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from typing import Any


def _trivial(output_path: str) -> int:
    return 1


def run_chain(steps: int) -> dict[str, float]:
    t0 = time.perf_counter()
    import marin.execution  # noqa: F401 - the import being timed
    from marin.execution.step_runner import StepRunner
    from marin.execution.step_spec import StepSpec

    import_s = time.perf_counter() - t0

    with tempfile.TemporaryDirectory(prefix="marin-peer-time-") as tmp:
        os.environ["MARIN_PREFIX"] = tmp
        chain: list[Any] = []
        for i in range(steps):
            spec = StepSpec(name=f"chain/s{i}", deps=chain[-1:], hash_attrs={"i": i}, fn=_trivial)
            spec.output_path  # noqa: B018 - warm the cached property: cold deep chains hit RecursionError in Marin
            chain.append(spec)
        t0 = time.perf_counter()
        StepRunner().run(chain)
        run_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        StepRunner().run(chain)
        cached_s = time.perf_counter() - t0
    return {"import_s": import_s, "run_s": run_s, "cached_rerun_s": cached_s}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args(argv)
    result = run_chain(args.steps)
    print(
        f"marin.execution import {result['import_s']:.2f} s; StepRunner chain of {args.steps}: "
        f"run {result['run_s']:.2f} s, all-cached rerun {result['cached_rerun_s']:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
