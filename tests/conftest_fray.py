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
    from fray.iris_backend import FrayIrisClient
    from fray.local_backend import LocalClient
    from iris.client import IrisClient


_WORKER_DISK_GIB = 128


@pytest.fixture
def fray_local_client() -> Iterator[LocalClient]:
    """A fresh Fray LocalClient, set as fray's current client for the test."""
    import fray.current_client
    import fray.local_backend

    client = fray.local_backend.LocalClient(max_threads=4)
    with fray.current_client.set_current_client(client):
        yield client
    client.shutdown(wait=True)


@pytest.fixture(scope="session")
def iris_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IrisClient]:
    """An IrisClient connected to an in-process Iris LocalCluster, shut down at the end of the session."""
    import iris.version

    with pytest.MonkeyPatch.context() as patch:
        # The controller refuses root jobs from a client build older than 14 days; the wheel is older
        # than the machine's clock, so stamp the client as built today (read at every submission).
        patch.setattr(iris.version, "_CACHED", datetime.date.today().isoformat())
        with pytest.MonkeyPatch.context() as home_patch:
            home_patch.setenv("HOME", str(tmp_path_factory.mktemp("iris-home")))
            client = start_local_iris(max_workers=1)
        try:
            yield client
        finally:
            client.shutdown()


def start_local_iris(*, max_workers: int) -> IrisClient:
    """Iris's in-process cluster (``iris.client.local_client.make_local_client``) with workers offering 128 GiB of
    disk instead of 50: Fray's default request is 64g since 0.2.227, so a ``ResourceConfig.with_cpu()`` step would
    be refused as unschedulable there, though any real worker takes it. The disk is not reserved or checked."""
    from iris.client.client import IrisClient
    from iris.cluster.client import RemoteClusterClient
    from iris.cluster.local_cluster import LocalCluster, make_local_cluster_config

    config = make_local_cluster_config(max_workers)
    for name, group in list(config.scale_groups.items()):
        resources = group.resources.model_copy(update={"disk_bytes": _WORKER_DISK_GIB * 1024**3})
        config.scale_groups[name] = group.model_copy(update={"resources": resources})
    cluster = LocalCluster(config)
    address = cluster.start()
    return IrisClient(RemoteClusterClient(controller_address=address, timeout_ms=30000), controller=cluster)


@pytest.fixture
def fray_iris_client(iris_cluster: IrisClient) -> Iterator[FrayIrisClient]:
    """The session's Iris cluster seen through Fray, set as fray's current client for the test."""
    import fray.current_client
    import fray.local_backend
    from fray.iris_backend import FrayIrisClient

    client = FrayIrisClient.from_iris_client(iris_cluster)
    with fray.current_client.set_current_client(client):
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
