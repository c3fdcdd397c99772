"""Fray job building (``runtime.fray_job``): job names, the request's extras, resources and env vars, and the
dry run's resources text. Nothing is submitted here; real jobs are in tests/test_remote.py."""

from __future__ import annotations

import re

import pytest
from fray.types import ResourceConfig

from marin_exec.runtime.fray_job import build_job_request, describe_resources, job_name
from marin_exec.runtime.remote import remote


def _write_text(path: str) -> None:
    raise AssertionError("never called: these tests only build requests")


# -- building requests (nothing submitted) -------------------------------------------------------------------


def test_job_name_of_a_step_path_is_lowercase_without_slashes_or_spaces():
    assert re.fullmatch(r"tokenized-my-data-[0-9a-f]{8}", job_name("Tokenized/My Data"))


def test_job_name_is_unique_per_submission_so_iris_never_reruns_a_finished_job():
    assert job_name("train") != job_name("train")


def test_job_name_stays_short_for_long_step_names():
    name = job_name("checkpoints/" + "very-long-experiment-name-" * 10)
    assert len(name) <= 60
    assert re.fullmatch(r"[a-z0-9_.-]+", name)


@pytest.mark.parametrize(
    ("resources", "extras"),
    [
        (ResourceConfig.with_tpu("v5litepod-16"), ["tpu"]),
        (ResourceConfig.with_gpu("H100", count=8), ["gpu"]),
        (ResourceConfig.with_cpu(cpu=4), []),
    ],
)
def test_job_request_installs_the_extra_of_the_device_by_default(resources, extras):
    request = build_job_request(remote(_write_text, resources=resources), ("unused",))
    assert request.environment is not None
    assert list(request.environment.extras) == extras


def test_explicit_pip_dependency_groups_replace_the_device_default():
    tpu = ResourceConfig.with_tpu("v5litepod-16")
    request = build_job_request(remote(_write_text, resources=tpu, pip_dependency_groups=["eval"]), ("unused",))
    assert request.environment is not None
    assert list(request.environment.extras) == ["eval"]


def test_job_request_carries_the_tpu_resources_and_env_vars():
    tpu = ResourceConfig.with_tpu("v5litepod-16")
    request = build_job_request(remote(_write_text, resources=tpu, env_vars={"STAGE": "tokenize"}), ("unused",))
    assert request.resources is tpu
    assert request.replicas == 4  # one slice of four VMs
    assert request.environment is not None
    assert request.environment.env_vars["STAGE"] == "tokenize"


@pytest.mark.parametrize(
    ("resources", "text"),
    [
        (ResourceConfig.with_tpu("v5litepod-16"), "tpu v5litepod-16 x1 (4 hosts, each cpu=56, ram=96g)"),
        (ResourceConfig.with_tpu("v5litepod-16", slice_count=2), "tpu v5litepod-16 x2 (8 hosts, each cpu=56, ram=96g)"),
        (ResourceConfig.with_tpu("v5litepod-8"), "tpu v5litepod-8 x1 (cpu=56, ram=96g)"),
        (ResourceConfig.with_gpu("H100", count=8), "gpu H100 x8"),
        (ResourceConfig(), "cpu 1, ram 4g"),
        (ResourceConfig(cpu=0.5, ram="2g", regions=["us-central1"], preemptible=False),
         "cpu 0.5, ram 2g in us-central1, non-preemptible"),
        (None, "in the runner's thread"),
    ],
)  # fmt: skip
def test_describe_resources_reads_like_the_resource_request(resources, text):
    assert describe_resources(resources) == text
