"""Atomic operations on small objects (status and lease files), one backend per fsspec protocol.

The contract every backend keeps: ``read`` returns the bytes and an opaque *token* identifying that exact
version; ``create`` succeeds for exactly one writer; ``swap`` replaces only the version named by the token;
``delete_if`` removes only that version. Status and lease code is written against this interface, so a backend
plugs in its own create-only / compare-and-swap (O_EXCL + flock locally, generations on GCS, ETags on S3).

This module is the contract only: the backends are ``local_store``, ``memory_store``, ``fsspec_store``, ``gcs_store``
and ``s3_store``, and ``store`` picks one per path. It knows nothing about leases or statuses and does not retry.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any, NamedTuple, Protocol

Token = Any
#: What reading one object of a batch gave: its bytes and token, None when it does not exist, or the error.
Found = tuple[bytes, Token] | None | Exception


class ObjectStat(NamedTuple):
    """What a store's ``stat_many`` (optional; GCS has one) tells of an object without reading it."""

    size: int
    token: Token
    #: The MD5 digest of the bytes, when the store keeps one (GCS does for every object not composed of parts).
    md5: bytes | None


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


def read_or_error(store: AtomicStore, path: str) -> Found:
    """``store.read(path)``, or the exception it raised."""
    try:
        return store.read(path)
    except Exception as error:
        return error


def json_object(found: Found) -> dict[str, Any] | None:
    """What a read found, as a JSON object; None when it is missing, unreadable, not JSON or not an object."""
    if not isinstance(found, tuple):
        return None
    try:
        value = json.loads(found[0])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
