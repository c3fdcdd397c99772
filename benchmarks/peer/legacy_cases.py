"""ExecutorStep graphs built with any API of Marin's shape, for golden comparisons between Marin's executor and
marin_exec.legacy.

`build_cases(api)` takes a namespace holding `ExecutorStep`, `InputName`, `output_path_of`, `this_output_path`,
`THIS_OUTPUT_PATH`, `versioned` and `mirrored` (Marin's `marin.execution`, `marin_exec.legacy`, or look-alike
classes in a test) and returns the same graphs built with it. `marin_legacy_golden.py` runs them through Marin's
executor; tests/test_legacy_golden.py through marin_exec. `to_json` writes an instantiated config the way both
sides record it. Nothing here imports Marin or marin_exec.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import enum
import pathlib
from dataclasses import dataclass, field
from typing import Any, NamedTuple

RECEIVED: list[Any] = []  # configs handed to `record`, in call order
BUDGETS: list[Any] = []  # the mirror budget in GB each `record_mirrored` call ran under (None: not set)


def record(config: Any) -> None:
    """The function of every case step: remembers the config it was given."""
    RECEIVED.append(config)


def record_mirrored(config: Any) -> None:
    """`record`, and the cross-region budget rigging's mirror:// filesystem has during the call: Marin's executor
    sets it for a step whose config holds `mirrored` values (rigging has no public getter, hence the private name)."""
    try:  # rigging >= 0.2.227 (a package); Marin 0.2.20's peer venv has the older module
        from rigging.filesystem.cross_region import _mirror_budget_ctx
    except ImportError:
        from rigging.filesystem import _mirror_budget_ctx

    budget = _mirror_budget_ctx.get()
    BUDGETS.append(None if budget is None else budget.limit_bytes / 2**30)
    RECEIVED.append(config)


def record_too(config: Any) -> None:
    """Another function, which records its config marked as its own: a step deduplicated away must not run it."""
    RECEIVED.append({"record_too": config})


def record_path(output_path: str) -> None:
    """The function of a StepSpec (it takes its output path): remembers the path it was given."""
    RECEIVED.append(output_path)


STEPSPECS = (  # (name, hash_attrs, index of the dependency or None): built into Marin StepSpecs, as_executor_step()
    ("datakit/raw", {"url": "https://example.org/d.jsonl"}, None),
    ("datakit/tok", {"tokenizer": "bytes", "seq_len": 128}, 0),
)


class Table(dict):
    """A dict subclass in a config: Marin's instantiate_config passes a plain dict."""


class Items(list):
    """A list subclass: Marin passes a plain list."""


class Pair(tuple):
    """A tuple subclass that is not a NamedTuple: Marin passes a plain tuple."""


class Point(NamedTuple):
    """A NamedTuple: Marin keeps its type."""

    x: Any
    y: Any


class Color(enum.Enum):
    RED = "red"


class Opaque:
    """A value JSON cannot encode: Marin hashes its str()."""

    def __str__(self) -> str:
        return "Opaque<7>"


@dataclass(frozen=True)
class Optim:
    lr: Any
    betas: Any = (0.9, 0.95)


@dataclass(frozen=True)
class TrainConfig:
    data: Any
    optim: Optim
    table: Any
    items: Any
    output_path: Any
    seed: Any = 0


@dataclass(frozen=True)
class PathsConfig:
    a: Any = None
    b: Any = None
    c: Any = None
    d: Any = None
    e: Any = None
    output_path: Any = None


@dataclass(frozen=True)
class ChainConfig:
    i: Any
    inp: Any
    output_path: Any


@dataclass(frozen=True)
class StepSpecMigrationConfig:
    """The config shape of Marin's `StepSpec.as_executor_step()`."""

    output_path: Any
    attrs: Any
    deps: Any = field(default_factory=list)


def build_cases(api: Any, absolute_root: str) -> dict[str, list[Any]]:
    """Case name -> the items passed to the executor (ExecutorSteps, and InputNames as Paloma passes them).

    `absolute_root` is a directory outside the prefix, for a step pinned to an absolute path."""
    S, out, v = api.ExecutorStep, api.this_output_path, api.versioned
    raw = S(name="raw/corpus", fn=record, config=PathsConfig(a=v("https://example.org/c.txt"), output_path=out()))
    tok = S(name="tok/corpus", fn=record, config=PathsConfig(a=raw, b=v("bytes"), output_path=out()))
    train = S(
        name="train/nested",
        fn=record,
        config=TrainConfig(
            data=api.output_path_of(tok, "train"),
            optim=Optim(lr=v(3e-4), betas=v((0.9, 0.99))),
            table={"x": v(Color.RED), "y": {"deep": tok / "val"}, "z": 5},
            items=[tok, v(pathlib.Path("p/q")), [tok.cd("a").cd("b")]],
            output_path=out("ckpt"),
            seed=v(datetime.timedelta(hours=1)),
        ),
        description="nested dataclasses, dicts, lists, repeated references and sub paths",
    )
    cases: dict[str, list[Any]] = {"nested": [train]}

    unversioned = S(name="plain/unversioned", fn=record, config=PathsConfig(output_path=api.THIS_OUTPUT_PATH))
    live = S(name="train/live", fn=record, config=PathsConfig(a=v(1), output_path=out()))
    mixed = S(
        name="eval/mixed",
        fn=record,
        config=PathsConfig(
            a=api.output_path_of(live, "checkpoints").nonblocking(),
            b=api.InputName.hardcoded("raw/external/v1"),
            c=api.InputName.hardcoded("gs://bucket/abs").cd("x"),
            d=unversioned,
            e=v(Opaque()),
            output_path=out(),
        ),
    )
    cases["pseudo_and_hardcoded"] = [mixed]

    chain: list[Any] = []
    previous: Any = None
    for i in range(7):
        previous = S(name=f"deep/s{i}", fn=record, config=ChainConfig(i=v(i), inp=previous, output_path=out()))
        chain.append(previous)
    cases["deep_chain_by_input_name"] = [api.output_path_of(chain[-1])]

    mirrors = S(
        name="mirror/read",
        fn=record_mirrored,
        config=PathsConfig(
            a=api.mirrored("documents/bare", budget_gb=5),
            b=api.mirrored(v("documents/versioned"), budget_gb=50),
            c=api.mirrored("gs://bucket/already"),
            output_path=out(),
        ),
    )
    nested = S(
        name="mirror/nested",
        fn=record_mirrored,
        config=PathsConfig(a={"deep": [api.mirrored("documents/deep", budget_gb=0.5)]}, b=mirrors, output_path=out()),
    )
    unmirrored = S(name="mirror/none", fn=record_mirrored, config=PathsConfig(a=nested, output_path=out()))
    cases["mirrored"] = [unmirrored]  # budgets: 50 (the largest), 0.5, and none set

    pinned_rel = S(name="pin/relative", fn=record, config=PathsConfig(a=v(1), output_path=out()))
    pinned_rel = pinned_rel.with_output_path("pinned/here")
    pinned_abs = S(
        name="pin/absolute",
        fn=record,
        config=PathsConfig(a=pinned_rel, output_path=out()),
        override_output_path=f"{absolute_root}/elsewhere",
    )
    cases["override_output_path"] = [pinned_abs]

    first = S(name="dup/a", fn=record, config=None)
    twice = [
        S(name="dup/b", fn=record, config=PathsConfig(a=api.output_path_of(first, "sub"), b=v(3), output_path=out()))
        for _ in range(2)
    ]
    cases["dedup"] = twice

    same = [S(name="dup/fn", fn=fn, config=PathsConfig(a=v(1), output_path=out())) for fn in (record, record_too)]
    after = S(name="dup/after", fn=record, config=PathsConfig(a=same[1], b=v(2), output_path=out()))
    cases["dedup_different_functions"] = [same[0], after]  # Marin keeps the first function and warns

    base = S(name="containers/base", fn=record, config=PathsConfig(a=v(1), output_path=out()))
    containers = S(
        name="containers/types",
        fn=record,
        config=PathsConfig(
            a=Table(path=base, n=1, inner=Table(k=2)),  # subclasses with and without a placeholder inside
            b=Items([base / "x", Items([3])]),
            c=Pair((base, 4)),
            d=Point(x=base, y=Pair((5, 6))),
            e=collections.OrderedDict(first=v(7), second=collections.defaultdict(int, z=8)),
            output_path=out(),
        ),
    )
    cases["container_subclasses"] = [containers]

    sweep = S(name="sweep/lr=3e-4,wd=0.1", fn=record, config=PathsConfig(a=v(3e-4), output_path=out()))
    odd = S(
        name="eval/llama:7b (run #2)",
        fn=record,
        config=PathsConfig(a=sweep, b=api.output_path_of(sweep, "ckpt:last"), output_path=out("scores,all")),
    )
    cases["names_with_commas_colons_and_spaces"] = [odd]
    return cases


def relative(path: str, prefix: str, absolute_root: str) -> str:
    """`path` with the prefix written `{prefix}` and the absolute root `{abs}`."""
    return path.replace(prefix, "{prefix}").replace(absolute_root, "{abs}")


def to_json(value: Any, prefix: str, absolute_root: str) -> Any:
    """An instantiated config as JSON data, paths written with `relative`."""
    if isinstance(value, str):
        return relative(value, prefix, absolute_root)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, enum.Enum):
        return {"enum": value.value}
    if isinstance(value, pathlib.PurePath):
        return {"path": str(value)}
    if isinstance(value, datetime.timedelta):
        return {"timedelta": value.total_seconds()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        return {type(value).__name__: {f.name: to_json(getattr(value, f.name), prefix, absolute_root) for f in fields}}
    if isinstance(value, dict):
        data: Any = {str(k): to_json(v, prefix, absolute_root) for k, v in value.items()}
    elif isinstance(value, tuple):
        data = {"tuple": [to_json(v, prefix, absolute_root) for v in value]}
    elif isinstance(value, list):
        data = [to_json(v, prefix, absolute_root) for v in value]
    else:
        return {"object": str(value)}
    return data if type(value) in (dict, tuple, list) else {type(value).__name__: data}  # a subclass: its name too
