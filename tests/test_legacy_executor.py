"""``marin_exec.legacy.Executor`` behaves as Marin's executor: its tables, info files, failure rules, nonblocking
parents, ``run_only``, dedup and ``mirrored`` (the behaviours of Marin's tests/execution/test_executor.py)."""

from __future__ import annotations

import dataclasses
import json
import pathlib
import re
import shutil
import threading
from typing import Any

import pytest

from marin_exec.legacy import (
    THIS_OUTPUT_PATH,
    Executor,
    ExecutorRunFailed,
    ExecutorStep,
    InputName,
    collect_dependencies_and_version,
    instantiate_config,
    mirrored,
    output_path_of,
    this_output_path,
    versioned,
)
from marin_exec.status.step_status import read_statuses

LOG: list[Any] = []


@dataclasses.dataclass(frozen=True)
class MyConfig:
    input_path: Any
    output_path: Any
    n: Any
    m: Any


@dataclasses.dataclass(frozen=True)
class DummyCfg:
    x: Any = 0
    input_path: Any = None
    output_path: Any = THIS_OUTPUT_PATH


def log(config: Any) -> None:
    LOG.append(config)


def dummy(config: DummyCfg) -> None:
    pathlib.Path(config.output_path, "dummy").mkdir(parents=True, exist_ok=True)
    pathlib.Path(config.output_path, "dummy", "done.txt").write_text(str(config.x))


def must_not_run(config: Any) -> None:
    raise AssertionError("this step must not run")


@pytest.fixture(autouse=True)
def _clear_log() -> None:
    LOG.clear()


def _executor(tmp_path: pathlib.Path) -> Executor:
    return Executor(prefix=str(tmp_path), executor_info_base_path=str(tmp_path / "experiments"))


def _a_and_b() -> tuple[ExecutorStep[None], ExecutorStep[MyConfig]]:
    a = ExecutorStep(name="a", fn=log, config=None)
    config = MyConfig(input_path=output_path_of(a, "sub"), output_path=this_output_path(), n=versioned(3), m=4)
    return a, ExecutorStep(name="b", fn=log, config=config)


def test_run_fills_marins_tables_passes_instantiated_configs_and_writes_marins_info_files(
    tmp_path: pathlib.Path,
) -> None:
    a, b = _a_and_b()
    executor = _executor(tmp_path)
    executor.run([b])
    assert executor.steps == [a, b]
    assert LOG[0] is None
    assert re.fullmatch(rf"{tmp_path}/a-\w{{6}}/sub", LOG[1].input_path)
    assert LOG[1] == MyConfig(LOG[1].input_path, executor.output_paths[b], 3, 4)
    run_info = json.loads(pathlib.Path(executor.executor_info_path or "").read_text())
    step_infos = [json.loads(pathlib.Path(executor.output_paths[s], ".executor_info").read_text()) for s in (a, b)]
    assert run_info["prefix"] == str(tmp_path)
    for info_list in (run_info["steps"], step_infos):
        for info, s in zip(info_list, [a, b], strict=True):
            expected_config = dataclasses.asdict(executor.configs[s]) if executor.configs[s] else None
            assert (info["name"], info["output_path"]) == (s.name, executor.output_paths[s])
            assert (info["config"], info["version"]) == (expected_config, executor.versions[s])
    assert read_statuses([executor.output_paths[a], executor.output_paths[b]]) == ["SUCCESS", "SUCCESS"]


def test_a_failure_is_a_runtime_error_and_a_failed_step_reruns_only_when_forced(tmp_path: pathlib.Path) -> None:
    gate = tmp_path / "fail-while-this-exists"
    gate.write_text("")

    def flaky(config: MyConfig) -> None:
        if pathlib.Path(config.input_path).exists():
            raise ValueError("failing on purpose")
        LOG.append(config)

    b = ExecutorStep(name="b", fn=flaky, config=MyConfig(str(gate), THIS_OUTPUT_PATH, 1, 1))
    a = ExecutorStep(name="a", fn=log, config=MyConfig(output_path_of(b, "sub"), THIS_OUTPUT_PATH, 2, 2))
    with pytest.raises(RuntimeError, match=r"1 step\(s\) failed"):
        _executor(tmp_path).run([a])
    gate.unlink()
    with pytest.raises(ExecutorRunFailed, match="failed previously"):
        _executor(tmp_path).run([a], force_run_failed=False)
    assert LOG == []
    _executor(tmp_path).run([a], force_run_failed=True)
    assert len(LOG) == 2


def test_two_executors_sharing_a_step_run_it_once(tmp_path: pathlib.Path) -> None:
    counter = tmp_path / "counter"
    counter.write_text("0")
    start = threading.Barrier(2)

    def add(config: Any) -> None:
        counter.write_text(str(int(counter.read_text()) + config["number"]))

    a = ExecutorStep(name="a", fn=add, config={"number": versioned(1)})
    b = ExecutorStep(name="b", fn=add, config={"number": versioned(2), "input": output_path_of(a)})

    def run(steps: list[Any]) -> None:
        start.wait()
        _executor(tmp_path).run(steps)

    threads = [threading.Thread(target=run, args=(steps,)) for steps in ([a], [a, b])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counter.read_text() == "3"


def test_only_versioned_fields_names_and_upstream_versions_change_the_path(tmp_path: pathlib.Path) -> None:
    def path(a_input: str = "a", a_n: int = 1, a_m: int = 1, sub: str = "foo", b_n: int = 1, b_m: int = 1) -> str:
        a = ExecutorStep(name="a", fn=log, config=MyConfig(versioned(a_input), THIS_OUTPUT_PATH, versioned(a_n), a_m))
        b = ExecutorStep(
            name="b", fn=log, config=MyConfig(output_path_of(a, sub), THIS_OUTPUT_PATH, versioned(b_n), b_m)
        )
        executor = _executor(tmp_path)
        executor.compute_version(b)
        return executor.output_paths[b]

    base = path()
    assert [path(a_m=2), path(b_m=2)] == [base, base]
    assert all(p != base for p in [path(a_input="aa"), path(a_n=2), path(sub="bar"), path(b_n=2)])


def test_two_step_objects_with_one_version_are_one_step(tmp_path: pathlib.Path) -> None:
    executor = _executor(tmp_path)
    executor.run([_a_and_b()[1], _a_and_b()[1]])
    assert len(executor.steps) == 2 and len(LOG) == 2


def test_run_only_runs_the_matches_and_what_they_need(tmp_path: pathlib.Path) -> None:
    a, b = _a_and_b()
    c = ExecutorStep(name="c", fn=log, config={"m": 10})
    _executor(tmp_path).run([b, c], run_only=["^b$"])
    assert LOG[0] is None and LOG[1].m == 4 and len(LOG) == 2


def test_a_parent_need_not_run_when_the_selected_child_is_done(tmp_path: pathlib.Path) -> None:
    parent = ExecutorStep(name="parent", fn=dummy, config=DummyCfg(x=1))
    child = ExecutorStep(name="child", fn=dummy, config=DummyCfg(input_path=parent.cd("dummy")))
    executor = _executor(tmp_path)
    executor.run([child])
    shutil.rmtree(executor.output_paths[parent])
    again = dataclasses.replace(parent, fn=must_not_run)
    _executor(tmp_path).run(
        [ExecutorStep(name="child", fn=dummy, config=DummyCfg(input_path=again.cd("dummy")))], run_only=["child"]
    )


def test_collect_dependencies_tells_nonblocking_from_blocking_with_the_same_placeholder() -> None:
    parent = ExecutorStep(name="parent", fn=dummy, config=DummyCfg(x=1))
    skip = collect_dependencies_and_version(InputName(step=parent, name="ckpt.pt").nonblocking())
    block = collect_dependencies_and_version(InputName(step=parent, name="ckpt.pt"))
    assert (skip.pseudo_dependencies, skip.dependencies, skip.version) == ([parent], [], {"": "DEP[0]/ckpt.pt"})
    assert (block.pseudo_dependencies, block.dependencies, block.version) == ([], [parent], {"": "DEP[0]/ckpt.pt"})


def test_a_nonblocking_parents_version_still_changes_the_childs(tmp_path: pathlib.Path) -> None:
    versions = []
    for name, x in (("parent", 1), ("parent2", 2)):
        parent = ExecutorStep(name=name, fn=dummy, config=DummyCfg(x=versioned(x)))
        child = ExecutorStep(name="child", fn=dummy, config=DummyCfg(input_path=parent.cd("dummy").nonblocking()))
        executor = _executor(tmp_path)
        executor.run([child])
        versions.append(executor.version_strs[child])
    assert versions[0] != versions[1]


def test_a_parent_referenced_only_nonblocking_does_not_run_unless_run_only_names_it(tmp_path: pathlib.Path) -> None:
    parent = ExecutorStep(name="parent", fn=must_not_run, config=DummyCfg(x=1))
    child = ExecutorStep(name="child", fn=dummy, config=DummyCfg(input_path=parent.cd("dummy").nonblocking()))
    _executor(tmp_path).run([child])
    runnable = ExecutorStep(name="parent", fn=dummy, config=DummyCfg(x=1))
    child2 = ExecutorStep(name="child", fn=dummy, config=DummyCfg(input_path=runnable.cd("dummy").nonblocking()))
    executor = _executor(tmp_path)
    executor.run([child2], run_only=["parent"])
    assert pathlib.Path(executor.output_paths[runnable], "dummy", "done.txt").exists()


def test_a_parent_runs_when_any_child_blocks_on_it(tmp_path: pathlib.Path) -> None:
    parent = ExecutorStep(name="parent", fn=dummy, config=DummyCfg(x=1))
    child = ExecutorStep(name="child", fn=dummy, config=DummyCfg(input_path=parent.cd("dummy").nonblocking()))
    child2 = ExecutorStep(name="child2", fn=dummy, config=DummyCfg(input_path=parent.cd("dummy")))
    executor = _executor(tmp_path)
    executor.run([child, child2])
    assert pathlib.Path(executor.output_paths[parent], "dummy", "done.txt").exists()


def test_mirrored_versions_only_a_versioned_inner_path_and_resolves_to_a_mirror_url() -> None:
    def cfg(path: Any) -> MyConfig:
        return MyConfig(input_path=path, output_path="out", n=versioned(1), m=1)

    assert collect_dependencies_and_version(cfg(mirrored(versioned("some/path"), budget_gb=50))).version == {
        "input_path": "some/path",
        "n": 1,
    }
    assert collect_dependencies_and_version(cfg(mirrored("some/path"))).version == {"n": 1}
    resolved = instantiate_config(cfg(mirrored(versioned("documents/data"))), "/out", {}, "/bucket")
    assert resolved.input_path == "mirror://documents/data"
    with pytest.raises(ValueError, match="nest"):
        mirrored(mirrored("x"))


def test_an_input_name_in_the_step_list_runs_its_step_and_a_dry_run_writes_nothing(tmp_path: pathlib.Path) -> None:
    a, b = _a_and_b()
    executor = _executor(tmp_path / "dry")
    executor.run([output_path_of(b)], dry_run=True)
    assert not (tmp_path / "dry").exists() and LOG == []
    _executor(tmp_path).run([output_path_of(b)])
    assert len(LOG) == 2
