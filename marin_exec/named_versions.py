"""Named versions (DESIGN §4b): which version strings a named step may have, the ``RUN_VERSION`` sentinel, and
Marin's per-user namespace for mutable versions.

A named step lives at ``{prefix}/{name}/{version}``. Its version is a calendar version ``YYYY.MM.DD`` (or
``YYYY.MM.DD.N`` for a second build on one day) or a mutable ``dev`` / ``<label>-dev``: Marin's rules
(``marin.execution.artifact.validate_version``), so a version valid here is valid there. This module computes no
fingerprint (``marin_exec.fingerprint``) and no path (``compile.step_spec``), and does no I/O.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import os
import re
from collections.abc import Iterator
from contextvars import ContextVar

from marin_exec.errors import StepDefinitionError

logger = logging.getLogger(__name__)

CALVER_RE = re.compile(r"^\d{4}\.\d{2}\.\d{2}(\.\d+)?$")


class _RunVersion:
    """The sentinel ``RUN_VERSION``: the step's version comes from the run (``--version`` / ``--override``)."""

    _instance: _RunVersion | None = None

    def __new__(cls) -> _RunVersion:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "RUN_VERSION"

    def __reduce__(self) -> str:
        return "RUN_VERSION"


RUN_VERSION = _RunVersion()


def is_mutable_version(version: str) -> bool:
    """``dev`` and ``<label>-dev`` are mutable: they rebuild on every run and skip the drift check."""
    return version == "dev" or version.endswith("-dev")


def version_problem(version: object) -> str | None:
    """Why ``version`` is not a valid named version (None when it is): Marin's path-segment and CalVer rules."""
    if not isinstance(version, str):
        return f"a version is a str, found {type(version).__name__} {version!r}"
    return _str_version_problem(version)


@functools.lru_cache(maxsize=256)  # a plan has few distinct versions and asks about each of its steps
def _str_version_problem(version: str) -> str | None:
    if not version:
        return "the version is empty"
    if "://" in version or ".." in version or "/" in version or any(ord(c) < 32 for c in version):
        return f"version {version!r} must be one path segment (no '/', '..', scheme or control characters)"
    if is_mutable_version(version) or CALVER_RE.match(version):
        return None
    return (
        f"version {version!r} is neither a calendar version YYYY.MM.DD (or YYYY.MM.DD.N, e.g. 2026.12.06.1) nor a "
        "mutable 'dev' / '<label>-dev'"
    )


def check_version(version: object, step: str) -> str:
    """``version`` if valid, else a ``StepDefinitionError`` naming ``step`` and what to write instead."""
    problem = version_problem(version)
    if problem is not None:
        raise StepDefinitionError(
            f"step '{step}': {problem}; write version='2026.12.06' (today's date, the day the recipe was frozen), "
            "version='dev' while iterating, or version=RUN_VERSION to take it from the command line"
        )
    return version  # type: ignore[return-value]


_USER_SEGMENT_RE = re.compile(r"[^a-z0-9_-]+")
_MACHINE_LOGINS = frozenset({"root", "runner", "ubuntu", "exedev"})


def username_segment() -> str:
    """The user a per-user namespace belongs to, as Marin resolves it (``rigging.provenance.username_segment``):
    ``built_by`` of the launch provenance in ``MARIN_PROVENANCE`` when set (a remote worker namespaces under the
    human who submitted it), else the OS login; an e-mail-like name loses its domain; lowercased, other characters
    collapsed to ``-``. Raises ``StepDefinitionError`` when no user resolves."""
    raw = _launch_user()
    if not raw:
        import getpass  # here: ``import marin_exec`` stays light

        try:
            raw = getpass.getuser()
        except (OSError, KeyError):
            raw = None
    if not raw:
        raise StepDefinitionError(
            "cannot resolve a user name for the per-user namespace (no built_by in MARIN_PROVENANCE and no OS "
            "login); set USER, or drop user_namespace=True"
        )
    name = raw.strip().split("@", 1)[0]
    segment = _USER_SEGMENT_RE.sub("-", name.lower()).strip("-")
    if not segment:
        raise StepDefinitionError(f"user name {raw!r} leaves no usable path segment for the per-user namespace")
    if segment in _MACHINE_LOGINS:
        logger.warning(
            f"per-user namespace resolved to the machine login {segment!r}: the launching person's identity did "
            "not reach this process"
        )
    return segment


def _launch_user() -> str | None:
    raw = os.environ.get("MARIN_PROVENANCE")
    if not raw:
        return None
    try:
        built_by = json.loads(raw).get("built_by")
    except (ValueError, AttributeError):
        logger.warning(f"ignoring a malformed MARIN_PROVENANCE value: {raw!r}")
        return None
    return built_by if isinstance(built_by, str) else None


def user_namespaced_name(name: str, version: str) -> str:
    """``users/{user}/{name}`` for a mutable version, ``name`` unchanged for a fixed one (Marin's
    ``marin.experiment.namespacing.user_namespaced_name``)."""
    return f"users/{username_segment()}/{name}" if is_mutable_version(version) else name


@dataclasses.dataclass
class RunVersions:
    """The run's versions for steps that defer theirs (``RUN_VERSION``): ``--version`` and ``--override NAME=VERSION``
    (Marin's ``VersionCodex``). Overrides are keyed by step name with placeholders filled; ``used`` records which
    ones a step asked for, so one that applies to nothing can be reported."""

    default: str | None = None
    overrides: dict[str, str] = dataclasses.field(default_factory=dict)
    used: set[str] = dataclasses.field(default_factory=set)

    def __post_init__(self) -> None:
        given = [("--version", self.default), *((f"--override {n}", v) for n, v in self.overrides.items())]
        for label, version in given:
            problem = None if version is None else version_problem(version)
            if problem is not None:
                raise StepDefinitionError(f"{label}: {problem}")

    def version_for(self, name: str) -> str:
        if name in self.overrides:
            self.used.add(name)
            return self.overrides[name]
        if self.default is None:
            raise StepDefinitionError(
                f"step '{name}' takes its version from the run (version=RUN_VERSION), but none was given: pass "
                f"--version 2026.12.06 (or dev), or --override {name}=VERSION"
            )
        return self.default

    def unused(self) -> list[str]:
        return sorted(set(self.overrides) - self.used)


_RUN_VERSIONS: ContextVar[RunVersions | None] = ContextVar("marin_exec_run_versions", default=None)


@contextlib.contextmanager
def run_versions(versions: RunVersions | None) -> Iterator[RunVersions | None]:
    """Make ``versions`` the run's versions while the plan is compiled."""
    token = _RUN_VERSIONS.set(versions)
    try:
        yield versions
    finally:
        _RUN_VERSIONS.reset(token)


def current_run_versions() -> RunVersions:
    """The versions set by ``run_versions``, else an empty set (a deferring step is then an error)."""
    return _RUN_VERSIONS.get() or RunVersions()
