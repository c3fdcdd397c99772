"""What comes with an optional install (``marin_exec[fray]``, ``marin_exec[s3]``): importing it, with a one-line
error naming the extra when it is missing, and ``marin_exec.ResourceConfig`` (Fray's), loaded on first use.

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
    if name not in LAZY_EXPORTS:
        raise AttributeError(f"module 'marin_exec' has no attribute {name!r}")
    module, attribute, extra = LAZY_EXPORTS[name]
    value = getattr(import_extra(module, extra=extra, needed_for=f"marin_exec.{name}"), attribute)
    setattr(sys.modules["marin_exec"], name, value)  # later look-ups do not come here
    return value
