"""Secrets a job needs (``HF_TOKEN``, ``WANDB_API_KEY``) reach it as Fray/Iris 0.2.227 deliver them: files in the
task's secrets directory (``HF_TOKEN_PATH``, rigging's ``get_secret``), never as values in the job's environment
variables or anywhere in its spec. The Iris tests read them through the files only, with the host's variables
removed, so inheriting the host's environment (which the in-process cluster's task processes do) cannot pass them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cloudpickle

from marin_exec.runtime.fray_job import build_job_request
from marin_exec.runtime.remote import remote

HF = "hf_marin_exec_test_token_1a2b3c"
WANDB = "wandb_marin_exec_test_key_4d5e6f"


def report_secrets(path: str) -> None:
    """In the job: what the task can read of its secrets, and through which door."""
    from rigging.secrets import get_secret

    token_path = os.environ.get("HF_TOKEN_PATH")
    seen = {
        "hf_token_env": os.environ.get("HF_TOKEN"),
        "wandb_env": os.environ.get("WANDB_API_KEY"),
        "hf_token_file": Path(token_path).read_text() if token_path else None,
        "wandb_secret": get_secret("WANDB_API_KEY"),
    }
    Path(path).write_text(json.dumps(seen))


def _spec_bytes(request) -> bytes:
    return cloudpickle.dumps((request.name, request.entrypoint, request.resources, request.environment.env_vars))


def test_secret_env_vars_given_to_a_step_travel_as_secrets_not_as_env_vars_or_in_the_entrypoint():
    request = build_job_request(remote(report_secrets, env_vars={"HF_TOKEN": HF, "STAGE": "train"}), ("unused",))
    assert request.environment is not None
    assert request.environment.secrets == {"HF_TOKEN": HF}
    assert "HF_TOKEN" not in request.environment.env_vars and request.environment.env_vars["STAGE"] == "train"
    assert HF.encode() not in _spec_bytes(request)


def test_the_hosts_secrets_are_not_copied_into_the_request(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", HF)
    monkeypatch.setenv("WANDB_API_KEY", WANDB)
    request = build_job_request(remote(report_secrets), ("unused",))
    assert request.environment is not None and request.environment.secrets == {}
    spec = _spec_bytes(request)
    assert HF.encode() not in spec and WANDB.encode() not in spec


def test_secrets_given_to_a_step_reach_the_iris_task_as_files_only(fray_iris_client, tmp_path, monkeypatch):
    for name in ("HF_TOKEN", "WANDB_API_KEY", "HF_TOKEN_PATH", "RIGGING_SECRETS_DIR"):
        monkeypatch.delenv(name, raising=False)  # the task process inherits the host's: nothing to inherit
    out = tmp_path / "secrets.json"
    remote(report_secrets, env_vars={"HF_TOKEN": HF, "WANDB_API_KEY": WANDB})(str(out))
    seen = json.loads(out.read_text())
    assert seen == {"hf_token_env": None, "wandb_env": None, "hf_token_file": HF, "wandb_secret": WANDB}


def test_the_hosts_hf_token_is_forwarded_by_iris_as_a_file(fray_iris_client, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", HF)  # a researcher's shell; Iris forwards it (secret_behavior=INHERIT)
    monkeypatch.delenv("HF_TOKEN_PATH", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    out = tmp_path / "secrets.json"
    remote(report_secrets)(str(out))
    assert json.loads(out.read_text())["hf_token_file"] == HF  # only Iris's delivery writes that file
