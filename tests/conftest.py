"""Shared fixtures: a local prefix per test, fast run settings, and the server fixtures (GCS, S3, Fray/Iris)."""

from __future__ import annotations

import os

# Must precede any gcsfs import (see shared/notes/object-store.md): otherwise gcsfs probes the emulator over gRPC.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

import importlib.util

import pytest

pytest_plugins = [
    name for name in ("tests.conftest_stores", "tests.conftest_fray") if importlib.util.find_spec(name) is not None
]


@pytest.fixture
def prefix(tmp_path, monkeypatch) -> str:
    """A fresh local output prefix, also exported as MARIN_PREFIX."""
    root = tmp_path / "prefix"
    root.mkdir()
    monkeypatch.setenv("MARIN_PREFIX", str(root))
    return str(root)


@pytest.fixture
def fast_leases():
    """Sub-second heartbeat and lease timeout for the enclosed test, through the run settings."""
    from marin_exec import run_settings

    with run_settings(heartbeat_interval=0.05, lease_timeout=0.5) as settings:
        yield settings
