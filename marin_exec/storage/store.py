"""Atomic operations on small objects (status and lease files), one backend per fsspec protocol.

The contract every backend keeps: ``read`` returns the bytes and an opaque *token* identifying that exact
version; ``create`` succeeds for exactly one writer; ``swap`` replaces only the version named by the token;
``delete_if`` removes only that version. Status and lease code is written against this interface, so a backend
plugs in its own create-only / compare-and-swap (O_EXCL + flock locally, generations on GCS, ETags on S3).

This module knows nothing about leases or statuses; it does not retry (the caller decides).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from marin_exec.errors import StorageConflict

logger = logging.getLogger(__name__)

Token = Any
#: What reading one object of a batch gave: its bytes and token, None when it does not exist, or the error.
Found = tuple[bytes, Token] | None | Exception


class AtomicStore(Protocol):
    """Small-object operations with create-only and compare-and-swap semantics."""

    #: True when create/swap/delete_if are enforced atomically by the backend.
    atomic: bool
    #: True when delete_if is enforced, so a lease can be released by one conditional delete.
    conditional_delete: bool

    def read(self, path: str) -> tuple[bytes, Token] | None: ...

    def create(self, path: str, data: bytes) -> Token:
        """Write ``data`` only if nothing exists at ``path``; FileExistsError otherwise."""
        ...

    def swap(self, path: str, data: bytes, expected: Token) -> Token:
        """Replace the object only if its current version is ``expected``; StorageConflict otherwise."""
        ...

    def delete_if(self, path: str, expected: Token) -> bool:
        """Delete the object only if its current version is ``expected``; returns whether it did."""
        ...

    def write(self, path: str, data: bytes) -> None:
        """Unconditional write, atomic for readers (they see the old or the new bytes, never a torn file)."""
        ...

    def fenced(self, path: str, expected: Token) -> contextlib.AbstractContextManager[None]:
        """Context in which the object at ``path`` is known to still be at version ``expected``.

        Raises StorageConflict on entry when it is not. Local disk holds a lock for the whole block; other
        backends check on entry only (the caller keeps the window short and the lease fresh).
        """
        ...


def strip_protocol(path: str) -> tuple[str, str]:
    """Split ``gs://b/k`` into (``gs``, ``b/k``); plain paths are ``file``."""
    if "://" in path:
        protocol, rest = path.split("://", 1)
        return protocol, rest
    return "file", path


class LocalStore:
    """Local disk: O_EXCL create; swap/delete as an flock-guarded read-compare-replace in the directory.

    The token is the file's bytes: leases carry a worker id and a timestamp, so two versions never compare
    equal by accident. The flock is taken on the directory itself, so no extra file is created.
    """

    atomic = True
    conditional_delete = True

    def read(self, path: str) -> tuple[bytes, Token] | None:
        try:
            with open(_local(path), "rb") as f:
                data = f.read()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return data, data

    def create(self, path: str, data: bytes) -> Token:
        local = _local(path)
        # Write a complete temp file, then link it into place: link fails if the name exists, and a reader
        # never sees a partial object (O_EXCL on the final name would expose an empty file for a moment).
        tmp = _write_temp(local, data)
        try:
            os.link(tmp, local)
        finally:
            os.unlink(tmp)
        return data

    def swap(self, path: str, data: bytes, expected: Token) -> Token:
        local = _local(path)
        with _dir_lock(local):
            current = self.read(path)
            if current is None or current[1] != expected:
                raise StorageConflict(f"{path} changed since it was read")
            os.replace(_write_temp(local, data), local)
        return data

    def delete_if(self, path: str, expected: Token) -> bool:
        local = _local(path)
        with _dir_lock(local):
            current = self.read(path)
            if current is None or current[1] != expected:
                return False
            os.unlink(local)
        return True

    def write(self, path: str, data: bytes) -> None:
        local = _local(path)
        os.replace(_write_temp(local, data), local)

    @contextlib.contextmanager
    def fenced(self, path: str, expected: Token) -> Iterator[None]:
        with _dir_lock(_local(path)):
            current = self.read(path)
            if current is None or current[1] != expected:
                raise StorageConflict(f"{path} changed since it was read")
            yield


def _local(path: str) -> str:
    protocol, rest = strip_protocol(path)
    if protocol not in ("file", "local"):
        raise ValueError(f"not a local path: {path}")
    return rest


def _write_temp(local: str, data: bytes) -> str:
    """Write ``data`` to a fresh temp file beside ``local`` (creating the directory on first use)."""
    tmp = f"{local}.tmp-{uuid.uuid4().hex[:12]}"
    try:
        f = open(tmp, "wb")
    except FileNotFoundError:
        os.makedirs(os.path.dirname(local) or ".", exist_ok=True)
        f = open(tmp, "wb")
    with f:
        f.write(data)
    return tmp


@contextlib.contextmanager
def _dir_lock(local: str) -> Iterator[None]:
    directory = os.path.dirname(local) or "."
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


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
        from marin_exec.storage.retry import overlapped

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


# Protocol -> factory. Object-store backends register lazily so that importing marin_exec stays cheap.
_FACTORIES: dict[str, Callable[[], AtomicStore]] = {
    "file": LocalStore,
    "local": LocalStore,
    "memory": MemoryStore,
}
_STORES: dict[str, AtomicStore] = {}
_STORES_LOCK = threading.Lock()


def register_store(protocol: str, factory: Callable[[], AtomicStore]) -> None:
    """Make ``factory`` the atomic store for ``protocol://`` paths."""
    with _STORES_LOCK:
        _FACTORIES[protocol] = factory
        _STORES.pop(protocol, None)


def _lazy_factory(protocol: str) -> Callable[[], AtomicStore] | None:
    module = {"gs": "gcs_store", "gcs": "gcs_store", "s3": "s3_store", "s3a": "s3_store"}.get(protocol)
    if module is None:
        return None
    store_class = "GcsStore" if module == "gcs_store" else "S3Store"
    return getattr(importlib.import_module(f"marin_exec.storage.{module}"), store_class)


def read_many(paths: Sequence[str]) -> list[Found]:
    """Read each path, in order, returning per path what ``read`` returns or the exception it raised.

    A store with its own ``read_many`` (the object stores) gets all of its paths in one call and overlaps the
    requests; others are read one after another in the calling thread.
    """
    results: list[Found] = [None] * len(paths)
    groups: dict[int, tuple[AtomicStore, list[int]]] = {}
    for i, path in enumerate(paths):
        try:
            store = store_for(path)
        except Exception as error:
            results[i] = error
            continue
        groups.setdefault(id(store), (store, []))[1].append(i)
    for store, indices in groups.values():
        batch = getattr(store, "read_many", None)
        try:
            found = batch([paths[i] for i in indices]) if batch is not None else None
        except Exception as error:  # the batch machinery itself failed: each path is read on its own below
            logger.warning(f"a batch read of {len(indices)} objects failed ({error!r}); reading them one by one")
            found = None
        if found is None:
            found = [read_or_error(store, paths[i]) for i in indices]
        for i, f in zip(indices, found, strict=True):
            results[i] = f
    return results


def read_or_error(store: AtomicStore, path: str) -> Found:
    """``store.read(path)``, or the exception it raised."""
    try:
        return store.read(path)
    except Exception as error:
        return error


def store_for(path: str) -> AtomicStore:
    """The atomic store that serves ``path`` (one instance per protocol and process)."""
    protocol, _ = strip_protocol(path)
    store = _STORES.get(protocol)
    if store is not None:
        return store
    with _STORES_LOCK:
        if protocol not in _STORES:
            factory = _FACTORIES.get(protocol) or _lazy_factory(protocol)
            _STORES[protocol] = factory() if factory is not None else BestEffortStore(protocol)
        return _STORES[protocol]
