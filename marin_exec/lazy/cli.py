"""Drop-ins for ``marin.experiment.cli`` (marin-core 0.2.227): ``build_options``, ``build_options_with_runner``,
``experiment_main``, with Marin's click options ``--version`` (required), ``--override NAME=VERSION`` (repeatable),
``--run`` and ``--max-concurrent``.

The experiment's handles are built inside a ``BuildContext`` made from the options, and inside Marin's own build
context too when Marin is installed (Marin's builders read theirs). Without ``--run`` the plan is marin_exec's dry run
(each step's status and why it will run or is done, then "Resolved versions"); with it the handles are built by
marin_exec (``lowering.run``) or by the runner given. Needs click (imported here, with a one-line error when absent).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from marin_exec.lazy.build_context import BuildContext, VersionCodex, build_context
from marin_exec.lazy.requires import require
from marin_exec.lazy.shapes import is_lazy_handle

click = require("click", "click", "the experiment command line (build_options)")

BuildRunner = Callable[[list[Any], int], None]


def _check_version(value: str) -> str | None:
    from marin_exec.named_versions import version_problem

    return version_problem(value)


def _version_option(ctx: Any, param: Any, value: str) -> str:
    problem = _check_version(value)
    if problem is not None:
        raise click.BadParameter(problem, ctx=ctx, param=param)
    return value


def _override_option(ctx: Any, param: Any, value: tuple[str, ...]) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for item in value:
        name, eq, version = item.partition("=")
        if not eq or not name:
            raise click.BadParameter(f"{item!r}: write NAME=VERSION", ctx=ctx, param=param)
        if name in overrides:
            raise click.BadParameter(f"{name!r} is overridden twice", ctx=ctx, param=param)
        problem = _check_version(version)
        if problem is not None:
            raise click.BadParameter(f"override {name!r}: {problem}", ctx=ctx, param=param)
        overrides[name] = version
    return overrides


def as_handles(result: Any) -> list[Any]:
    """A ``build()`` result (a handle, a list or tuple of them, or a mapping to them) as a list of handles."""
    if is_lazy_handle(result):
        return [result]
    if isinstance(result, Mapping):
        return list(result.values())
    if isinstance(result, (list, tuple)):
        return list(result)
    raise TypeError(
        f"build() returned a {type(result).__name__}: return an ArtifactStep, a list or tuple of them, "
        "or a mapping of names to them"
    )


@contextlib.contextmanager
def _marin_context(default: str, overrides: dict[str, str]) -> Iterator[Any]:
    """Marin's own build context, when Marin is installed (its builders resolve versions from it); else nothing."""
    if importlib.util.find_spec("marin") is None or importlib.util.find_spec("marin.execution.build_context") is None:
        yield None
        return
    marin = importlib.import_module("marin.execution.build_context")
    codex = marin.VersionCodex(default=default, overrides=overrides)
    with marin.build_context(marin.BuildContext(versions=codex)):
        yield codex


def print_plan(handles: list[Any]) -> None:
    """marin_exec's dry run of the handles: statuses, why-lines, then "Resolved versions" (mutable ones flagged)."""
    from marin_exec.lazy.lowering import _prefix, lower_handles
    from marin_exec.lazy.shapes import graph_handles
    from marin_exec.run.cli import ExecutorMainConfig, run_executor

    every = lower_handles(graph_handles(handles))  # every handle, so each is in "Resolved versions"
    run_executor(every, ExecutorMainConfig(prefix=_prefix(), dry_run=True))


def run_here(handles: list[Any], max_concurrent: int) -> None:
    from marin_exec.lazy.lowering import run

    run(*handles, max_concurrent=max_concurrent)


def build_options_with_runner(fn: Callable[..., Any], runner: BuildRunner) -> Callable[..., None]:
    """Marin's options on ``fn`` (which returns the experiment's handles); ``--run`` hands them to ``runner``."""

    @click.option(
        "--version",
        "default_version",
        required=True,
        callback=_version_option,
        help="Version of every artifact that defers its own (YYYY.MM.DD, or dev while iterating).",
    )
    @click.option(
        "--override",
        "overrides",
        multiple=True,
        metavar="NAME=VERSION",
        callback=_override_option,
        help="The version of one artifact, by name (repeatable).",
    )
    @click.option("--run", "do_run", is_flag=True, help="Build the artifacts (default: print the plan).")
    @click.option("--max-concurrent", type=int, default=8, show_default=True, help="Steps built at once.")
    @functools.wraps(fn)
    def wrapper(
        *args: Any, default_version: str, overrides: dict[str, str], do_run: bool, max_concurrent: int, **kwargs: Any
    ) -> None:
        codex = VersionCodex(default=default_version, overrides=overrides)
        with build_context(BuildContext(versions=codex)), _marin_context(default_version, overrides) as marin:
            handles = as_handles(fn(*args, **kwargs))
        unused = codex.unused_overrides()
        if marin is not None:
            unused &= marin.unused_overrides()
        if unused:
            raise click.BadParameter(
                f"applies to no artifact: {sorted(unused)}; check the name, or whether that artifact gives its own "
                "version (an explicit version wins)",
                param_hint="--override",
            )
        if do_run:
            runner(handles, max_concurrent)
        else:
            print_plan(handles)

    return wrapper


def build_options(fn: Callable[..., Any]) -> Callable[..., None]:
    """Marin's ``build_options``: ``--run`` builds the handles on marin_exec."""
    return build_options_with_runner(fn, run_here)


def experiment_main(build: Callable[[], Any]) -> Callable[..., None]:
    """A ready click command for an experiment without options of its own: ``experiment_main(build)()``."""
    return click.command()(build_options(build))
