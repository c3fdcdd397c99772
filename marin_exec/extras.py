"""What comes with an optional install (``marin_exec[fray]``, ``marin_exec[s3]``): importing it, with a one-line
error naming the extra when it is missing, and ``marin_exec.ResourceConfig`` (Fray's), loaded on first use; and the
package's own public names that load on first use (``OWN_EXPORTS``).

``import marin_exec`` imports none of these packages: the package's ``__getattr__`` is this module's, so the first
``marin_exec.ResourceConfig`` imports Fray. This module does not install anything.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import Any

# Public names of marin_exec that live in an optional package: name -> (module, attribute, extra).
LAZY_EXPORTS: dict[str, tuple[str, str, str]] = {
    "ResourceConfig": ("fray.types", "ResourceConfig", "fray"),
}


# Public names of marin_exec served from its own modules on first use: name -> module. ``import marin_exec`` alone
# then loads none of the compiler, runner, CLI or store modules (~45 ms of imports, more where bytecode is not
# cached); a program that uses a name pays for its module then. The package's ``TYPE_CHECKING`` imports list the same
# names (tests/test_layout.py checks both agree).
OWN_EXPORTS: dict[str, str] = {
    "Plan": "marin_exec.compile.compiler",
    "compile_graph": "marin_exec.compile.compiler",
    "StepSpec": "marin_exec.compile.step_spec",
    "RUN_VERSION": "marin_exec.named_versions",
    **dict.fromkeys(
        ("ExecutorMainConfig", "executor_main", "parse_experiment_args", "run_executor"), "marin_exec.run.cli"
    ),
    "RunReport": "marin_exec.run.run_report",
    "StepRunner": "marin_exec.run.runner",
    "disk_cached": "marin_exec.runtime.disk_cache",
    "distributed_lock": "marin_exec.runtime.distributed_lock",
    "RemoteCallable": "marin_exec.runtime.remote",
    "remote": "marin_exec.runtime.remote",
    **dict.fromkeys(("RunSettings", "current_run_settings", "run_settings"), "marin_exec.settings"),
    **dict.fromkeys(
        ("STATUS_DEP_FAILED", "STATUS_FAILED", "STATUS_RUNNING", "STATUS_SUCCESS", "Lease", "StatusFile", "worker_id"),
        "marin_exec.status.status",
    ),
    "Artifact": "marin_exec.storage.artifact",
    "adopt": "marin_exec.trace.adopt",
    "runtime_arg": "marin_exec.trace.markers",
    "versioned": "marin_exec.trace.markers",
    "deferred": "marin_exec.trace.step",
    "step": "marin_exec.trace.step",
    "StepRef": "marin_exec.trace.step_ref",
}


class MissingExtraError(ImportError):
    """An optional package marin_exec needs for what was asked is not installed."""


def import_extra(module: str, *, extra: str, needed_for: str) -> ModuleType:
    """``import module``, or ``MissingExtraError`` saying ``pip install 'marin_exec[extra]'`` if its package is
    absent. A package that is installed but fails to import raises its own error."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        top = module.partition(".")[0]
        if error.name != top:  # the package is there; something in it or under it is not
            raise
        raise MissingExtraError(
            f"{needed_for} needs {top}, which is not installed: pip install 'marin_exec[{extra}]' and rerun"
        ) from None


def __getattr__(name: str) -> Any:  # the ``__getattr__`` of the marin_exec package (imported there)
    if name in OWN_EXPORTS:
        value = getattr(importlib.import_module(OWN_EXPORTS[name]), name)
    elif name in LAZY_EXPORTS:
        module, attribute, extra = LAZY_EXPORTS[name]
        value = getattr(import_extra(module, extra=extra, needed_for=f"marin_exec.{name}"), attribute)
    else:
        raise AttributeError(f"module 'marin_exec' has no attribute {name!r}")
    setattr(sys.modules["marin_exec"], name, value)  # later look-ups do not come here
    return value
