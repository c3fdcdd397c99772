"""Marin's ``remote`` (``marin.execution.remote`` of marin-core 0.2.227) with its signature and shape: a function
that runs as a Fray job with the given resources, submitted through marin_exec's Fray path (``marin_exec.remote``).

As a handle's ``run`` (``ArtifactStep(run=remote(train, resources=...))``), lowering reads its resources, env_vars
and pip_dependency_groups onto the handle's StepSpec, so the whole step (lease, ``build_config``, the function, the
commit of Marin's record) runs inside the job, as Marin's runner does it; resources never enter the fingerprint.
Called directly (``apply(name, remote(fn, ...))`` makes such a call), it submits ``fn(*args)`` and waits, returning
None, as Marin's does. ``name`` names the job of a direct call; a step's job is named after the step, as in Marin.
``pip_packages`` (packages a job installs for itself) has no counterpart in marin_exec's jobs: ``refuse_pip_packages``
says so. Fray is imported when a RemoteCallable is made without resources or called, not when this module loads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from marin_exec.errors import StepDefinitionError
from marin_exec.naming import qualified_name


def refuse_pip_packages(where: str, packages: Any) -> None:
    """A ``pip_packages`` request, refused in one line (a job that silently lacks them would fail far from here)."""
    if packages:
        raise StepDefinitionError(
            f"{where}: remote(..., pip_packages={list(packages)!r}) asks the Fray job to install packages, which "
            "marin_exec's jobs do not do; add them to the project's dependencies (or to an extra named in "
            "pip_dependency_groups) and drop pip_packages"
        )


def remote_parts(run: Any) -> tuple[Callable[..., Any], Any, dict[str, str], list[str] | None, Any] | None:
    """A handle's ``run`` that is a ``RemoteCallable`` (this module's, Marin's or ``marin_exec.remote``'s, told by
    shape) as ``(fn, resources, env_vars, pip_dependency_groups, pip_packages)``; None for a plain function."""
    if type(run).__name__ != "RemoteCallable" or not callable(getattr(run, "fn", None)):
        return None
    groups = getattr(run, "pip_dependency_groups", None)
    return (
        run.fn,
        getattr(run, "resources", None),
        dict(getattr(run, "env_vars", None) or {}),
        None if groups is None else list(groups),
        getattr(run, "pip_packages", None),
    )


@dataclasses.dataclass(frozen=True)
class RemoteCallable:
    """``fn`` with the Fray job it asks for (Marin's fields); see the module docstring."""

    fn: Callable[..., Any]
    resources: Any
    env_vars: dict[str, str] = dataclasses.field(default_factory=dict)
    pip_dependency_groups: list[str] | None = None
    pip_packages: list[str] | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        refuse_pip_packages(qualified_name(self.fn), self.pip_packages)

    def named(self, name: str) -> RemoteCallable:
        """This one if it has a name already, else a copy named ``name`` (Marin's ``named``)."""
        return self if self.name else dataclasses.replace(self, name=name)

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        """Submit ``fn(*args, **kwargs)`` as a Fray job, wait for it, return None (Fray keeps no return value)."""
        from marin_exec.runtime.remote import RemoteCallable as Job

        job = Job(
            self.fn,
            name=self.name,
            resources=self.resources,
            env_vars=self.env_vars,
            pip_dependency_groups=self.pip_dependency_groups,
        )
        job(*args, **kwargs)


def remote(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    resources: Any = None,
    env_vars: dict[str, str] | None = None,
    pip_dependency_groups: list[str] | None = None,
    pip_packages: list[str] | None = None,
) -> Any:
    """Mark ``fn`` to run as a Fray job: ``@remote``, ``@remote(resources=...)`` or ``remote(fn, resources=...)``.
    Without ``resources``: 1 CPU, 4g of RAM, 16g of disk (marin_exec's default; Marin's ``with_cpu()`` asks 64g of
    disk, more than Iris's in-process test cluster offers)."""
    if resources is None:
        from marin_exec.runtime.fray_job import default_resources

        resources = default_resources("remote()")

    def wrap(f: Callable[..., Any]) -> RemoteCallable:
        return RemoteCallable(
            fn=f,
            resources=resources,
            env_vars=dict(env_vars or {}),
            pip_dependency_groups=pip_dependency_groups,
            pip_packages=pip_packages,
            name=name,
        )

    return wrap if fn is None else wrap(fn)
