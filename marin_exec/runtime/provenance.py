"""Who runs this process, on which host, at which commit: ``process_provenance()``, worked out once per process.

The commit is read from the repository's own files (HEAD, then the loose ref or ``packed-refs``), which is what
``git rev-parse HEAD`` answers, without starting a git process (~3 ms, and the ``subprocess`` import, on a run's
first step). git itself is asked where the files do not plainly say: ``GIT_*`` variables that change where git
looks, a repository on another filesystem than the working directory, a reftable store, a ref found in neither
place, no repository up to the root. It writes nothing and knows no step.
"""

from __future__ import annotations

import functools
import os
import re
from typing import Any

from marin_exec.status.lease_record import this_host

# A full object name: SHA-1 (40 hex digits) or SHA-256 (64).
_OBJECT_NAME = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")
# Settings under which git may find another repository (or ref) than the plain walk up from the working directory.
_GIT_SETTINGS = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_COMMON_DIR",
    "GIT_CEILING_DIRECTORIES",
    "GIT_DISCOVERY_ACROSS_FILESYSTEM",
)
_USER_VARIABLES = ("LOGNAME", "USER", "LNAME", "USERNAME")  # getpass.getuser's, in its order


@functools.cache
def process_provenance() -> dict[str, Any]:
    """``{"git_commit", "user", "host"}`` of this process (None where unknown), for ``.executor_info``."""
    return {"git_commit": git_commit() or None, "user": _user(), "host": this_host()}


def git_commit(directory: str | None = None) -> str:
    """HEAD's commit for ``directory`` (default: the working directory), "" outside a repository or when git fails."""
    directory = os.path.abspath(directory or os.curdir)
    try:
        found = None if any(name in os.environ for name in _GIT_SETTINGS) else _read_head(directory)
    except (OSError, ValueError):  # an unreadable or unexpected file: git decides
        found = None
    return found if found is not None else _ask_git(directory)


def _read_head(directory: str) -> str | None:
    git_dir = _find_git_dir(directory)
    if git_dir is None:
        return None
    common = git_dir
    if os.path.isfile(os.path.join(git_dir, "commondir")):  # a linked worktree: shared refs live there
        common = os.path.normpath(os.path.join(git_dir, _read(os.path.join(git_dir, "commondir"))))
    head = _read(os.path.join(git_dir, "HEAD"))
    for _ in range(5):  # a symbolic ref may point at another
        if not head.startswith("ref:"):
            break
        found = _ref(git_dir, common, head[4:].strip())
        if found is None:
            return None
        head = found
    return head if _OBJECT_NAME.fullmatch(head) else None


def _find_git_dir(directory: str) -> str | None:
    """The git directory of the repository holding ``directory``: its ``.git`` (a directory, or a file naming one)."""
    device = os.stat(directory).st_dev
    while True:
        dot_git = os.path.join(directory, ".git")
        if os.path.isdir(dot_git):
            return dot_git
        if os.path.isfile(dot_git):
            text = _read(dot_git)
            return os.path.join(directory, text[len("gitdir:") :].strip()) if text.startswith("gitdir:") else None
        parent = os.path.dirname(directory)
        if parent == directory or os.stat(parent).st_dev != device:
            return None  # no repository (git says so too), or git stops at a mount point: let it say which
        directory = parent


def _ref(git_dir: str, common: str, ref: str) -> str | None:
    if not ref.startswith("refs/") or ".." in ref:
        return None
    for base in dict.fromkeys((git_dir, common)):  # a worktree's own refs first, then the shared ones
        path = os.path.join(base, ref)
        if os.path.isfile(path):
            return _read(path)
    packed = os.path.join(common, "packed-refs")
    if os.path.isfile(packed):
        for line in _read(packed).splitlines():
            name, _, refname = line.partition(" ")
            if refname == ref and _OBJECT_NAME.fullmatch(name):
                return name
    return None


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


def _ask_git(directory: str) -> str:
    import subprocess  # here: only where the repository's files did not say

    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True, timeout=5, check=False
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _user() -> str | None:
    """The login name, as ``getpass.getuser()`` finds it (without importing getpass and termios)."""
    for name in _USER_VARIABLES:
        if os.environ.get(name):
            return os.environ[name]
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError, OSError):
        return None
