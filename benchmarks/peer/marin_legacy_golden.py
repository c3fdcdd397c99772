"""Records what Marin's executor makes of the ExecutorStep graphs in legacy_cases.py, for marin_exec.legacy's tests.

Run it with the reference peer's interpreter (see install_peer.sh), never with the project venv:

    /work/peer-venv/bin/python benchmarks/peer/marin_legacy_golden.py           # (re)write the golden file
    /work/peer-venv/bin/python benchmarks/peer/marin_legacy_golden.py --check   # exit 1 if it drifted

For every case, Marin's `Executor.compute_version` (the path `Executor.run` takes) gives each step, in Marin's order:
its version JSON, hash, output path, whether it is only a nonblocking reference, the instantiated config its
function would receive and the mirror budget it would run under; the same for the ExecutorSteps of Marin's
`StepSpec.as_executor_step()`. Nothing runs and nothing is written. The output is tests/golden/marin_legacy_steps.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from legacy_cases import STEPSPECS, build_cases, record_path, relative, to_json  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = REPO_ROOT / "tests" / "golden" / "marin_legacy_steps.json"


def compute(prefix: str, absolute_root: str) -> dict:
    import types

    import marin.execution
    from marin.execution.executor import Executor, InputName, mirrored

    api = types.SimpleNamespace(**vars(marin.execution), mirrored=mirrored)

    cases = {}
    for case, items in build_cases(api, absolute_root).items():
        executor = Executor(prefix=prefix, executor_info_base_path=f"{prefix}/experiments")
        for item in items:
            step = item.step if isinstance(item, InputName) else item
            executor.compute_version(step, is_pseudo_dep=False)
        cases[case] = [_record(executor, step, prefix, absolute_root) for step in executor.steps]
    from marin.execution.step_spec import StepSpec

    specs: list[StepSpec] = []
    for name, attrs, dep in STEPSPECS:
        specs.append(StepSpec(name=name, fn=record_path, hash_attrs=attrs, deps=[] if dep is None else [specs[dep]]))
    executor = Executor(prefix=prefix, executor_info_base_path=f"{prefix}/experiments")
    executor.compute_version(specs[-1].as_executor_step(), is_pseudo_dep=False)
    cases["stepspec_as_executor_step"] = [_record(executor, step, prefix, absolute_root) for step in executor.steps]
    return {"marin_core": metadata.version("marin-core"), "cases": cases}


def _record(executor: Any, step: Any, prefix: str, absolute_root: str) -> dict:
    from marin.execution.executor import _max_mirror_budget  # what Executor.run hands rigging's mirror_budget

    return {
        "name": step.name,
        "version_json": executor.version_strs[step],
        "hash": executor.hashed_versions[step],
        "output_path": relative(executor.output_paths[step], prefix, absolute_root),
        "pseudo_only": executor.is_pseudo_dep[step],
        "config": to_json(executor.configs[step], prefix, absolute_root),
        "mirror_budget_gb": _max_mirror_budget(step.config),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--check", action="store_true", help="compare with --output instead of writing it")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory() as prefix, tempfile.TemporaryDirectory() as absolute_root:
        os.environ["MARIN_PREFIX"] = prefix
        golden = compute(prefix, absolute_root)
        if os.listdir(prefix):
            raise SystemExit(f"computing versions wrote under the prefix: {os.listdir(prefix)}")
    text = json.dumps(golden, indent=2, sort_keys=True) + "\n"
    if args.check:
        same = args.output.read_text() == text
        print("golden file up to date" if same else f"{args.output} differs from what Marin computes now")
        return 0 if same else 1
    args.output.write_text(text)
    print(f"wrote {args.output}: {sum(len(s) for s in golden['cases'].values())} steps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
