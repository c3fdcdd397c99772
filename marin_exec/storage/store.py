"""Which atomic store serves a path: ``store_for(path)`` (one per protocol and process), ``register_store`` to
plug in a backend, and ``read_many`` to read a batch of paths in as few rounds as the stores allow;
``read_known`` and ``exist_many`` ask a store that can answer from metadata alone (``stat_many``: GCS) instead.

Only the local backend is imported with this module; the others (memory, GCS, S3, fsspec's) on first use, so
importing marin_exec stays cheap. The contract the stores keep is in ``storage.protocol``; this module does no reads
or writes of its own.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Collection, Sequence
from typing import Any

from marin_exec.storage.local_store import LocalStore
from marin_exec.storage.protocol import AtomicStore, Found, ObjectStat, read_or_error, strip_protocol

logger = logging.getLogger(__name__)

# Protocol -> factory. The other backends register lazily (``_lazy_factory``) so that importing marin_exec stays cheap.
_FACTORIES: dict[str, Callable[[], AtomicStore]] = {"file": LocalStore, "local": LocalStore}
_STORES: dict[str, AtomicStore] = {}
_STORES_LOCK = threading.Lock()


def register_store(protocol: str, factory: Callable[[], AtomicStore]) -> None:
    """Make ``factory`` the atomic store for ``protocol://`` paths."""
    with _STORES_LOCK:
        _FACTORIES[protocol] = factory
        _STORES.pop(protocol, None)


def _lazy_factory(protocol: str) -> Callable[[], AtomicStore]:
    """The backend of ``protocol``, imported now; fsspec's filesystem (best effort) for a protocol without one."""
    if protocol == "memory":
        from marin_exec.storage.memory_store import MemoryStore

        return MemoryStore
    if protocol in ("gs", "gcs"):
        from marin_exec.storage.gcs_store import GcsStore

        return GcsStore
    if protocol in ("s3", "s3a"):
        from marin_exec.storage.s3_store import S3Store

        return S3Store
    from marin_exec.storage.fsspec_store import BestEffortStore

    return functools.partial(BestEffortStore, protocol)


def read_many(paths: Sequence[str]) -> list[Found]:
    """Read each path, in order, returning per path what ``read`` returns or the exception it raised.

    A store with its own ``read_many`` (the object stores) gets all of its paths in one call and overlaps the
    requests; others are read one after another in the calling thread.
    """
    results: list[Found] = [None] * len(paths)
    for store, indices in _by_store(paths, results):
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


def read_known(paths: Sequence[str], expected: Collection[bytes]) -> list[Found]:
    """``read_many``, except that an object whose metadata shows it holds one of ``expected`` (same MD5) is not
    downloaded: its bytes are that candidate, its token the one the metadata gives. Objects a store cannot
    answer so (no ``stat_many``, a single path, no MD5, other bytes, an error asking) are read."""
    import hashlib  # here: importing marin_exec loads no hashing (tests/test_layout.py)

    by_md5 = {hashlib.md5(e, usedforsecurity=False).digest(): e for e in expected}
    results: list[Found] = [None] * len(paths)
    to_read: list[int] = []
    for indices, stats in _stats(paths, results):
        for i, stat in zip(indices, stats, strict=True):
            if isinstance(stat, ObjectStat) and stat.md5 in by_md5:
                results[i] = (by_md5[stat.md5], stat.token)
            elif stat is not None:
                to_read.append(i)
    for i, found in zip(to_read, read_many([paths[i] for i in to_read]), strict=True):
        results[i] = found
    return results


def exist_many(paths: Sequence[str]) -> list[bool | Exception]:
    """Whether each path exists (or the exception asking raised): from metadata where the store has
    ``stat_many``, else by reading."""
    results: list[bool | Exception] = [False] * len(paths)
    to_read: list[int] = []
    for indices, stats in _stats(paths, results):
        for i, stat in zip(indices, stats, strict=True):
            if isinstance(stat, Exception):
                to_read.append(i)
            else:
                results[i] = stat is not None
    for i, found in zip(to_read, read_many([paths[i] for i in to_read]), strict=True):
        results[i] = found if isinstance(found, Exception) else found is not None
    return results


def _stats(paths: Sequence[str], results: list[Any]) -> list[tuple[list[int], list[ObjectStat | None | Exception]]]:
    """Per store: the indices of its paths and their ``stat_many`` answers; a store without one, or asked about a
    single path, answers an exception for each path (so callers read them). Paths no store serves get their error
    in ``results``."""
    answered = []
    for store, indices in _by_store(paths, results):
        # One object is one request either way, and a read needs no batch support: metadata only for several.
        stat_many = getattr(store, "stat_many", None) if len(indices) > 1 else None
        try:
            stats = stat_many([paths[i] for i in indices]) if stat_many is not None else None
        except Exception as error:  # the batch machinery itself failed: the paths are read instead
            logger.warning(f"asking for the metadata of {len(indices)} objects failed ({error!r}); reading them")
            stats = None
        answered.append((indices, stats if stats is not None else [_NO_STATS] * len(indices)))
    return answered


_NO_STATS = LookupError("the store gives no metadata without a read")


def _by_store(paths: Sequence[str], results: list[Any]) -> list[tuple[AtomicStore, list[int]]]:
    """The paths' indices grouped by the store serving them; a path no store serves gets its error in
    ``results`` instead."""
    groups: dict[int, tuple[AtomicStore, list[int]]] = {}
    for i, path in enumerate(paths):
        try:
            store = store_for(path)
        except Exception as error:
            results[i] = error
            continue
        groups.setdefault(id(store), (store, []))[1].append(i)
    return list(groups.values())


def store_for(path: str) -> AtomicStore:
    """The atomic store that serves ``path`` (one instance per protocol and process)."""
    protocol = strip_protocol(path)[0] if "://" in path else "file"
    store = _STORES.get(protocol)
    if store is not None:
        return store
    with _STORES_LOCK:
        if protocol not in _STORES:
            factory = _FACTORIES.get(protocol) or _lazy_factory(protocol)
            _STORES[protocol] = factory()
        return _STORES[protocol]
