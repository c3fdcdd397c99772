"""marin_exec: trace ML pipelines into content-addressed steps and run each exactly once.

Most public names load on first use (``extras.OWN_EXPORTS``): ``import marin_exec`` alone loads neither the
compiler nor the runner nor the CLI, and ``from marin_exec import StepSpec`` loads what ``StepSpec`` needs. The
imports under ``TYPE_CHECKING`` are the same names for type checkers and readers; ``trace`` stays a plain import
because the subpackage ``marin_exec.trace``, once any of its modules is imported, would otherwise shadow it.
"""

from typing import TYPE_CHECKING

from marin_exec.errors import (
    CycleError,
    FingerprintMismatchError,
    LeaseLostError,
    MarinExecError,
    MissingPrefixError,
    PathCollisionError,
    PreviousStepFailed,
    RemoteStepFailed,
    StepAlreadyDone,
    StepDefinitionError,
    StepsFailed,
    TracingError,
    VersioningError,
)
from marin_exec.extras import __getattr__ as __getattr__
from marin_exec.trace.graph import DeferredCall, Graph, output, trace

if TYPE_CHECKING:
    from marin_exec.compile.compiler import Plan, compile_graph
    from marin_exec.compile.step_spec import StepSpec
    from marin_exec.named_versions import RUN_VERSION
    from marin_exec.run.cli import ExecutorMainConfig, executor_main, parse_experiment_args, run_executor
    from marin_exec.run.run_report import RunReport
    from marin_exec.run.runner import StepRunner
    from marin_exec.runtime.disk_cache import disk_cached
    from marin_exec.runtime.distributed_lock import distributed_lock
    from marin_exec.runtime.remote import RemoteCallable, remote
    from marin_exec.settings import RunSettings, current_run_settings, run_settings
    from marin_exec.status.status import (
        STATUS_DEP_FAILED,
        STATUS_FAILED,
        STATUS_RUNNING,
        STATUS_SUCCESS,
        Lease,
        StatusFile,
        worker_id,
    )
    from marin_exec.storage.artifact import Artifact
    from marin_exec.trace.adopt import adopt
    from marin_exec.trace.markers import runtime_arg, versioned
    from marin_exec.trace.step import deferred, step
    from marin_exec.trace.step_ref import StepRef

__all__ = [
    "RUN_VERSION",
    "STATUS_DEP_FAILED",
    "STATUS_FAILED",
    "STATUS_RUNNING",
    "STATUS_SUCCESS",
    "Artifact",
    "CycleError",
    "DeferredCall",
    "ExecutorMainConfig",
    "FingerprintMismatchError",
    "Graph",
    "Lease",
    "LeaseLostError",
    "MarinExecError",
    "MissingPrefixError",
    "PathCollisionError",
    "Plan",
    "PreviousStepFailed",
    "RemoteCallable",
    "RemoteStepFailed",
    "ResourceConfig",
    "RunReport",
    "RunSettings",
    "StatusFile",
    "StepAlreadyDone",
    "StepDefinitionError",
    "StepRef",
    "StepRunner",
    "StepSpec",
    "StepsFailed",
    "TracingError",
    "VersioningError",
    "adopt",
    "compile_graph",
    "current_run_settings",
    "deferred",
    "disk_cached",
    "distributed_lock",
    "executor_main",
    "output",
    "parse_experiment_args",
    "remote",
    "run_executor",
    "run_settings",
    "runtime_arg",
    "step",
    "trace",
    "versioned",
    "worker_id",
]
