"""ExecutorStep graphs get exactly the versions, paths and function configs Marin's executor gives them.

The golden file was recorded with Marin's own executor (benchmarks/peer/marin_legacy_golden.py) from the graphs in
benchmarks/peer/legacy_cases.py; here the same graphs are built with marin_exec.legacy and with look-alikes of
Marin's classes (tests/marin_lookalike.py), and go through ``legacy.Executor`` and through ``run_executor``.
"""

from __future__ import annotations

import json
import pathlib
import types

import pytest

import marin_exec.legacy as legacy
from benchmarks.peer import legacy_cases
from marin_exec import ExecutorMainConfig, run_executor
from marin_exec.legacy.mirror import mirror_budget_of
from marin_exec.status.step_status import read_statuses
from tests import marin_lookalike

GOLDEN = json.loads((pathlib.Path(__file__).parent / "golden" / "marin_legacy_steps.json").read_text())
APIS = {"marin_exec.legacy": legacy, "marin-shaped": marin_lookalike.api}
CASES = sorted(set(GOLDEN["cases"]) - {"stepspec_as_executor_step"})


def _build(api_name: str, absolute_root: pathlib.Path) -> dict[str, list]:
    return legacy_cases.build_cases(APIS[api_name], str(absolute_root))


@pytest.mark.parametrize("api_name", sorted(APIS))
@pytest.mark.parametrize("case", CASES)
def test_executor_versions_paths_and_configs_equal_marins(api_name: str, case: str, tmp_path: pathlib.Path) -> None:
    prefix, absolute_root = str(tmp_path / "prefix"), tmp_path / "abs"
    executor = legacy.Executor(prefix=prefix, executor_info_base_path=f"{prefix}/experiments")
    for item in _build(api_name, absolute_root)[case]:
        executor.compute_version(getattr(item, "step", None) or item)
    got = [
        {
            "name": step.name,
            "version_json": executor.version_strs[step],
            "hash": executor.hashed_versions[step],
            "output_path": legacy_cases.relative(executor.output_paths[step], prefix, str(absolute_root)),
            "pseudo_only": executor.is_pseudo_dep[step],
            "config": legacy_cases.to_json(executor.configs[step], prefix, str(absolute_root)),
            "mirror_budget_gb": mirror_budget_of(step.config),
        }
        for step in executor.steps
    ]
    assert got == GOLDEN["cases"][case]


@pytest.mark.parametrize("api_name", sorted(APIS))
@pytest.mark.parametrize("case", CASES)
def test_run_executor_runs_each_step_at_marins_path_with_marins_config(
    api_name: str, case: str, tmp_path: pathlib.Path
) -> None:
    prefix, absolute_root = str(tmp_path / "prefix"), tmp_path / "abs"
    legacy_cases.RECEIVED.clear()
    run_executor(_build(api_name, absolute_root)[case], ExecutorMainConfig(prefix=prefix))
    expected = [s for s in GOLDEN["cases"][case] if not s["pseudo_only"]]
    received = [legacy_cases.to_json(c, prefix, str(absolute_root)) for c in legacy_cases.RECEIVED]
    assert sorted(json.dumps(c, sort_keys=True) for c in received) == sorted(
        json.dumps(s["config"], sort_keys=True) for s in expected
    )
    paths = [s["output_path"].replace("{prefix}", prefix).replace("{abs}", str(absolute_root)) for s in expected]
    assert read_statuses(paths) == ["SUCCESS"] * len(paths)


@pytest.mark.parametrize("api_name", sorted(APIS))
def test_each_function_runs_under_the_mirror_budget_marins_executor_sets(api_name: str, tmp_path: pathlib.Path) -> None:
    legacy_cases.BUDGETS.clear()
    run_executor(_build(api_name, tmp_path / "abs")["mirrored"], ExecutorMainConfig(prefix=str(tmp_path)))
    expected = [s["mirror_budget_gb"] for s in GOLDEN["cases"]["mirrored"]]
    assert sorted(legacy_cases.BUDGETS, key=str) == sorted(expected, key=str) == sorted([50, 0.5, None], key=str)


def test_a_step_only_referenced_nonblocking_does_not_run(tmp_path: pathlib.Path) -> None:
    legacy_cases.RECEIVED.clear()
    items = legacy_cases.build_cases(legacy, str(tmp_path / "abs"))["pseudo_and_hardcoded"]
    run_executor(items, ExecutorMainConfig(prefix=str(tmp_path)))
    live = next(s for s in GOLDEN["cases"]["pseudo_and_hardcoded"] if s["name"] == "train/live")
    assert live["pseudo_only"]
    assert not (tmp_path / live["output_path"].replace("{prefix}/", "")).exists()


def test_lookalike_module_is_not_marin() -> None:
    assert isinstance(marin_lookalike.api, types.SimpleNamespace)
    assert "marin" not in {m.split(".")[0] for m in __import__("sys").modules}


def _marin_stepspecs(prefix: str) -> legacy.ExecutorStep:
    """Marin's StepSpec.as_executor_step() output (look-alike), each spec at the path Marin's StepSpec computed."""
    golden = {s["name"]: s["output_path"] for s in GOLDEN["cases"]["stepspec_as_executor_step"]}
    specs: list[marin_lookalike.MarinStepSpec] = []
    for name, attrs, dep in legacy_cases.STEPSPECS:
        path = golden[name].replace("{prefix}", prefix)
        deps = [] if dep is None else [specs[dep]]
        specs.append(marin_lookalike.MarinStepSpec(name, legacy_cases.record_path, path, deps, attrs))
    return specs[-1].as_executor_step()


def test_stepspec_as_executor_step_keeps_marins_version_and_path(tmp_path: pathlib.Path) -> None:
    executor = legacy.Executor(prefix=str(tmp_path), executor_info_base_path=str(tmp_path / "experiments"))
    executor.compute_version(_marin_stepspecs(str(tmp_path)))
    got = [(s.name, executor.version_strs[s], executor.output_paths[s]) for s in executor.steps]
    golden = GOLDEN["cases"]["stepspec_as_executor_step"]
    assert got == [(g["name"], g["version_json"], g["output_path"].replace("{prefix}", str(tmp_path))) for g in golden]


def test_stepspec_as_executor_step_runs_the_stepspec_function_on_its_output_path(tmp_path: pathlib.Path) -> None:
    legacy_cases.RECEIVED.clear()
    run_executor([_marin_stepspecs(str(tmp_path))], ExecutorMainConfig(prefix=str(tmp_path)))
    golden = [g["output_path"].replace("{prefix}", str(tmp_path)) for g in GOLDEN["cases"]["stepspec_as_executor_step"]]
    assert legacy_cases.RECEIVED == golden
    assert read_statuses(golden) == ["SUCCESS", "SUCCESS"]
