"""Run settings: force_run_failed, heartbeat interval, lease timeout and clock-skew allowance, scoped to one run.

``StepRunner.run`` and ``executor_main`` set them; ``distributed_lock`` reads them when its own arguments
are None; ``RemoteCallable`` captures them at submit time and re-establishes them inside the job. This module
only holds values: it never reads the environment and has no side effects at import. Values that would break
exactly-once (DESIGN §5a) are refused where they are set: ``unsafe_setting`` says which and why.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from marin_exec.errors import UnsafeSettingsError

DEFAULT_HEARTBEAT_INTERVAL = 30.0
DEFAULT_LEASE_TIMEOUT = 90.0
DEFAULT_CLOCK_SKEW_ALLOWANCE = 300.0
DEFAULT_PROGRESS_INTERVAL = 60.0  # seconds between progress lines when stderr is not a terminal


DEFAULT_STORE_RETRY_TIMEOUT = 60.0


@dataclasses.dataclass(frozen=True)
class RunSettings:
    force_run_failed: bool = True
    heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL
    lease_timeout: float = DEFAULT_LEASE_TIMEOUT
    # How far another machine's clock may be off: a lease whose written timestamp is older than lease_timeout plus
    # this is stale at once; younger ones are judged by watching them (DESIGN §5a).
    clock_skew_allowance: float = DEFAULT_CLOCK_SKEW_ALLOWANCE
    # How long a gs:// or s3:// request is retried through transient errors once the store has answered this
    # process (None: 60 s, at most lease_timeout, so a holder gives up before its lease could be taken over).
    store_retry_timeout: float | None = None
    # The Fray client chosen for this run (None: resolved lazily by remote() on first use).
    fray_client: Any = None
    # Called by a heartbeat that finds its lease taken over, with the LeaseLostError. Set inside a remote job's
    # own process to end the job at once instead of letting it compute a step another worker now owns.
    on_lost_lease: Any = None
    # Set by a remote step call for its job: the job's commit records it in .executor_info, so the caller can tell
    # that its own job ran the step from another worker having finished it while the job waited (call_report).
    call_id: str | None = None

    @property
    def store_retry_budget(self) -> float:
        """``store_retry_timeout``, or the default bounded by the lease timeout."""
        if self.store_retry_timeout is not None:
            return self.store_retry_timeout
        return min(DEFAULT_STORE_RETRY_TIMEOUT, self.lease_timeout)


# RunSettings is frozen, so sharing one default instance is safe.
_RUN_SETTINGS: ContextVar[RunSettings] = ContextVar("marin_exec_run_settings", default=RunSettings())  # noqa: B039


def unsafe_setting(
    *,
    heartbeat_interval: float,
    lease_timeout: float,
    clock_skew_allowance: float = 0.0,
    max_concurrent: int | None = None,
    spell: Callable[[str, Any], str] = lambda name, value: f"{name}={value!r}",
) -> str | None:
    """What is wrong with these settings, in one line (None: nothing). ``spell(name, value)`` names a setting as
    the caller's user gave it (a flag, a keyword argument). NaN is refused as not more than 0."""
    if not lease_timeout > 0:
        return (
            f"{spell('lease_timeout', lease_timeout)}: a lease timeout must be more than 0 s: a lease that is stale "
            f"at once lets a second worker run a step that is still running (the default is {DEFAULT_LEASE_TIMEOUT:g})"
        )
    if not heartbeat_interval > 0:
        return (
            f"{spell('heartbeat_interval', heartbeat_interval)}: a heartbeat interval must be more than 0 s (0 "
            f"refreshes the lease in a busy loop); use a third of the lease timeout or less (the default is "
            f"{DEFAULT_HEARTBEAT_INTERVAL:g})"
        )
    if heartbeat_interval >= lease_timeout:
        return (
            f"{spell('heartbeat_interval', heartbeat_interval)} is not shorter than "
            f"{spell('lease_timeout', lease_timeout)}: a healthy holder would look stale between two heartbeats and "
            f"a second worker would run its step; use a third of the lease timeout or less "
            f"({lease_timeout / 3:.3g} s here)"
        )
    if not clock_skew_allowance >= 0:
        return (
            f"{spell('clock_skew_allowance', clock_skew_allowance)}: must be 0 or more: a negative allowance makes a "
            f"live lease written on another machine look stale (the default is {DEFAULT_CLOCK_SKEW_ALLOWANCE:g})"
        )
    if max_concurrent is not None and not max_concurrent >= 1:
        return f"{spell('max_concurrent', max_concurrent)}: at least 1 step must be allowed to run at once (default 8)"
    return None


def refuse_unsafe(settings: RunSettings, max_concurrent: int | None = None) -> None:
    """Raise ``UnsafeSettingsError`` if ``settings`` (and ``max_concurrent``) would break exactly-once."""
    problem = unsafe_setting(
        heartbeat_interval=settings.heartbeat_interval,
        lease_timeout=settings.lease_timeout,
        clock_skew_allowance=settings.clock_skew_allowance,
        max_concurrent=max_concurrent,
    )
    if problem is not None:
        raise UnsafeSettingsError(problem)


def current_run_settings() -> RunSettings:
    """The settings in force in this context (defaults when no run set any)."""
    return _RUN_SETTINGS.get()


@contextlib.contextmanager
def run_settings(**overrides: Any) -> Iterator[RunSettings]:
    """Set run settings for the enclosed block; keys left None keep their current value. Lease timings that would
    break exactly-once raise ``UnsafeSettingsError`` (set the heartbeat interval and lease timeout together)."""
    changes = {key: value for key, value in overrides.items() if value is not None}
    settings = dataclasses.replace(_RUN_SETTINGS.get(), **changes)
    refuse_unsafe(settings)
    token = _RUN_SETTINGS.set(settings)
    try:
        yield settings
    finally:
        _RUN_SETTINGS.reset(token)
