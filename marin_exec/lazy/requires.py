"""The optional packages ``marin_exec.lazy`` needs (pydantic for artifacts, click for the experiment CLI), imported
when first used with a one-line error naming what to install; they are not marin_exec's base dependencies."""

from __future__ import annotations

import importlib
from types import ModuleType


def require(module: str, package: str, what: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"marin_exec.lazy needs {package} for {what}: pip install '{package}' (or marin_exec[lazy])"
        ) from None
