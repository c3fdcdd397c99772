"""Fray fixtures: a LocalClient per test, one real in-process Iris cluster per session, and a user workspace.

Registered as a pytest plugin by tests/conftest.py. The Iris cluster (controller, worker threads, task
subprocesses) starts on first use only, with HOME pointed at a temporary directory while it starts (it writes
``~/.iris/tokens.sqlite``) and Iris's client-freshness gate satisfied by stamping today's date as the client
build date. It does not mock anything and does not set a Fray client for tests that do not ask for one.
``workspace_user_module`` imports tests/remote_helpers from outside ``tests/``, as a user's own package.
"""

from __future__ import annotations

import datetime
import importlib
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from fray import LocalClient
    from fray.iris_backend import FrayIrisClient
    from iris.client import IrisClient


@pytest.fixture
def fray_local_client() -> Iterator[LocalClient]:
    """A fresh Fray LocalClient, set as fray's current client for the test."""
    import fray

    client = fray.LocalClient(max_threads=4)
    with fray.set_current_client(client):
        yield client
    client.shutdown(wait=True)


@pytest.fixture(scope="session")
def iris_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IrisClient]:
    """An IrisClient connected to an in-process Iris LocalCluster, shut down at the end of the session."""
    import iris.version
    from iris.client import LocalClientConfig
    from iris.client.local_client import make_local_client

    with pytest.MonkeyPatch.context() as patch:
        # The controller refuses root jobs from a client build older than 14 days; the wheel is older
        # than the machine's clock, so stamp the client as built today (read at every submission).
        patch.setattr(iris.version, "_CACHED", datetime.date.today().isoformat())
        with pytest.MonkeyPatch.context() as home_patch:
            home_patch.setenv("HOME", str(tmp_path_factory.mktemp("iris-home")))
            client = make_local_client(LocalClientConfig(max_workers=1))
        try:
            yield client
        finally:
            client.shutdown()


@pytest.fixture
def fray_iris_client(iris_cluster: IrisClient) -> Iterator[FrayIrisClient]:
    """The session's Iris cluster seen through Fray, set as fray's current client for the test."""
    import fray
    from fray.iris_backend import FrayIrisClient

    client = FrayIrisClient.from_iris_client(iris_cluster)
    with fray.set_current_client(client):
        yield client


@pytest.fixture
def workspace_user_module(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> ModuleType:
    """tests/remote_helpers copied into a fresh workspace as ``src/marin_user_code``, imported from there.

    The caller runs in the workspace with ``src`` on its sys.path, as a researcher running an experiment
    from a repository checkout. The copy is outside any ``tests`` directory, so cloudpickle pickles its
    functions by reference, the way it ships a user's own package: the worker has to import it.
    """
    workspace = tmp_path_factory.mktemp("workspace")
    shutil.copytree(Path(__file__).parent / "remote_helpers", workspace / "src" / "marin_user_code")
    monkeypatch.chdir(workspace)
    monkeypatch.syspath_prepend(str(workspace / "src"))
    for name in ("marin_user_code.user_steps", "marin_user_code"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    module = importlib.import_module("marin_user_code.user_steps")
    assert "tests" not in Path(module.__file__ or "").parts
    return module
