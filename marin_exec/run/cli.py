"""``executor_main``: the command line around trace → compile → run (DESIGN §3 CLI).

It parses ``sys.argv`` at call time (``run.flags``), compiles the traced steps, and either prints the dry-run plan or
runs the plan, writing the run-level files (``run.run_files``) and printing a ``Summary:`` whether or not a step
failed. A ``MarinExecError`` becomes one clean message on stderr and exit status 1 (a tracing error: the user's
frames and the message), with the rerun command only where a rerun can help; programmatic callers who want the
exception call ``run_executor``. Ctrl-C and SIGTERM are handled here (``run.interrupts``: exit 130 / 143), and only
here: ``run_executor`` changes no signal handling. This is the only module that configures logging. It does not
schedule, lock or write step outputs: the runner and the steps do. What only a run, a dry run or an error needs
(flags, signals, rendering, run files, the progress display) is imported where it is used: ``import marin_exec``
stays fast.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from marin_exec.compile.compiler import GroupView, compile_graph
from marin_exec.compile.step_spec import StepSpec
from marin_exec.errors import MarinExecError, MissingPrefixError, StepsFailed
from marin_exec.named_versions import run_versions
from marin_exec.run.log_setup import configure_logging
from marin_exec.run.run_report import RunReport
from marin_exec.run.runner import StepRunner
from marin_exec.run.stop import RunStop, StopLevel
from marin_exec.settings import DEFAULT_PROGRESS_INTERVAL, run_settings
from marin_exec.trace.context import gc_paused, nothing_frozen_by_caller

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class ExecutorMainConfig:
    """Flags of every experiment script (``python experiments/x.py --help``)."""

    prefix: str | None = None  # where outputs go (local dir, gs://..., s3://...); default $MARIN_PREFIX
    executor_info_base_path: str | None = None  # run-level info JSON; default {prefix}/experiments
    dry_run: bool = False  # print the plan with each step's status; run and write nothing (bare --dry_run: true)
    force_run_failed: bool = True  # rerun steps whose status is FAILED (false: refuse them, and what needs them)
    run_only: list[str] | None = None  # regexes on step names: run the matches and what they need
    force_rerun: list[str] | None = None  # regexes on step names: rerun these done steps and all downstream of them
    max_concurrent: int = 8  # steps running at once in this process
    heartbeat_interval: float | None = None  # seconds between lease refreshes (unset: 30)
    lease_timeout: float | None = None  # seconds without a heartbeat before a lease is stale (unset: 90)
    clock_skew_allowance: float | None = None  # a lease written longer ago than timeout + this is stale (unset: 300)
    store_retry_timeout: float | None = None  # seconds a gs://, s3:// request is retried (unset: 60, at most lease)
    plan: str | None = None  # with --dry_run true: print the plan as json, mermaid or dot on stdout
    progress_interval: float = DEFAULT_PROGRESS_INTERVAL  # seconds between status lines when stderr is not a terminal
    version: str | None = None  # the version of steps with version=RUN_VERSION (YYYY.MM.DD or dev)
    override: list[str] | None = None  # NAME=VERSION for one deferring step (repeatable); wins over --version


@dataclasses.dataclass(frozen=True)
class CompiledSteps:
    """What the runner and the renderer need: the specs in plan order and the groups for display."""

    specs: list[StepSpec]
    groups: list[GroupView]


def executor_main(
    steps_or_config: Any = None,
    /,
    description: str | None = None,
    config: ExecutorMainConfig | None = None,
    max_concurrent: int | None = None,
    *,
    steps: Sequence[Any] | Callable[[], Any] | None = None,
) -> None:
    """Run ``steps`` (StepRefs from @step calls, or StepSpecs; first or by keyword) as a command-line program.

    ``steps`` may also be the entry point (a function of no arguments returning StepRefs or StepSpecs), traced here:
    its errors show the user's frames only (as JAX does), exit status 1. Marin's spellings work too (``marin_call``),
    the config first included: ``executor_main(config, steps)`` and ``executor_main(config, steps=steps)``.
    """
    from marin_exec.run.flags import refuse_unsafe_flags
    from marin_exec.run.interrupts import Interrupts, StopNow
    from marin_exec.run.main_errors import print_error, trace_entry
    from marin_exec.run.run_files import continue_command

    steps, description, config = _positional(steps_or_config, steps, description, config)
    if max_concurrent is not None or type(steps).__name__ == "ExecutorMainConfig":  # Marin's spelling
        from marin_exec.trace.foreign import main_call

        steps, description, config = main_call(steps, description, config, max_concurrent, ExecutorMainConfig)
    if config is None:
        config = parse_args(sys.argv[1:])
    refuse_unsafe_flags(config)  # one line, exit 2, before anything runs
    if config.plan is not None:  # a usage error: one line, exit 2
        from marin_exec.run.export import plan_flag_problem
        from marin_exec.run.flags import usage_error

        if (problem := plan_flag_problem(config.plan, config.dry_run)) is not None:
            usage_error("--plan", problem)
    configure_logging()
    report: RunReport | None = None
    with Interrupts() as interrupts:
        try:
            if callable(steps):
                steps = trace_entry(steps)
            report = run_executor(steps, config, description=description, stop=interrupts.stop)
        except MarinExecError as e:
            report = getattr(e, "report", None)  # a failed run's report: how to continue it
            print_error(e)
            if interrupts.exit_code is None:
                sys.exit(getattr(e, "exit_code", 1))
        except StopNow:
            pass
        except KeyboardInterrupt:  # a Ctrl-C while no step could be running: tracing, compiling, printing
            print("Ctrl-C: stopped while no step was running.", file=sys.stderr)
            sys.exit(130)
        if interrupts.stop.level == StopLevel.NOW:
            interrupts.abandon(report)  # does not return
    if interrupts.exit_code is not None:  # the first Ctrl-C: the running steps have ended
        print(f"Ctrl-C: stopped; to continue: {continue_command(report)}", file=sys.stderr)
        sys.exit(interrupts.exit_code)


def _positional(first: Any, steps: Any, description: Any, config: Any) -> tuple[Any, Any, Any]:
    """(steps, description, config) as if all were given by position: the steps keyword after a config given first
    (Marin's ``executor_main(config, steps=...)``) takes the place it has in ``executor_main(config, steps)``."""
    if steps is None:
        if first is None:
            raise TypeError("executor_main() needs the steps to run: executor_main(steps=[entry()])")
        return first, description, config
    if first is None:
        return steps, description, config
    if type(first).__name__ != "ExecutorMainConfig":
        raise TypeError("executor_main() got the steps twice (first and as steps=...); pass them once")
    if config is not None:
        raise TypeError("executor_main() got two configs (first and as config=...); pass one")
    return first, steps, description


def parse_args(argv: Sequence[str], config_class: type[Any] = ExecutorMainConfig) -> Any:
    """The flags in ``argv`` (``run.flags``: bare booleans, a single regex, one-line usage errors with exit 2)."""
    from marin_exec.run.flags import parse_flags

    return parse_flags(argv, config_class)


def parse_experiment_args(
    experiment_class: type[Any], argv: Sequence[str] | None = None
) -> tuple[Any, ExecutorMainConfig]:
    """Parse an experiment's own flags and the executor's from one command line.

    ``experiment_class`` is a dataclass of hyperparameters (``--smoothing 0.5``); its field names must not clash
    with ``ExecutorMainConfig``'s. A field without a default is a required flag; each field's comment is its help.
    Returns ``(experiment_config, executor_config)`` for ``executor_main(config=...)``.
    """
    executor_fields = {f.name for f in dataclasses.fields(ExecutorMainConfig)}
    # An experiment's own ``version`` field is shared: it gets --version, which is also the run's version.
    clash = executor_fields & {f.name for f in dataclasses.fields(experiment_class)} - {"version"}
    if clash:
        raise MarinExecError(
            f"{experiment_class.__name__} has fields named like executor flags: {sorted(clash)}; rename them"
        )
    from marin_exec.run.flags import merged_flags_class

    doc = f"{experiment_class.__name__}'s fields (the last flags) and the executor's."
    flags_class = merged_flags_class((ExecutorMainConfig, experiment_class), f"{experiment_class.__name__}Flags", doc)
    flags = parse_args(sys.argv[1:] if argv is None else argv, flags_class)
    values = dataclasses.asdict(flags)
    shared = {"version"} & {f.name for f in dataclasses.fields(experiment_class)}
    executor = ExecutorMainConfig(**{k: v for k, v in values.items() if k in executor_fields})
    if shared and executor.version is not None:
        executor.version = str(executor.version)
    experiment = experiment_class(**{k: getattr(flags, k) for k in values if k not in executor_fields - shared})
    return experiment, executor


def run_executor(
    steps: Sequence[Any], config: ExecutorMainConfig, description: str | None = None, *, stop: RunStop | None = None
) -> RunReport:
    """Compile and run (or dry-run) ``steps``; raises MarinExecError subclasses such as StepsFailed.

    It changes no signal handling: ``stop`` lets the caller end the run early from another thread (``run.stop``).
    """
    prefix = config.prefix or os.environ.get("MARIN_PREFIX")
    if not prefix:
        raise MissingPrefixError(
            "no output prefix: pass --prefix /path/or/gs://bucket/dir or set the MARIN_PREFIX environment variable"
        )
    if "://" not in prefix:  # recorded as an absolute path (.executor_info, run records); shown relative to cwd
        prefix = os.path.abspath(prefix)
    prefix = prefix.rstrip("/")
    timings = {name: getattr(config, name) for name in ("store_retry_timeout", "lease_timeout", "heartbeat_interval")}
    retrying = run_settings(**timings)  # judged together: a lease timeout alone may not fit the default heartbeat
    with _prefix_env(prefix), _gc_paused_for_run(), retrying:  # StepSpecs without output_path_prefix take --prefix
        return _run_compiled(steps, config, prefix, description, stop)


@contextlib.contextmanager
def _gc_paused_for_run() -> Iterator[None]:
    """Freeze the compiled plan for the run (see ``_compile_without_gc``), and leave the GC as it was found.

    A caller that froze objects itself keeps managing its own freezing: nothing is frozen or unfrozen then.
    """
    ours = nothing_frozen_by_caller()
    try:
        yield
    finally:
        if ours:
            gc.unfreeze()


@contextlib.contextmanager
def _prefix_env(prefix: str) -> Iterator[None]:
    previous = os.environ.get("MARIN_PREFIX")
    os.environ["MARIN_PREFIX"] = prefix
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("MARIN_PREFIX", None)
        else:
            os.environ["MARIN_PREFIX"] = previous


def _run_compiled(
    steps: Sequence[Any], config: ExecutorMainConfig, prefix: str, description: str | None, stop: RunStop | None
) -> RunReport:
    from marin_exec.progress import reporting_to
    from marin_exec.progress_display import Progress
    from marin_exec.run.export import plan_entries, plan_flag_problem, render_export
    from marin_exec.run.force_rerun import clear_forced, forced_steps, show_forced
    from marin_exec.run.recipe_drift import refuse_pinned_drift
    from marin_exec.run.render import render_plan, render_summary, shown_path
    from marin_exec.run.run_files import warn_if_unwritable, write_run_info, write_run_record
    from marin_exec.run.run_versions import refuse_unused_overrides, resolved_versions, versions_of
    from marin_exec.run.summary import run_record, step_results

    with run_versions(versions_of(config)) as versions:
        compiled = _compile_without_gc(steps, prefix)
    refuse_unused_overrides(versions)
    refuse_pinned_drift(compiled.specs)
    runner = StepRunner()
    options: dict[str, Any] = dict(
        force_run_failed=config.force_run_failed,
        max_concurrent=config.max_concurrent,
        run_only=config.run_only,
        heartbeat_interval=config.heartbeat_interval,
        lease_timeout=config.lease_timeout,
        clock_skew_allowance=config.clock_skew_allowance,
    )
    if config.plan is not None and (problem := plan_flag_problem(config.plan, config.dry_run)) is not None:
        raise MarinExecError(f"--plan: {problem}")
    # dev versions rebuild every run: looked for only when the plan has named steps (an attribute read per step)
    rebuilt = config.force_rerun or any(spec.named_version is not None for spec in compiled.specs)
    forced = forced_steps(compiled.specs, config.force_rerun or [], config.run_only) if rebuilt else []
    options["rebuild"] = {spec.output_path for spec, _ in forced}  # the walk reaches what they need
    if config.dry_run:
        warn_if_unwritable(prefix)
        plan = runner.run(compiled.specs, dry_run=True, **options)
        show_forced(plan, forced)
        if config.plan is not None:
            why = {path: f"{o.reason}; {o.drift}" for path, o in plan.outcomes.items() if o.drift}
            print(render_export(plan_entries(plan, why), config.plan, prefix=prefix, description=description))
        else:
            print(render_plan(plan, prefix=prefix, groups=compiled.groups, description=description))
            print(resolved_versions(compiled.specs), end="")
        return plan
    base = (config.executor_info_base_path or f"{prefix}/experiments").rstrip("/")
    info_path = write_run_info(compiled.specs, base, prefix, description)
    logger.info(f"running {len(compiled.specs)} step(s) under {shown_path(prefix)}; run info: {shown_path(info_path)}")
    started = time.time()
    report: RunReport | None = None
    progress = Progress(prefix=prefix, interval=config.progress_interval)
    try:
        with run_settings(lease_timeout=config.lease_timeout, heartbeat_interval=config.heartbeat_interval):
            clear_forced(forced)
        with progress, reporting_to(progress):
            report = runner.run(compiled.specs, stop=stop, **options)
        print(render_summary(report))
        return report
    except StepsFailed as failed:
        report = failed.report
        print(render_summary(report))
        raise
    finally:
        if report is not None:
            rows = run_record(step_results(report))
            path = write_run_record(compiled.specs, base, description=description, started=started, steps=rows)
            logger.info(f"run record: {shown_path(path)}")


def _compile_without_gc(steps: Sequence[Any], prefix: str) -> CompiledSteps:
    """Compile with the cyclic GC paused, then freeze what exists: the plan lives as long as the run.

    Without this, the collector's full passes re-scan the growing graph and a 10,000-step plan compiles and runs
    super-linearly (benchmarks/README.md). Process-wide, so it lives here in the CLI, which owns the process.
    """
    with gc_paused():
        compiled = compile_steps(steps, prefix)
        if nothing_frozen_by_caller():  # unfrozen again by _gc_paused_for_run when the run ends
            gc.freeze()  # before the collector is back: its first pass would scan the whole plan once more
    return compiled


def compile_steps(steps: Sequence[Any], prefix: str) -> CompiledSteps:
    """StepSpecs pass through; StepRefs from tracing go through the compiler; foreign steps (ExecutorSteps) are
    lowered to StepRefs first, through the one door for them (``trace.foreign``)."""
    from marin_exec.trace.foreign import lower_steps, lowering_scope
    from marin_exec.trace.step_ref import StepRef

    with lowering_scope():  # a lazy handle given here and also met in a @step config is one StepSpec
        steps = lower_steps(steps, lambda s: isinstance(s, StepSpec | StepRef))
        specs = [s for s in steps if isinstance(s, StepSpec)]
        refs = [s for s in steps if not isinstance(s, StepSpec)]
        groups: list[GroupView] = []
        if refs:
            plan = compile_graph(refs, prefix=prefix)
            specs = list({id(s): s for s in [*plan.specs, *specs]}.values())
            groups = list(plan.group_views())
    return CompiledSteps(specs=specs, groups=groups)
