"""Binding a call's arguments to a function's parameters, as ``inspect.Signature.bind`` does, but fast.

Tracing binds every step call twice (to fill its name's placeholders, and to find where its config walk starts):
``Signature.bind`` cost ~20 µs a call, a third of tracing a 10,000-step sweep. Signatures whose parameters are all
positional-or-keyword or keyword-only (nearly every step and library function) are bound here with plain dict
operations; anything else, and every call that does not fit, goes to ``inspect`` (which also words the error).
The result is ``BoundArguments.arguments``: the given arguments in signature order. It does not call anything.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

_SIMPLE_KINDS = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def signature_of(fn: Callable[..., Any]) -> inspect.Signature:
    """``inspect.signature(fn)``, cached for hashable callables; ValueError when there is none."""
    try:
        return _cached_signature(fn)
    except TypeError:  # an unhashable callable object
        return inspect.signature(fn)


@functools.lru_cache(maxsize=4096)
def _cached_signature(fn: Callable[..., Any]) -> inspect.Signature:
    return inspect.signature(fn)


def bind(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], *, defaults: bool = False
) -> dict[str, Any]:
    """The arguments of ``fn(*args, **kwargs)`` by parameter name in signature order (with ``defaults``, unpassed
    ones with their defaults). TypeError, worded by ``inspect``, when the call does not fit; ValueError when ``fn``
    has no signature."""
    try:
        shape = _shape(fn)
    except TypeError:  # an unhashable callable object
        shape = _shape.__wrapped__(fn)
    if shape is not None and len(args) <= shape[1]:
        names, _, accepted, required, given_defaults = shape
        got = dict(zip(names, args, strict=False))  # the first len(args) names
        fits = not kwargs or (accepted.issuperset(kwargs) and got.keys().isdisjoint(kwargs))
        if fits:
            got.update(kwargs)
            if required.issubset(got):
                if defaults:
                    return {name: got[name] if name in got else given_defaults[name] for name in names}
                return got if not kwargs else {name: got[name] for name in names if name in got}
    bound = signature_of(fn).bind(*args, **kwargs)
    if defaults:
        bound.apply_defaults()
    return dict(bound.arguments)


_Shape = tuple[tuple[str, ...], int, frozenset[str], frozenset[str], dict[str, Any]]


@functools.lru_cache(maxsize=4096)
def _shape(fn: Callable[..., Any]) -> _Shape | None:
    """(names in order, how many may be passed by position, all names, required names, defaults by name), or None
    when a parameter is positional-only or variadic."""
    params = list(signature_of(fn).parameters.values())
    if any(p.kind not in _SIMPLE_KINDS for p in params):
        return None
    positional = sum(1 for p in params if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = frozenset(p.name for p in params if p.default is inspect.Parameter.empty)
    given_defaults = {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}
    names = tuple(p.name for p in params)
    return names, positional, frozenset(names), required, given_defaults
