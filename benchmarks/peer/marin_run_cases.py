"""Runs the ExecutorStep graphs of legacy_cases.py for real with Marin's executor, for tests/test_legacy_peer.py.

    /work/peer-venv/bin/python benchmarks/peer/marin_run_cases.py --prefix DIR --abs DIR --out FILE

Each case runs under DIR/<case> (so marin_exec can then be pointed at what Marin left there). The JSON written to
FILE holds, per case, every config Marin handed a step function, the mirror budgets its functions ran under and
every step's output path (configs and paths written with legacy_cases.to_json / relative). It does not import
marin_exec.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import legacy_cases  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--abs", required=True, help="directory for steps pinned to an absolute path")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    import marin.execution
    from marin.execution.executor import Executor, mirrored

    api = types.SimpleNamespace(**vars(marin.execution), mirrored=mirrored)
    results = {}
    for case, items in legacy_cases.build_cases(api, args.abs).items():
        prefix = f"{args.prefix}/{case}"
        legacy_cases.RECEIVED.clear()
        legacy_cases.BUDGETS.clear()
        executor = Executor(prefix=prefix, executor_info_base_path=f"{prefix}/experiments")
        executor.run(steps=items)
        results[case] = {
            "configs": [legacy_cases.to_json(c, prefix, args.abs) for c in legacy_cases.RECEIVED],
            "mirror_budgets_gb": list(legacy_cases.BUDGETS),
            "paths": {
                s.name: legacy_cases.relative(executor.output_paths[s], prefix, args.abs) for s in executor.steps
            },
        }
    from marin.execution.step_spec import StepSpec

    prefix = f"{args.prefix}/stepspec_as_executor_step"
    specs: list[StepSpec] = []
    for name, attrs, dep in legacy_cases.STEPSPECS:
        deps = [] if dep is None else [specs[dep]]
        specs.append(
            StepSpec(name=name, fn=legacy_cases.record_path, hash_attrs=attrs, deps=deps, output_path_prefix=prefix)
        )
    legacy_cases.RECEIVED.clear()
    executor = Executor(prefix=prefix, executor_info_base_path=f"{prefix}/experiments")
    executor.run(steps=[specs[-1].as_executor_step()])
    results["stepspec_as_executor_step"] = {
        "configs": [legacy_cases.relative(path, prefix, args.abs) for path in legacy_cases.RECEIVED],
        "paths": {s.name: legacy_cases.relative(executor.output_paths[s], prefix, args.abs) for s in executor.steps},
    }
    Path(args.out).write_text(json.dumps(results, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
