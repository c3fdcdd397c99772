"""Names: the one ``module.qualname`` helper for functions, and the rule for step names (DESIGN §4).

Shared bottom of the package (it imports only ``errors``). It does not hash, trace or touch storage.
"""

from __future__ import annotations

import functools
import inspect
import re
from typing import Any

from marin_exec.errors import StepDefinitionError

_NAME_CHARS = re.compile(r"^[A-Za-z0-9._/{}=+\-]+$")


def qualified_name(fn: Any, *, unwrap: bool = False) -> str:
    """``module.qualname`` of a function, looking through ``functools.partial`` (and, with ``unwrap``, through
    decorators that set ``__wrapped__``). A callable object without ``__qualname__`` is named by its type."""
    while True:
        if unwrap:
            fn = inspect.unwrap(fn)
        if not isinstance(fn, functools.partial):
            break
        fn = fn.func
    qualname = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    return f"{getattr(fn, '__module__', None) or '?'}.{qualname}"


def validate_step_name(name: str) -> None:
    """Reject names that are not clean relative paths (DESIGN §4)."""
    problem = None
    if not isinstance(name, str) or not name:
        problem = "it is empty"
    elif name.startswith("/"):
        problem = "it is an absolute path"
    elif not _NAME_CHARS.match(name):
        bad = sorted({c for c in name if not _NAME_CHARS.match(c)})
        problem = f"it contains characters outside [A-Za-z0-9._/{{}}=+-]: {''.join(bad)!r}"
    elif any(segment == "" for segment in name.split("/")):
        problem = "it has an empty path segment ('//' or a trailing '/')"
    elif any(segment in ("..", ".") for segment in name.split("/")):
        problem = "it has a '.' or '..' segment"
    if problem:
        raise StepDefinitionError(
            f"step name {name!r} is invalid: {problem}. Step names are relative paths under the prefix, such as "
            "'tokenized/shakespeare' (letters, digits and ._/{}=+- only)."
        )
