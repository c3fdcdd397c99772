"""``BestEffortStore``: any other fsspec backend, with check-then-write semantics and one warning naming it.

Not atomic: two workers starting the same step at the same moment may both run it. It does not retry.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import Any

from marin_exec.errors import StorageConflict
from marin_exec.storage.protocol import Found, Token, read_or_error

logger = logging.getLogger(__name__)


class BestEffortStore:
    """Any other fsspec backend: check-then-write, with one warning naming the backend."""

    atomic = False
    conditional_delete = False
    _warned: set[str] = set()

    def __init__(self, protocol: str) -> None:
        self._protocol = protocol
        if protocol not in self._warned:
            self._warned.add(protocol)
            logger.warning(
                f"storage backend '{protocol}://' has no create-only or compare-and-swap writes: leases are best "
                "effort, and two workers starting the same step at the same moment may both run it"
            )

    def _fs(self) -> Any:
        import fsspec

        return fsspec.filesystem(self._protocol, use_listings_cache=False, skip_instance_cache=True)

    def read(self, path: str) -> tuple[bytes, Token] | None:
        try:
            data = self._fs().cat_file(path)
        except FileNotFoundError:
            return None
        return data, data

    def read_many(self, paths: Sequence[str]) -> list[Found]:
        """``read`` of every path: overlapped on the loop of an async fsspec backend, one by one otherwise."""
        fs = self._fs()
        if not getattr(fs, "async_impl", False):
            return [read_or_error(self, path) for path in paths]
        from marin_exec.storage.retry import overlapped  # here: retry imports asyncio, which marin_exec defers

        async def one(path: str) -> tuple[bytes, Token] | None:
            try:
                data = await fs._cat_file(path)
            except FileNotFoundError:
                return None
            return data, data

        return overlapped(fs.loop, one, paths)

    def create(self, path: str, data: bytes) -> Token:
        fs = self._fs()
        if fs.exists(path):
            raise FileExistsError(path)
        fs.pipe_file(path, data)
        return data

    def swap(self, path: str, data: bytes, expected: Token) -> Token:
        current = self.read(path)
        if current is None or current[1] != expected:
            raise StorageConflict(f"{path} changed since it was read")
        self._fs().pipe_file(path, data)
        return data

    def delete_if(self, path: str, expected: Token) -> bool:
        current = self.read(path)
        if current is None or current[1] != expected:
            return False
        self._fs().rm_file(path)
        return True

    def write(self, path: str, data: bytes) -> None:
        self._fs().pipe_file(path, data)

    @contextlib.contextmanager
    def fenced(self, path: str, expected: Token) -> Iterator[None]:
        current = self.read(path)
        if current is None or current[1] != expected:
            raise StorageConflict(f"{path} changed since it was read")
        yield
