"""Which atomic store serves a path: ``store_for(path)`` (one per protocol and process), ``register_store`` to
plug in a backend, and ``read_many`` to read a batch of paths in as few rounds as the stores allow.

Only the local backend is imported with this module; the others (memory, GCS, S3, fsspec's) on first use, so
importing marin_exec stays cheap. The contract the stores keep is in ``storage.protocol``; this module does no reads
or writes of its own.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Sequence

from marin_exec.storage.local_store import LocalStore
from marin_exec.storage.protocol import AtomicStore, Found, read_or_error, strip_protocol

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


def store_for(path: str) -> AtomicStore:
    """The atomic store that serves ``path`` (one instance per protocol and process)."""
    protocol, _ = strip_protocol(path)
    store = _STORES.get(protocol)
    if store is not None:
        return store
    with _STORES_LOCK:
        if protocol not in _STORES:
            factory = _FACTORIES.get(protocol) or _lazy_factory(protocol)
            _STORES[protocol] = factory()
        return _STORES[protocol]
