"""A lazy handle whose ``run`` is ``remote(fn, resources=...)`` (Marin's spelling) runs as a Fray job with those
resources, on Fray's LocalClient and on an in-process Iris cluster: the function is called once, inside the job,
with the config built there, and the record, fingerprint and path are those of the same handle run locally; a
cached re-run submits nothing. Marin's own ``RemoteCallable`` (by shape) lowers the same way; ``pip_packages`` is
refused in one line. The same with marin-core 0.2.227's real ``remote``: tests/test_lazy_remote_peer.py."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("pydantic")
pytest.importorskip("fray")

import fray.current_client  # noqa: E402
import fray.local_backend  # noqa: E402
from fray.types import ResourceConfig  # noqa: E402

import marin_exec.lazy as lazy  # noqa: E402
from marin_exec import current_run_settings  # noqa: E402
from marin_exec.errors import StepDefinitionError  # noqa: E402
from tests.counting_client import CountingClient  # noqa: E402

SMALL = {"cpu": 1, "ram": "1g", "disk": "1g"}  # Iris's in-process cluster offers limited disk


# -- what runs in the job (module level: an Iris worker unpickles it by value, from a tests/ file) ------------------


def train(config: dict) -> None:
    """Writes where it ran and what it was handed; appends one line per call to ``config["calls"]``."""
    where = {
        "pid": os.getpid(),
        "call_id": current_run_settings().call_id,  # set only inside a job that marin_exec's remote() submitted
        "config": config,
    }
    pathlib.Path(config["out"], "where.json").write_text(json.dumps(where))
    with open(config["calls"], "a") as log:
        log.write(f"{os.getpid()}\n")


def write_corpus(out: str) -> None:
    pathlib.Path(out, "corpus.txt").write_text("a b c")


def _handles(run: Any, calls: pathlib.Path) -> tuple[Any, Any]:
    """corpus (local) -> train (``run``), with a dependency path and a runtime argument in the config."""
    corpus = lazy.apply("corpus", write_corpus, version="2026.12.06", out=lazy.OUT)

    def build_config(ctx: Any) -> dict:
        return {
            "corpus": ctx.artifact_path(corpus),
            "out": ctx.output_path,
            "tpu": ctx.runtime_arg("tpu"),
            "cache": f"{ctx.prefix}/cache",
            "lr": 0.1,
            "calls": str(calls),  # the same literal in every run compared here
        }

    trained = lazy.ArtifactStep(
        name="train",
        version="2026.12.06",
        artifact_type=lazy.Artifact,
        run=run,
        build_config=build_config,
        deps=(corpus,),
        runtime_args={"tpu": "v5p-8"},
    )
    return corpus, trained


@pytest.fixture(params=["local", "iris"])
def client(request: pytest.FixtureRequest) -> Iterator[tuple[str, CountingClient]]:
    if request.param == "local":
        inner: Any = fray.local_backend.LocalClient(max_threads=4)
    else:
        from fray.iris_backend import FrayIrisClient

        inner = FrayIrisClient.from_iris_client(request.getfixturevalue("iris_cluster"))
    counting = CountingClient(inner)
    with fray.current_client.set_current_client(counting):
        yield request.param, counting
    if request.param == "local":
        inner.shutdown(wait=True)


def _run(prefix: pathlib.Path, monkeypatch: pytest.MonkeyPatch, *handles: Any) -> None:
    monkeypatch.setenv("MARIN_PREFIX", str(prefix))
    lazy.run(*handles)


def _record(prefix: pathlib.Path, relative: str) -> dict:
    """The record at ``relative`` with the prefix written as ``{prefix}``, provenance by its keys only."""
    record = json.loads((prefix / relative / ".artifact.json").read_text().replace(str(prefix), "{prefix}"))
    return {**record, "provenance": sorted(record["provenance"])}


def _calls(path: pathlib.Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_the_function_runs_once_inside_the_job_and_records_what_a_local_run_records(client, tmp_path, monkeypatch):
    backend, counting = client
    calls = tmp_path / "calls.log"
    _, remote_train = _handles(lazy.remote(train, resources=ResourceConfig.with_cpu(**SMALL)), calls)
    _run(tmp_path / "remote", monkeypatch, remote_train)
    assert counting.submitted and all(name.startswith("train") for name in counting.submitted)
    assert len(counting.submitted) == 1  # corpus ran in the runner's thread
    where = json.loads((tmp_path / "remote/train/2026.12.06/where.json").read_text())
    info = json.loads((tmp_path / "remote/train/2026.12.06/.executor_info").read_text())
    assert where["call_id"] is not None and where["call_id"] == info["call_id"]  # the job that committed the step
    assert where["config"]["cache"] == f"{tmp_path / 'remote'}/cache"
    assert where["config"]["tpu"] == "v5p-8" and where["config"]["corpus"] == str(tmp_path / "remote/corpus/2026.12.06")
    if backend == "iris":
        assert where["pid"] != os.getpid()  # another process: the Iris task
    assert len(_calls(calls)) == 1

    _, local_train = _handles(train, calls)
    _run(tmp_path / "local", monkeypatch, local_train)
    assert local_train.fingerprint() == remote_train.fingerprint()
    assert lazy.lower(local_train).fingerprint_payload == lazy.lower(remote_train).fingerprint_payload
    for relative in ("corpus/2026.12.06", "train/2026.12.06"):
        assert _record(tmp_path / "local", relative) == _record(tmp_path / "remote", relative), relative
    local_where = json.loads((tmp_path / "local/train/2026.12.06/where.json").read_text())
    assert local_where["call_id"] is None  # the plain function ran in the runner's thread, no job

    calls.unlink()
    before = list(counting.submitted)
    _run(tmp_path / "remote", monkeypatch, remote_train)
    assert counting.submitted == before and _calls(calls) == []  # cached: no job, no call


def test_the_iris_job_builds_its_config_under_the_launchers_prefix_not_the_workers(
    fray_iris_client, tmp_path, monkeypatch
):
    """The job's environment names another prefix (a real worker has its own): the config is still built under
    the prefix its output path is under."""
    prefix = tmp_path / "prefix"
    elsewhere = {"MARIN_PREFIX": "/nonexistent/worker-prefix"}
    run = lazy.remote(train, resources=ResourceConfig.with_cpu(**SMALL), env_vars=elsewhere)
    _, trained = _handles(run, tmp_path / "calls.log")
    _run(prefix, monkeypatch, trained)
    where = json.loads((prefix / "train/2026.12.06/where.json").read_text())
    assert where["config"]["cache"] == f"{prefix}/cache"
    assert where["config"]["corpus"] == f"{prefix}/corpus/2026.12.06"
    assert lazy.lower(trained).env_vars == elsewhere  # the step's own env_vars reach the job as given


# -- lowering: Marin's RemoteCallable by shape, what maps and what is refused ------------------------------------


class RemoteCallable:
    """Shaped like marin-core 0.2.227's ``marin.execution.remote.RemoteCallable`` (its fields), built here."""

    def __init__(self, fn, resources, env_vars=None, pip_dependency_groups=None, pip_packages=None, name=None):
        self.fn, self.resources, self.env_vars = fn, resources, env_vars or {}
        self.pip_dependency_groups, self.pip_packages, self.name = pip_dependency_groups, pip_packages, name

    def __call__(self, *args: Any) -> None:
        raise AssertionError("Marin's wrapper submits its own job when called; lowering must call fn inside ours")


def test_marins_remote_callable_lowers_to_a_resourced_step_that_runs_fn_in_the_job(tmp_path, monkeypatch):
    resources = ResourceConfig.with_tpu("v5p-8")
    marin_run = RemoteCallable(train, resources, env_vars={"WANDB_MODE": "offline"}, pip_dependency_groups=["tpu"])
    _, trained = _handles(marin_run, tmp_path / "calls.log")
    monkeypatch.setenv("MARIN_PREFIX", str(tmp_path / "p"))
    spec = lazy.lower(trained)
    assert spec.resources is resources and spec.pip_dependency_groups == ["tpu"]
    assert spec.env_vars == {"WANDB_MODE": "offline"}
    assert spec.deps[0].resources is None  # a plain handle stays in the runner's threads
    assert spec.info is not None and spec.info["fn_name"].endswith("train")
    _, plain = _handles(train, tmp_path / "calls.log")
    assert spec.output_path == lazy.lower(plain).output_path and spec.fingerprint == lazy.lower(plain).fingerprint

    small = RemoteCallable(train, ResourceConfig.with_cpu(**SMALL), name="ignored-as-in-marin")
    _, runnable = _handles(small, tmp_path / "calls.log")
    client = fray.local_backend.LocalClient(max_threads=2)
    counting = CountingClient(client)
    try:
        with fray.current_client.set_current_client(counting):
            lazy.run(runnable)
    finally:
        client.shutdown(wait=True)
    assert [name.split("-")[0] for name in counting.submitted] == ["train"]  # named after the step, as Marin does
    assert _calls(tmp_path / "calls.log") == [str(os.getpid())]  # LocalClient: a thread of this process


def test_pip_packages_are_refused_in_one_line_naming_the_step_and_an_empty_list_is_fine(tmp_path, monkeypatch):
    monkeypatch.setenv("MARIN_PREFIX", str(tmp_path))
    with pytest.raises(StepDefinitionError) as refused:
        lazy.remote(train, resources=ResourceConfig.with_cpu(**SMALL), pip_packages=["vllm==0.9"])
    assert str(refused.value).startswith("tests.test_lazy_remote.train: remote(..., pip_packages=['vllm==0.9'])")
    assert "\n" not in str(refused.value)
    _, trained = _handles(RemoteCallable(train, ResourceConfig.with_cpu(**SMALL), pip_packages=["vllm"]), tmp_path)
    with pytest.raises(StepDefinitionError, match=r"^train@2026\.12\.06: remote\(\.\.\., pip_packages=\['vllm'\]\)"):
        lazy.lower(trained)
    _, fine = _handles(RemoteCallable(train, ResourceConfig.with_cpu(**SMALL), pip_packages=[]), tmp_path)
    assert lazy.lower(fine).resources is not None


# -- marin_exec.lazy.remote itself --------------------------------------------------------------------------------


def test_remote_has_marins_shape_defaults_and_decorator_forms():
    made = lazy.remote(train)
    assert type(made).__name__ == "RemoteCallable" and made.fn is train
    assert (made.resources.cpu, made.resources.ram, made.resources.disk) == (1, "4g", "16g")
    assert made.env_vars == {} and made.pip_dependency_groups is None and made.pip_packages is None
    assert made.named("a").name == "a" and made.named("a").named("b").name == "a"
    decorated = lazy.remote(name="job", env_vars={"K": "v"})(train)
    assert (decorated.fn, decorated.name, decorated.env_vars) == (train, "job", {"K": "v"})
    assert isinstance(made, lazy.RemoteCallable)


def test_a_remote_function_applied_is_called_in_a_job_while_its_step_runs_here(tmp_path, monkeypatch):
    """Marin's ``apply(name, remote(fn, ...))``: the step runs in the runner (it builds the config and commits), the
    call of ``fn`` is a Fray job of its own, as in Marin."""
    calls = tmp_path / "calls.log"
    handle = lazy.apply(
        "train",
        lazy.remote(train, resources=ResourceConfig.with_cpu(**SMALL)),
        version="2026.12.06",
        config={"out": lazy.OUT, "calls": str(calls)},
    )
    client = fray.local_backend.LocalClient(max_threads=2)
    counting = CountingClient(client)
    try:
        with fray.current_client.set_current_client(counting):
            _run(tmp_path / "p", monkeypatch, handle)
    finally:
        client.shutdown(wait=True)
    assert len(counting.submitted) == 1 and len(_calls(calls)) == 1
    where = json.loads((tmp_path / "p/train/2026.12.06/where.json").read_text())
    info = json.loads((tmp_path / "p/train/2026.12.06/.executor_info").read_text())
    assert where["call_id"] is not None and "call_id" not in info  # fn in a job; the step committed here


def test_importing_marin_exec_lazy_does_not_load_remote_until_it_is_used():
    code = (
        "import sys, marin_exec.lazy as lazy\n"
        "assert 'marin_exec.lazy.remote_call' not in sys.modules\n"
        "from marin_exec.lazy import remote\n"
        "assert callable(remote) and remote.__module__ == 'marin_exec.lazy.remote_call'\n"
        "assert 'fray' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
