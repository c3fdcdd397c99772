"""``trace.binding.bind`` answers exactly as ``inspect.Signature.bind`` does, for every kind of signature and call."""

from __future__ import annotations

import functools
import inspect
from typing import Any

import pytest

from marin_exec.trace.binding import bind


def plain(a, b, c=3):  # type: ignore[no-untyped-def]
    pass


def keyword_only(a, *, k, m=2):  # type: ignore[no-untyped-def]
    pass


def positional_only(a, /, b=1):  # type: ignore[no-untyped-def]
    pass


def variadic(a, *rest, **options):  # type: ignore[no-untyped-def]
    pass


class Callable:
    def __call__(self, x, y=0):  # type: ignore[no-untyped-def]
        pass

    __hash__ = None  # type: ignore[assignment]  # unhashable: not cached, still bound


FUNCTIONS = [plain, keyword_only, positional_only, variadic, functools.partial(plain, 1), Callable()]
CALLS: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
    ((), {}),
    ((1,), {}),
    ((1, 2), {}),
    ((1, 2, 3), {}),
    ((1, 2, 3, 4), {}),
    ((1,), {"b": 2}),
    ((1,), {"a": 2}),
    ((), {"a": 1, "b": 2}),
    ((), {"b": 2, "a": 1, "c": 5}),
    ((1,), {"k": 2}),
    ((1,), {"k": 2, "m": 3}),
    ((1,), {"zz": 1}),
    ((), {"x": 1}),
    ((1,), {"y": 2}),
]


def _inspect(fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any], defaults: bool) -> dict[str, Any] | str:
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
    except TypeError as e:
        return f"TypeError: {e}"
    if defaults:
        bound.apply_defaults()
    return dict(bound.arguments)


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: getattr(f, "__name__", type(f).__name__))
@pytest.mark.parametrize("defaults", [False, True])
def test_bind_gives_what_inspect_gives_in_the_same_order_or_the_same_error(fn: Any, defaults: bool) -> None:
    for args, kwargs in CALLS:
        expected = _inspect(fn, args, kwargs, defaults)
        try:
            got: dict[str, Any] | str = bind(fn, args, kwargs, defaults=defaults)
        except TypeError as e:
            got = f"TypeError: {e}"
        assert got == expected, (args, kwargs)
        if isinstance(got, dict):
            assert list(got) == list(expected), (args, kwargs)  # signature order, whatever the call's order
