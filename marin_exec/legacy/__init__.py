"""Marin's ExecutorStep API on marin_exec: old experiments run unchanged and mix with ``@step`` pipelines.

Import from here what ``marin.execution`` offered (``ExecutorStep``, ``InputName``, ``output_path_of``,
``this_output_path``, ``THIS_OUTPUT_PATH``, ``versioned``, ``mirrored``, ``Executor``...). ``executor_main`` and
``run_executor`` from ``marin_exec`` accept these steps, Marin's own objects, StepRefs and StepSpecs in one list.
``import marin_exec`` never imports this package.
"""

from marin_exec.legacy.executor import Executor, ExecutorRunFailed
from marin_exec.legacy.instantiate import collect_dependencies_and_version, instantiate_config
from marin_exec.legacy.types import (
    THIS_OUTPUT_PATH,
    ExecutorStep,
    InputName,
    LegacyValueError,
    MirroredValue,
    OutputName,
    VersionedValue,
    ensure_versioned,
    get_executor_step,
    mirrored,
    output_path_of,
    this_output_path,
    unwrap_versioned_value,
    versioned,
)
from marin_exec.run.cli import executor_main, run_executor

__all__ = [
    "THIS_OUTPUT_PATH",
    "Executor",
    "ExecutorRunFailed",
    "ExecutorStep",
    "InputName",
    "LegacyValueError",
    "MirroredValue",
    "OutputName",
    "VersionedValue",
    "collect_dependencies_and_version",
    "ensure_versioned",
    "executor_main",
    "get_executor_step",
    "instantiate_config",
    "mirrored",
    "output_path_of",
    "run_executor",
    "this_output_path",
    "unwrap_versioned_value",
    "versioned",
]
