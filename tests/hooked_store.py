"""A local store under its own protocol that lets a test act at one exact moment: ``on_read[basename]`` runs before
each read of a file with that name. Registered through the public ``register_store``, so marin_exec itself runs
unchanged; the bytes live on local disk (``hooked:///abs/path`` is ``/abs/path``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from marin_exec.storage.local_store import LocalStore
from marin_exec.storage.store import register_store

PROTOCOL = "hooked"


class HookedLocalStore:
    atomic = True
    conditional_delete = True

    def __init__(self) -> None:
        self._local = LocalStore()
        self.on_read: dict[str, Callable[[], None]] = {}

    def read(self, path: str) -> Any:
        hook = self.on_read.get(os.path.basename(path))
        if hook is not None:
            hook()
        return self._local.read(local_path(path))

    def create(self, path: str, data: bytes) -> Any:
        return self._local.create(local_path(path), data)

    def swap(self, path: str, data: bytes, expected: Any) -> Any:
        return self._local.swap(local_path(path), data, expected)

    def delete_if(self, path: str, expected: Any) -> bool:
        return self._local.delete_if(local_path(path), expected)

    def write(self, path: str, data: bytes) -> None:
        self._local.write(local_path(path), data)

    def fenced(self, path: str, expected: Any) -> Any:
        return self._local.fenced(local_path(path), expected)


def local_path(path: str) -> str:
    return path.split("://", 1)[1]


def hooked_store() -> HookedLocalStore:
    """A fresh store, registered for ``hooked://`` paths (replacing the previous test's)."""
    store = HookedLocalStore()
    register_store(PROTOCOL, lambda: store)
    return store
