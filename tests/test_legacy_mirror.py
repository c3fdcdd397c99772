"""A function whose config holds Marin's ``mirrored(path, budget_gb=N)`` runs inside rigging's ``mirror_budget`` of
the largest N, as under Marin's executor: in an ExecutorStep, in a ``@step`` config, inside a Fray job. The budget
enters no version. (The budget is read from rigging's private context variable: rigging has no public getter.)"""

from __future__ import annotations

import json
import pathlib
import sys
from typing import Any

import pytest

import marin_exec.legacy as legacy
from marin_exec import ExecutorMainConfig, StepsFailed, deferred, output, run_executor, step
from marin_exec.naming import qualified_name

SEEN: list[tuple[Any, float | None]] = []  # (config, budget in GB during the call)


def read_mirrors(config: Any) -> None:
    from rigging.filesystem.cross_region import _mirror_budget_ctx

    budget = _mirror_budget_ctx.get()
    SEEN.append((config, None if budget is None else budget.limit_bytes / 2**30))


@pytest.fixture(autouse=True)
def _clear() -> None:
    SEEN.clear()


def _mirroring(**options: Any) -> legacy.ExecutorStep[Any]:
    config = {"a": legacy.mirrored("documents/a", budget_gb=3), "b": [legacy.mirrored("documents/b", budget_gb=7)]}
    return legacy.ExecutorStep(name="mirror/read", fn=read_mirrors, config=config, **options)


def test_a_step_config_holding_marins_mirrored_runs_under_the_largest_budget(tmp_path: pathlib.Path) -> None:
    @step(name="mirror/traced")
    def traced() -> Any:
        return deferred(read_mirrors)({"a": legacy.mirrored("documents/a", budget_gb=2), "out": output()})

    run_executor([traced()], ExecutorMainConfig(prefix=str(tmp_path)))
    [(config, budget)] = SEEN
    assert (config["a"], budget) == ("mirror://documents/a", 2)


def test_an_executor_step_with_resources_runs_under_the_budget_inside_its_fray_job(
    tmp_path: pathlib.Path, fray_local_client: Any
) -> None:
    from fray.types import ResourceConfig

    run_executor([_mirroring(resources=ResourceConfig(cpu=1, ram="1g"))], ExecutorMainConfig(prefix=str(tmp_path)))
    assert len(fray_local_client._jobs) == 1
    assert SEEN == [({"a": "mirror://documents/a", "b": ["mirror://documents/b"]}, 7)]


def test_the_budget_changes_no_path_and_the_provenance_names_the_function(tmp_path: pathlib.Path) -> None:
    report = run_executor([_mirroring()], ExecutorMainConfig(prefix=str(tmp_path)))
    [outcome] = report.outcomes.values()
    plain = legacy.ExecutorStep(name="mirror/read", fn=read_mirrors, config={"a": "x", "b": ["y"]})
    executor = legacy.Executor(prefix=str(tmp_path), executor_info_base_path=str(tmp_path / "experiments"))
    executor.compute_version(plain)
    assert outcome.spec.output_path == executor.output_paths[plain]
    info = json.loads(pathlib.Path(outcome.spec.output_path, ".executor_info").read_text())
    assert info["fn_name"] == qualified_name(read_mirrors)


def test_without_rigging_a_mirrored_step_fails_naming_what_to_install(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "rigging.filesystem.cross_region", None)  # its import raises ImportError
    with pytest.raises(StepsFailed) as failed:
        run_executor([_mirroring()], ExecutorMainConfig(prefix=str(tmp_path)))
    assert "marin_exec[fray]" in str(failed.value.__cause__) and "budget of 7 GB" in str(failed.value.__cause__)
    assert SEEN == []
