"""``MemoryStore``: fsspec's ``memory://`` filesystem, atomic within one process (tests and examples).

It knows nothing about leases or statuses and is not shared between processes.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from marin_exec.errors import StorageConflict
from marin_exec.storage.protocol import Token


class MemoryStore:
    """fsspec's ``memory://`` filesystem, made atomic within this process by one lock."""

    atomic = True
    conditional_delete = True
    _lock = threading.RLock()

    def __init__(self) -> None:
        import fsspec

        self._fs = fsspec.filesystem("memory")

    def read(self, path: str) -> tuple[bytes, Token] | None:
        with self._lock:
            try:
                data = self._fs.cat_file(path)
            except FileNotFoundError:
                return None
        return data, data

    def create(self, path: str, data: bytes) -> Token:
        with self._lock:
            if self.read(path) is not None:  # fsspec's exists() scans every file in memory
                raise FileExistsError(path)
            self._fs.pipe_file(path, data)
        return data

    def swap(self, path: str, data: bytes, expected: Token) -> Token:
        with self._lock:
            current = self.read(path)
            if current is None or current[1] != expected:
                raise StorageConflict(f"{path} changed since it was read")
            self._fs.pipe_file(path, data)
        return data

    def delete_if(self, path: str, expected: Token) -> bool:
        with self._lock:
            current = self.read(path)
            if current is None or current[1] != expected:
                return False
            self._fs.rm_file(path)
        return True

    def write(self, path: str, data: bytes) -> None:
        with self._lock:
            self._fs.pipe_file(path, data)

    @contextlib.contextmanager
    def fenced(self, path: str, expected: Token) -> Iterator[None]:
        with self._lock:
            current = self.read(path)
            if current is None or current[1] != expected:
                raise StorageConflict(f"{path} changed since it was read")
            yield
