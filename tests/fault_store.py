"""A real store with faults injected on chosen calls, registered through ``register_store`` (never a monkeypatch).

``FaultyStore`` serves ``faulty://<local path>`` from local disk (marin_exec's ``LocalStore``) and, before or after
chosen operations on chosen files, runs a hook: raise an error, write another worker's status, anything a test
needs at exactly that point. ``faulty_root`` is the fixture: a fresh ``faulty://`` prefix and the store serving it.

Deliberately not here: anything about object stores (tests/conftest_stores.py runs real emulators for those).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from marin_exec.storage.local_store import LocalStore
from marin_exec.storage.protocol import Token
from marin_exec.storage.store import register_store

PROTOCOL = "faulty"
#: (operation, file name) -> hook(path); operations: read, create, swap, delete_if, write, fenced.
Hook = Callable[[str], None]


class FaultyStore:
    """``LocalStore`` behind ``faulty://`` with hooks run before (``before``) or after (``after``) an operation."""

    atomic = True
    conditional_delete = True

    def __init__(self) -> None:
        self._local = LocalStore()
        self._lock = threading.Lock()
        self.before: dict[tuple[str, str], Hook] = {}
        self.after: dict[tuple[str, str], Hook] = {}
        self.calls: list[tuple[str, str]] = []

    def _run(self, hooks: dict[tuple[str, str], Hook], operation: str, path: str) -> None:
        with self._lock:
            hook = hooks.get((operation, Path(path).name))
        if hook is not None:
            hook(path)

    def _call(self, operation: str, path: str, *args: Any) -> Any:
        with self._lock:
            self.calls.append((operation, Path(path).name))
        self._run(self.before, operation, path)
        result = getattr(self._local, operation)(_plain(path), *args)
        self._run(self.after, operation, path)
        return result

    def read(self, path: str) -> tuple[bytes, Token] | None:
        found: tuple[bytes, Token] | None = self._call("read", path)
        return found

    def create(self, path: str, data: bytes) -> Token:
        return self._call("create", path, data)

    def swap(self, path: str, data: bytes, expected: Token) -> Token:
        return self._call("swap", path, data, expected)

    def delete_if(self, path: str, expected: Token) -> bool:
        deleted: bool = self._call("delete_if", path, expected)
        return deleted

    def write(self, path: str, data: bytes) -> None:
        self._call("write", path, data)

    @contextlib.contextmanager
    def fenced(self, path: str, expected: Token) -> Iterator[None]:
        self._run(self.before, "fenced", path)
        with self._local.fenced(_plain(path), expected):
            yield


def _plain(path: str) -> str:
    return path.split("://", 1)[1] if "://" in path else path


def raise_once(error: BaseException) -> Hook:
    """A hook that raises ``error`` the first time it runs and does nothing after."""
    raised: list[bool] = []

    def hook(path: str) -> None:
        if not raised:
            raised.append(True)
            raise error

    return hook


def always_raise(error: BaseException) -> Hook:
    def hook(path: str) -> None:
        raise error

    return hook


@pytest.fixture
def faulty_root(tmp_path: Path) -> Iterator[tuple[str, FaultyStore]]:
    """A fresh ``faulty://`` prefix under tmp_path and the store that serves it (hooks empty)."""
    store = FaultyStore()
    register_store(PROTOCOL, lambda: store)
    root = tmp_path / "faulty"
    root.mkdir()
    yield f"{PROTOCOL}://{root}", store
