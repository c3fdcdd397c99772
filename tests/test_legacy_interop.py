"""ExecutorSteps and @step pipelines in one run: references both ways, Marin placeholders in traced configs, and
ExecutorStep options (resources, override_output_path, dry run)."""

from __future__ import annotations

import dataclasses
import logging
import pathlib
from typing import Any

import pytest

import marin_exec.legacy as legacy
from marin_exec import (
    ExecutorMainConfig,
    StepRef,
    StepSpec,
    TracingError,
    compile_graph,
    deferred,
    output,
    run_executor,
    step,
    trace,
    versioned,
)
from marin_exec.legacy.lowering import lower_steps
from marin_exec.status.step_status import read_statuses
from tests import marin_lookalike

SEEN: list[Any] = []


@dataclasses.dataclass(frozen=True)
class Cfg:
    input_path: Any = None
    output_path: Any = None
    n: Any = 0


def _record(config: Any) -> None:
    SEEN.append(config)


record = deferred(_record)


@pytest.fixture(autouse=True)
def _clear_seen() -> None:
    SEEN.clear()


def _legacy_raw() -> legacy.ExecutorStep[Cfg]:
    return legacy.ExecutorStep(
        name="raw/old", fn=_record, config=Cfg(output_path=legacy.THIS_OUTPUT_PATH, n=legacy.versioned(1))
    )


def _run(steps: list[Any], prefix: pathlib.Path, **flags: Any) -> None:
    run_executor(steps, ExecutorMainConfig(prefix=str(prefix), **flags))


def test_a_step_config_holding_an_executor_step_depends_on_it(tmp_path: pathlib.Path) -> None:
    raw = _legacy_raw()

    @step(name="new/reader")
    def reader() -> Any:
        return record(Cfg(input_path=raw, output_path=output()))

    _run([reader()], tmp_path)
    assert [type(c) for c in SEEN] == [Cfg, Cfg]
    assert SEEN[1].input_path == SEEN[0].output_path  # the ExecutorStep ran first, and its path was passed


def test_output_path_of_with_a_sub_path_is_a_dependency_like_a_step_ref_sub_path(tmp_path: pathlib.Path) -> None:
    raw = _legacy_raw()

    @step(name="new/reader")
    def reader(source: Any) -> Any:
        return record(Cfg(input_path=source, output_path=output()))

    legacy_spec = compile_graph([reader(legacy.output_path_of(raw, "data/x"))], prefix=str(tmp_path)).specs
    assert [s.name for s in legacy_spec] == ["raw/old", "new/reader"]
    assert legacy_spec[1].version["config"] == {"input_path": "DEP[0]/data/x"}


def test_a_nonblocking_input_name_in_a_step_config_is_hashed_but_not_run(tmp_path: pathlib.Path) -> None:
    raw = _legacy_raw()

    @step(name="new/live")
    def live() -> Any:
        return record(Cfg(input_path=legacy.output_path_of(raw, "ckpt").nonblocking(), output_path=output()))

    _run([live()], tmp_path)
    assert len(SEEN) == 1 and SEEN[0].input_path.endswith("/ckpt")
    assert read_statuses([SEEN[0].input_path.rsplit("/", 1)[0]]) == [None]


def test_an_executor_step_config_holding_a_step_ref_depends_on_it(tmp_path: pathlib.Path) -> None:
    @step(name="new/source")
    def source() -> Any:
        return record(Cfg(output_path=output(), n=versioned(2)))

    old = legacy.ExecutorStep(
        name="old/consumer", fn=_record, config=Cfg(input_path=source() / "part", output_path=legacy.this_output_path())
    )
    _run([old], tmp_path)
    assert SEEN[1].input_path == f"{SEEN[0].output_path}/part"


def test_marins_versioned_in_a_step_config_is_hashed_like_marin_exec_versioned(tmp_path: pathlib.Path) -> None:
    @step(name="new/v")
    def with_marin(k: Any) -> Any:
        return record(Cfg(output_path=output(), n=marin_lookalike.VersionedValue(k)))

    @step(name="new/v")
    def with_ours(k: Any) -> Any:
        return record(Cfg(output_path=output(), n=versioned(k)))

    paths = [compile_graph([fn(3)], prefix=str(tmp_path)).specs[0].output_path for fn in (with_marin, with_ours)]
    assert paths[0] == paths[1]


@pytest.mark.parametrize(
    "placeholder", [legacy.THIS_OUTPUT_PATH, legacy.this_output_path("sub"), marin_lookalike.OutputName(None)]
)
def test_this_output_path_left_in_a_step_config_is_an_error_naming_output(placeholder: Any) -> None:
    @step(name="new/half-migrated")
    def half() -> Any:
        return record(Cfg(output_path=placeholder))

    with pytest.raises(TracingError, match=r"new/half-migrated.*output_path.*output\("):
        trace(half)


def test_mirrored_in_a_step_config_is_the_mirror_url_and_versions_only_a_versioned_path(tmp_path: pathlib.Path) -> None:
    @step(name="new/m")
    def bare() -> Any:
        return record(Cfg(input_path=legacy.mirrored("docs/x"), output_path=output()))

    @step(name="new/m")
    def plain() -> Any:
        return record(Cfg(input_path="mirror://docs/x", output_path=output()))

    @step(name="new/m")
    def mirrored_versioned() -> Any:
        return record(
            Cfg(
                input_path=marin_lookalike.MirroredValue(marin_lookalike.VersionedValue("docs/x")), output_path=output()
            )
        )

    specs = [compile_graph([fn()], prefix=str(tmp_path)).specs[0] for fn in (bare, plain, mirrored_versioned)]
    assert specs[0].output_path == specs[1].output_path
    assert specs[2].version["config"] == {"input_path": "docs/x"}
    _run([mirrored_versioned()], tmp_path)
    assert SEEN[0].input_path == "mirror://docs/x"


def test_one_run_mixes_an_entry_point_executor_steps_an_input_name_and_a_step_spec(tmp_path: pathlib.Path) -> None:
    raw = _legacy_raw()
    other = legacy.ExecutorStep(name="old/other", fn=_record, config=Cfg(output_path=legacy.THIS_OUTPUT_PATH))

    @step(name="new/entry")
    def entry() -> Any:
        return record(Cfg(input_path=raw, output_path=output()))

    spec = StepSpec(name="spec/alone", fn=lambda path: SEEN.append(path))
    _run([entry(), raw, legacy.output_path_of(other, "x"), legacy.InputName.hardcoded("ignored"), spec], tmp_path)
    assert len(SEEN) == 4  # raw once, other, entry, spec


def test_a_dry_run_of_an_executor_step_graph_writes_nothing(tmp_path: pathlib.Path) -> None:
    _run([_legacy_raw()], tmp_path / "prefix", dry_run=True)
    assert not (tmp_path / "prefix").exists() and SEEN == []


def test_override_output_path_is_under_the_prefix_and_warns_when_it_differs(
    tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    pinned = _legacy_raw().with_output_path("pinned/raw")
    with caplog.at_level(logging.WARNING):
        _run([pinned], tmp_path)
    assert SEEN[0].output_path == f"{tmp_path}/pinned/raw"
    assert any("pinned/raw" in r.getMessage() and "raw/old-" in r.getMessage() for r in caplog.records)


def test_an_executor_step_with_resources_runs_as_a_fray_job(tmp_path: pathlib.Path, fray_local_client: Any) -> None:
    from fray.types import ResourceConfig

    remote = dataclasses.replace(_legacy_raw(), resources=ResourceConfig(cpu=1, ram="1g"))
    _run([remote], tmp_path)
    assert len(fray_local_client._jobs) == 1 and len(SEEN) == 1


def test_a_marin_shaped_step_in_a_step_config_is_a_dependency(tmp_path: pathlib.Path) -> None:
    old = marin_lookalike.ExecutorStep(
        name="raw/marin", fn=_record, config=Cfg(output_path=marin_lookalike.OutputName(None))
    )

    @step(name="new/reader")
    def reader(source: StepRef) -> Any:
        return record(Cfg(input_path=source, output_path=output()))

    _run([reader(old)], tmp_path)
    assert SEEN[1].input_path == SEEN[0].output_path


@dataclasses.dataclass(frozen=True)
class RemoteCallable:
    """Shaped like marin_exec's and Marin's RemoteCallable: a function and the Fray job it asks for."""

    fn: Any
    resources: Any
    env_vars: dict[str, str] | None = None
    pip_dependency_groups: list[str] | None = None

    def __call__(self, config: Any) -> None:
        raise AssertionError("a remote step is submitted whole; its wrapper is not called")


def test_a_remote_callable_fn_becomes_the_steps_job_settings_and_step_options_win(tmp_path: pathlib.Path) -> None:
    fn = RemoteCallable(_record, resources="cpu:1", env_vars={"A": "1", "B": "1"}, pip_dependency_groups=["x"])
    old = legacy.ExecutorStep(
        name="old/remote", fn=fn, config=Cfg(output_path=legacy.THIS_OUTPUT_PATH), env_vars={"B": "2"}
    )
    [spec] = compile_graph(lower_steps([old]), prefix=str(tmp_path)).specs
    assert (spec.resources, spec.env_vars, spec.pip_dependency_groups) == ("cpu:1", {"A": "1", "B": "2"}, ["x"])
    assert spec.fn.fn is _record  # type: ignore[union-attr]
