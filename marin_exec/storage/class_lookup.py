"""The class a record's ``result_type`` (``module.Qualname``, a nested class's too) names, looked up by name only
(nothing is unpickled), and only where looking cannot run code nobody asked for.

A record is data, often from a shared store: the module it names is imported only when that is safe and expected:

- a module this process already imported is looked in (no import);
- else its module is imported only when its top-level package is already imported here (a submodule of a package
  in use) or is an installed distribution's package (``marin`` of marin-core: a record Marin wrote for one of its
  classes loads as that class wherever Marin is installed);
- anything else (a script, a module on ``sys.path`` that no installed package owns, the standard library's
  ``this``/``antigravity``) is not imported: the caller returns plain data and says to import the module first or to
  load with an explicit class.

An import that fails, whatever it raises (``SystemExit`` too; ``KeyboardInterrupt`` passes), is remembered per name
and not retried. ``__main__`` is this process's script, not necessarily the one that built the output: the caller
checks that such a class's fields cover the record's (``fields_cover``).
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any

_FAILED: dict[str, str] = {}  # result_type -> why its import failed: each import is tried once per process
_INSTALLED: set[str] = set()  # top-level packages of installed distributions, read once (only when needed)
_LOCK = threading.Lock()


def find_class(result_type: str, accept: Callable[[Any], bool]) -> tuple[type | None, str]:
    """The class named ``result_type`` if ``accept`` takes it, else None and why not, in words."""
    if "<locals>" in result_type:
        return None, "it was defined inside a function, so it cannot be found by name"
    parts = result_type.split(".")
    missing = ""
    for cut in range(len(parts) - 1, 0, -1):  # the longest module path first: a class may be nested in a class
        module = sys.modules.get(".".join(parts[:cut]))
        if module is not None:
            found = _attribute(module, parts[cut:])
            if found is not None:
                return _verdict(found, result_type, accept)
            missing = missing or _missing(parts, cut)
    why = _FAILED.get(result_type)
    if why is None and not _may_import(parts[0]):
        why = missing or (
            f"{parts[0]} is neither imported here nor an installed package, so it is not imported because a record "
            "names it"
        )
        return None, why
    if why is None:
        found, why = _import(parts)
        if found is not None:
            return _verdict(found, result_type, accept)
        with _LOCK:
            _FAILED[result_type] = why
    return None, why


def fields_cover(cls: type, result: Any) -> bool:
    """Whether ``cls`` declares every field of a record's ``result`` (a plain dict, ``path`` aside)."""
    declared = set(getattr(cls, "model_fields", {}))
    return not isinstance(result, Mapping) or set(result) - {"path"} <= declared


def _attribute(module: Any, names: list[str]) -> Any:
    found = module
    for name in names:
        found = getattr(found, name, None)
    return found


def _missing(parts: list[str], cut: int) -> str:
    module, rest = ".".join(parts[:cut]), ".".join(parts[cut:])
    if module == "__main__":
        return f"this process's script (__main__) has no {rest}: it was defined in the script that built the output"
    return f"{module} has no {rest} (renamed or removed?)"


def _verdict(found: Any, result_type: str, accept: Callable[[Any], bool]) -> tuple[type | None, str]:
    if not accept(found) or f"{found.__module__}.{found.__qualname__}" != result_type:
        return None, f"{result_type} is not a subclass of Marin's Artifact here"
    return found, ""


def _may_import(top: str) -> bool:
    if top in sys.modules:
        return True
    if not _INSTALLED:
        from importlib.metadata import packages_distributions

        with _LOCK:
            _INSTALLED.update(packages_distributions())
            _INSTALLED.add("")  # read: never again, even when nothing is installed
    return top in _INSTALLED


def _import(parts: list[str]) -> tuple[Any, str]:
    for cut in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name is not None and (module_name + ".").startswith(error.name + "."):
                continue  # this module (or its package) does not exist: try a shorter module path
            return None, f"importing {module_name} failed: {type(error).__name__}: {error}"
        except KeyboardInterrupt:
            raise
        except BaseException as error:  # its code failed, or exited (SystemExit): never past the loader
            return None, f"importing {module_name} failed: {type(error).__name__}: {error}"
        found = _attribute(module, parts[cut:])
        return (found, "") if found is not None else (None, _missing(parts, cut))
    return None, f"no module of {'.'.join(parts)} can be imported (ModuleNotFoundError)"
