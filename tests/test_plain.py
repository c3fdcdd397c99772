"""``plain.json_text``: the JSON text of ``.executor_info`` and artifacts is ``json.dumps(value, indent=2)``,
character for character (files stay as they were), for every kind of plain value and for values it hands on."""

from __future__ import annotations

import collections
import enum
import json
import math
import random
from typing import Any

import pytest

from marin_exec.plain import json_text


class Level(enum.IntEnum):
    LOW = 1


class Name(str):
    pass


EDGE_CASES: list[Any] = [
    None,
    True,
    0,
    -(10**30),
    0.1,
    -0.0,
    1e300,
    math.nan,
    math.inf,
    -math.inf,
    "",
    'quote " backslash \\ newline \n tab \t bell \x07 é 雪 \U0001f600',
    [],
    {},
    [[], {}, [[]], {"a": {}}],
    (1, "two", (3.0,)),
    {"a": [1, {"b": None, "c": [True, False]}], "d": {"e": {"f": {}}}},
    {1: "int key", 2.5: "float key", None: "None key", "s": "str key"},
    {True: "bool key", False: "bool key"},
    {Name("sub"): Name("str subclass"), Level.LOW: Level.LOW},
    collections.OrderedDict([("z", 1), ("a", [collections.OrderedDict(b=2)])]),
    [Level.LOW, {"nested": [Level.LOW, Name("x")]}],
]


@pytest.mark.parametrize("value", EDGE_CASES, ids=range(len(EDGE_CASES)))
def test_json_text_is_json_dumps_with_indent_two(value: Any) -> None:
    assert json_text(value) == json.dumps(value, indent=2)


@pytest.mark.parametrize("value", EDGE_CASES, ids=range(len(EDGE_CASES)))
def test_json_text_keeps_non_ascii_as_json_dumps_does_without_ensure_ascii(value: Any) -> None:
    assert json_text(value, ensure_ascii=False) == json.dumps(value, indent=2, ensure_ascii=False)


def _random_value(rng: random.Random, depth: int) -> Any:
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.randrange(-(10**12), 10**12)
    if kind == 2:
        return rng.choice([rng.uniform(-1e6, 1e6), rng.random() * 10 ** rng.randrange(-300, 300), 0.0])
    if kind in (3, 4, 5):
        return "".join(rng.choice('ab "\\\n\té雪\x00\U0001f600') for _ in range(rng.randrange(6)))
    if kind in (6, 7):
        return {f"k{i}": _random_value(rng, depth + 1) for i in range(rng.randrange(4))}
    return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]


def test_json_text_matches_json_dumps_on_random_plain_values() -> None:
    rng = random.Random(12)  # seeded: the same values on every run
    for _ in range(2000):
        value = _random_value(rng, 0)
        assert json_text(value) == json.dumps(value, indent=2)
        assert json_text(value, ensure_ascii=False) == json.dumps(value, indent=2, ensure_ascii=False)


@pytest.mark.parametrize("value", [{(1, 2): "tuple key"}, {"a": object()}, [{1, 2}]])
def test_json_text_refuses_what_json_dumps_refuses(value: Any) -> None:
    with pytest.raises(TypeError):
        json.dumps(value, indent=2)
    with pytest.raises(TypeError):
        json_text(value)
