"""Names: the one ``module.qualname`` helper for functions, and the rule for step names (DESIGN §4): a step name is
a relative path, and any character a path can hold on local disk, GCS and S3 is allowed (``,``, ``:``, spaces...,
as Marin's ExecutorSteps use them).

Shared bottom of the package (it imports only ``errors``). It does not hash, trace or touch storage.
"""

from __future__ import annotations

import functools
import inspect
import re
from typing import Any

from marin_exec.errors import StepDefinitionError

# Not a path anywhere: NUL (POSIX), CR and LF (GCS object names), the other C0 controls and DEL (not representable in
# S3's XML listings). Everything else, in valid UTF-8, is stored and listed as written by all three backends.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


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
    """Reject names that cannot be a clean relative path under every prefix (DESIGN §4)."""
    problem = None
    if not isinstance(name, str) or not name:
        problem = "it is empty"
    elif name.startswith("/"):
        problem = "it is an absolute path"
    elif _CONTROL.search(name):
        bad = sorted({c for c in name if _CONTROL.match(c)})
        problem = f"it contains control characters {''.join(bad)!r}, which no object store or file system keeps"
    elif not _is_utf8(name):
        problem = "it is not valid Unicode text (a lone surrogate), so it has no UTF-8 path"
    elif any(segment == "" for segment in name.split("/")):
        problem = "it has an empty path segment ('//' or a trailing '/')"
    elif any(segment in ("..", ".") for segment in name.split("/")):
        problem = "it has a '.' or '..' segment"
    if problem:
        raise StepDefinitionError(
            f"step name {name!r} is invalid: {problem}. Step names are relative paths under the prefix, such as "
            "'tokenized/shakespeare' or 'sweep/lr=3e-4,wd=0.1': no leading '/', no empty, '.' or '..' segments, no "
            "control characters."
        )


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
