"""``LocalStore``: the atomic store for local paths — create-only links, flock-guarded compare-and-replace.

It knows nothing about leases or statuses and does not retry.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import itertools
import os
import threading
from typing import Any

from marin_exec.errors import StorageConflict
from marin_exec.storage.protocol import Token, strip_protocol

_READ_CHUNK = 1 << 16


class LocalStore:
    """Local disk: a complete file linked into place to create (``link`` fails if the name exists, and a reader never
    sees a partial file); swap and delete as a read-compare-replace under an ``flock`` of the directory itself (no
    extra file is created).

    ``read``'s token is the file's bytes: leases carry a worker id and a timestamp, so two versions never compare
    equal by accident. ``create`` and ``swap`` give a ``_Held`` version instead, equal to those bytes, which keeps the
    file it wrote and its directory open while the token lives: checking it is one ``stat`` instead of a read, and
    its flock needs no ``open`` (a lease is checked before each of a step's commit writes).
    """

    atomic = True
    conditional_delete = True

    def read(self, path: str) -> tuple[bytes, Token] | None:
        # os.open/os.read rather than open(): no buffered file object for files read whole (10 µs instead of 25 µs
        # a status read, which a 10,000-step cached re-run makes 20,000 times).
        try:
            fd = os.open(_local(path), os.O_RDONLY)
        except (FileNotFoundError, NotADirectoryError):
            return None
        try:
            chunk = os.read(fd, _READ_CHUNK)
            if len(chunk) < _READ_CHUNK:
                return chunk, chunk
            chunks = [chunk]
            while chunk:
                chunk = os.read(fd, _READ_CHUNK)
                chunks.append(chunk)
        finally:
            os.close(fd)
        data = b"".join(chunks)
        return data, data

    def create(self, path: str, data: bytes) -> Token:
        local = _local(path)
        directory = _Directory(os.path.dirname(local), create=True)
        return _Held(data, directory, directory.link_new(os.path.basename(local), data), local)

    def swap(self, path: str, data: bytes, expected: Token) -> Token:
        local = _local(path)
        directory = expected.directory if type(expected) is _Held else _Directory(os.path.dirname(local))
        with directory:
            if not self._is_current(local, expected):
                raise StorageConflict(f"{path} changed since it was read")
            tmp, fd = _write_temp(local, data, keep_open=True)
            try:
                os.replace(tmp, local)
            except BaseException:
                os.close(fd)
                raise
        return _Held(data, directory, fd, local)

    def delete_if(self, path: str, expected: Token) -> bool:
        local = _local(path)
        directory = expected.directory if type(expected) is _Held else _Directory(os.path.dirname(local))
        with directory:
            if not self._is_current(local, expected):
                return False
            os.unlink(local)
        return True

    def write(self, path: str, data: bytes) -> None:
        local = _local(path)
        os.replace(_write_temp(local, data)[0], local)

    def fenced(self, path: str, expected: Token) -> contextlib.AbstractContextManager[None]:
        local = _local(path)
        if type(expected) is _Held and expected.local == local:
            return expected  # a held version is its own fence
        return _Fenced(self, local, expected)

    def _is_current(self, local: str, expected: Token) -> bool:
        """Whether the file at ``local`` is still the version ``expected`` names (call it holding the directory)."""
        if type(expected) is _Held:
            return expected.is_at(local)
        current = self.read(local)
        return current is not None and current[1] == expected


def _local(path: str) -> str:
    if "://" not in path:  # the common case, without a call (a fresh step asks ~13 times)
        return path
    protocol, rest = strip_protocol(path)
    if protocol not in ("file", "local"):
        raise ValueError(f"not a local path: {path}")
    return rest


_COUNTER = itertools.count()
_NONCE = os.urandom(4).hex()  # a fork keeps it, so the pid is part of every name too
_tag = f"{os.getpid()}-{_NONCE}"  # a temp name's pid and nonce, renewed in a forked child (no getpid per write)


def _renew_tag() -> None:
    global _tag
    _tag = f"{os.getpid()}-{_NONCE}"


os.register_at_fork(after_in_child=_renew_tag)
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC


def _write_temp(local: str, data: bytes, keep_open: bool = False) -> tuple[str, int]:
    """Write ``data`` to a fresh temp file beside ``local`` (creating the directory on first use); its name, and with
    ``keep_open`` its descriptor (else -1)."""
    tmp = f"{local}.tmp-{_tag}-{next(_COUNTER)}"
    try:
        fd = os.open(tmp, _FLAGS, 0o666)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(local) or ".", exist_ok=True)
        fd = os.open(tmp, _FLAGS, 0o666)
    try:
        _write_all(fd, data)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if keep_open:
        return tmp, fd
    os.close(fd)
    return tmp, -1


def _write_all(fd: int, data: bytes) -> None:
    written = os.write(fd, data)
    if written == len(data):  # a small file: always, in one call
        return
    view = memoryview(data)[written:]
    while view:
        view = view[os.write(fd, view) :]


# Linux: a file created without a name (O_TMPFILE) and linked in by its descriptor once written. Cleared on the first
# filesystem or kernel without it (or without /proc); the named temp file and link below serve instead.
_tmpfile_flag = getattr(os, "O_TMPFILE", 0)
_NO_TMPFILE = {errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL}  # what opening one answers where there is none


class _Directory:
    """An open directory: the flock of compare-and-replace (with a thread lock: its holders share one open file) and
    the place where ``create`` links new files. Closed when the last version holding it is gone."""

    __slots__ = ("fd", "_mutex")

    def __init__(self, path: str, create: bool = False) -> None:
        path = path or "."
        try:
            self.fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            if not create:
                raise
            try:  # a step's new output directory: its parent exists already (makedirs would look first)
                os.mkdir(path)
            except OSError:  # FileExistsError: made by another worker meanwhile; FileNotFoundError: no parent yet
                os.makedirs(path, exist_ok=True)
            self.fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self._mutex = threading.Lock()

    def __enter__(self) -> None:
        self._mutex.acquire()
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except BaseException:
            self._mutex.release()
            raise

    def __exit__(self, *exc: object) -> None:
        try:  # unlocked explicitly: a process forked meanwhile shares the open file, so closing would not unlock
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            self._mutex.release()

    def link_new(self, name: str, data: bytes) -> int:
        """Create ``name`` here holding ``data`` (FileExistsError if it exists); returns the new file, open."""
        if _tmpfile_flag:
            fd = self._link_unnamed(name, data)
            if fd >= 0:
                return fd
        tmp = f"{name}.tmp-{_tag}-{next(_COUNTER)}"
        fd = os.open(tmp, _FLAGS, 0o666, dir_fd=self.fd)
        try:
            _write_all(fd, data)
            os.link(tmp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        except BaseException:
            os.close(fd)
            raise
        finally:
            os.unlink(tmp, dir_fd=self.fd)
        return fd

    def _link_unnamed(self, name: str, data: bytes) -> int:
        """``link_new`` through a file created without a name (no temp name to create and remove); -1 where the
        filesystem, kernel or a missing /proc does not allow it (then never tried again in this process)."""
        global _tmpfile_flag
        try:
            fd = os.open(".", _tmpfile_flag | os.O_WRONLY | os.O_CLOEXEC, 0o666, dir_fd=self.fd)
        except OSError as error:
            if error.errno not in _NO_TMPFILE:
                raise
            _tmpfile_flag = 0
            return -1
        try:
            _write_all(fd, data)
            os.link(f"/proc/self/fd/{fd}", name, dst_dir_fd=self.fd)  # follows the link: the file itself
        except BaseException as error:
            os.close(fd)
            if isinstance(error, FileExistsError) or not isinstance(error, OSError):
                raise
            if error.errno != errno.ENOENT or not os.path.isdir("/proc/self/fd"):
                _tmpfile_flag = 0
            return -1
        return fd

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            os.close(self.fd)


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class _Held:
    """A version this process created or swapped in, equal to its bytes: the file it wrote stays open while the token
    lives, so its inode number cannot be reused and the path naming that inode (same size and modification time:
    nothing rewrote it in place) proves the version is still there. Pickles as its bytes."""

    __slots__ = ("data", "directory", "local", "_fd", "_identity")

    def __init__(self, data: bytes, directory: _Directory, fd: int, local: str) -> None:
        self.data, self.directory, self._fd, self.local = data, directory, fd, local
        try:
            self._identity = _identity(os.fstat(fd))
        except BaseException:
            os.close(fd)
            raise

    def is_at(self, local: str) -> bool:
        try:
            return _identity(os.stat(local)) == self._identity
        except (FileNotFoundError, NotADirectoryError):
            return False

    def __enter__(self) -> None:
        """``LocalStore.fenced``: hold the directory's flock while this version is still at its path."""
        self.directory.__enter__()
        try:
            if not self.is_at(self.local):
                raise StorageConflict(f"{self.local} changed since it was read")
        except BaseException:
            self.directory.__exit__(None, None, None)
            raise

    def __exit__(self, *exc: object) -> None:
        self.directory.__exit__(*exc)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _Held):
            return self.data == other.data
        return self.data == other if isinstance(other, bytes) else NotImplemented

    def __hash__(self) -> int:
        return hash(self.data)

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        return bytes, (self.data,)

    def __repr__(self) -> str:
        return f"_Held({self.data!r})"

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            os.close(self._fd)


class _Fenced:
    """``LocalStore.fenced``: the directory's flock, entered only if the object is still at the expected version."""

    __slots__ = ("_store", "_local", "_expected", "_directory")

    def __init__(self, store: LocalStore, local: str, expected: Token) -> None:
        self._store, self._local, self._expected = store, local, expected
        self._directory: _Directory | None = None

    def __enter__(self) -> None:
        expected = self._expected
        directory = expected.directory if type(expected) is _Held else _Directory(os.path.dirname(self._local))
        directory.__enter__()
        try:
            if not self._store._is_current(self._local, expected):
                raise StorageConflict(f"{self._local} changed since it was read")
        except BaseException:
            directory.__exit__(None, None, None)
            raise
        self._directory = directory

    def __exit__(self, *exc: object) -> None:
        if self._directory is not None:
            self._directory.__exit__(*exc)
