"""Records Marin's own ExecutorStep versions, hashes and output paths as golden cases for marin_exec's tests.

Run it with the reference peer's interpreter (see install_peer.sh), never with the project venv:

    /work/peer-venv/bin/python benchmarks/peer/marin_golden.py            # (re)write tests/golden/marin_versions.json
    /work/peer-venv/bin/python benchmarks/peer/marin_golden.py --check    # exit 1 if the file is out of date

Each case builds a small graph of `ExecutorStep`s with Marin's API and asks Marin's `Executor.compute_version` (the
code path `Executor.run` uses) for every step's version, the exact JSON string it hashes, the 6-hex-digit hash and
the output path. Nothing is executed and nothing is written under the prefix.

It deliberately does not import marin_exec, and the JSON it writes is the only thing marin_exec's tests consume:
CI never needs marin-core.
"""

from __future__ import annotations

import argparse
import enum
import hashlib
import json
import logging
import os
import platform
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = REPO_ROOT / "tests" / "golden" / "marin_versions.json"


# ---------------------------------------------------------------------------------------------------------------------
# Config types used by the cases. Field order matters: it is the walk order, hence the DEP numbering.
# ---------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DownloadConfig:
    url: Any
    output_path: Any


@dataclass(frozen=True)
class ChainConfig:
    a: Any
    inp: Any
    output_path: Any


@dataclass(frozen=True)
class Optim:
    lr: Any
    betas: Any
    schedule: Any


@dataclass(frozen=True)
class Model:
    width: Any
    depth: Any
    optim: Optim


@dataclass(frozen=True)
class TrainConfig:
    model: Model
    seed: Any
    data: Any
    output_path: Any
    notes: Any


@dataclass(frozen=True)
class TableConfig:
    table: Any
    refs: Any
    output_path: Any


@dataclass(frozen=True)
class ListConfig:
    items: Any
    pair: Any
    grid: Any
    output_path: Any


@dataclass(frozen=True)
class TripleConfig:
    x: Any
    y: Any
    z: Any


@dataclass(frozen=True)
class SubPathConfig:
    a: Any
    b: Any
    c: Any
    d: Any
    e: Any


@dataclass(frozen=True)
class EvalConfig:
    checkpoint: Any
    data: Any
    model: Any
    output_path: Any


@dataclass(frozen=True)
class HardcodedConfig:
    raw: Any
    remote: Any
    absolute: Any
    sub: Any
    up: Any
    k: Any


class Color(enum.Enum):
    RED = "red"


class Level(enum.Enum):
    HIGH = 3


class Mode(str, enum.Enum):  # noqa: UP042 - the mixin pattern older Marin configs use
    FAST = "fast"


class Prio(enum.IntEnum):
    TWO = 2


@dataclass(frozen=True)
class Leaf:
    color: Color
    where: Path
    wait: timedelta
    sizes: tuple[int, ...]
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TypesConfig:
    enum_str_value: Any
    enum_int_value: Any
    str_enum: Any
    int_enum: Any
    rel_path: Any
    abs_path: Any
    td: Any
    td_negative: Any
    nested: Any
    none: Any
    yes: Any
    no: Any
    tenth: Any
    small: Any
    big: Any
    huge_int: Any
    unicode: Any
    quoted: Any
    a_list: Any
    a_tuple: Any
    a_dict: Any


@dataclass(frozen=True)
class PairConfig:
    left: Any
    right: Any


@dataclass(frozen=True)
class JoinConfig:
    a: Any
    b: Any
    c: Any
    d: Any
    e: Any


@dataclass(frozen=True)
class OneRef:
    inp: Any


@dataclass(frozen=True)
class PlainConfig:
    n: Any
    s: Any
    output_path: Any


def _noop(config: Any) -> None:
    """Never called: the cases only compute versions."""


# ---------------------------------------------------------------------------------------------------------------------
# Cases. Each builder returns the steps handed to the executor (as a user would pass them to executor_main).
# ---------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    case_id: str
    description: str
    construction: str
    build: Callable[[Any], list[Any]]


def _chain(m: Any, prefix: str, n: int) -> list[Any]:
    steps: list[Any] = []
    for i in range(n):
        inp = steps[-1] if steps else None
        steps.append(
            m.ExecutorStep(
                name=f"{prefix}/s{i}",
                fn=_noop,
                config=ChainConfig(a=m.versioned(i), inp=inp, output_path=m.THIS_OUTPUT_PATH),
            )
        )
    return steps


def _leaf(m: Any, name: str, value: Any) -> Any:
    return m.ExecutorStep(
        name=name, fn=_noop, config=DownloadConfig(url=m.versioned(value), output_path=m.THIS_OUTPUT_PATH)
    )


LEAF_PROSE = "DownloadConfig(url=versioned(<value>), output_path=THIS_OUTPUT_PATH)"
CHAIN_PROSE = (
    "ChainConfig(a, inp, output_path) with fields in that order; step sI has a=versioned(I) (int), "
    "inp=<the step object s(I-1)> (a bare ExecutorStep reference; None for s0, which contributes nothing), "
    "output_path=THIS_OUTPUT_PATH (contributes nothing)."
)


def build_design_raw_corpus(m: Any) -> list[Any]:
    return [_leaf(m, "raw/corpus", "https://example.org/corpus.txt")]


def build_design_deep_chain(m: Any) -> list[Any]:
    return [_chain(m, "deep", 8)[-1]]


def build_nested_dataclass(m: Any) -> list[Any]:
    data = _leaf(m, "nested/data", "https://example.org/nested.txt")
    train = m.ExecutorStep(
        name="nested/train",
        fn=_noop,
        config=TrainConfig(
            model=Model(
                width=m.versioned(256),
                depth=12,
                optim=Optim(lr=m.versioned(3e-4), betas=m.versioned((0.9, 0.95)), schedule="cosine"),
            ),
            seed=m.versioned(0),
            data=data,
            output_path=m.THIS_OUTPUT_PATH,
            notes="plain string, not versioned",
        ),
    )
    return [train]


def build_dict_config(m: Any) -> list[Any]:
    up_a = _leaf(m, "dicts/a", "a")
    up_b = _leaf(m, "dicts/b", "b")
    root_dict = m.ExecutorStep(
        name="dicts/root",
        fn=_noop,
        config={
            "hparams": {"lr": m.versioned(0.1), "warmup": 10, "schedule": {"kind": m.versioned("linear")}},
            "source": up_a,
            "tag": m.versioned("v1"),
            "extra": {},
        },
    )
    field_dict = m.ExecutorStep(
        name="dicts/field",
        fn=_noop,
        config=TableConfig(
            table={"b": m.versioned(2), "a": m.versioned(1), "c": 3},
            refs={"z": up_a, "a": up_b},
            output_path=m.THIS_OUTPUT_PATH,
        ),
    )
    return [root_dict, field_dict]


def build_list_tuple(m: Any) -> list[Any]:
    la = _leaf(m, "lists/a", "a")
    lb = _leaf(m, "lists/b", "b")
    consumer = m.ExecutorStep(
        name="lists/consumer",
        fn=_noop,
        config=ListConfig(
            items=[m.versioned(1), 2, la, m.versioned("x"), lb / "part", None],
            pair=(lb, m.versioned(True)),
            grid=[[m.versioned(1.5)], [la, m.versioned(None)]],
            output_path=m.THIS_OUTPUT_PATH,
        ),
    )
    return [consumer]


def build_same_dep_three_times(m: Any) -> list[Any]:
    up = _leaf(m, "triple/up", "u")
    consumer = m.ExecutorStep(
        name="triple/consumer",
        fn=_noop,
        config=TripleConfig(x=up, y=up / "a", z=[m.output_path_of(up)]),
    )
    return [consumer]


def build_sub_paths(m: Any) -> list[Any]:
    up = _leaf(m, "sub/up", "u")
    consumer = m.ExecutorStep(
        name="sub/consumer",
        fn=_noop,
        config=SubPathConfig(
            a=up / "data",
            b=m.output_path_of(up, "data/train"),
            c=up.cd("x").cd("y"),
            d=(up / "data") / "shard-0.jsonl",
            e=up,
        ),
    )
    return [consumer]


def build_nonblocking(m: Any) -> list[Any]:
    train = _leaf(m, "nb/train", "t")
    tok = _leaf(m, "nb/tok", "bytes")
    evaluate = m.ExecutorStep(
        name="nb/eval",
        fn=_noop,
        config=EvalConfig(
            checkpoint=(train / "checkpoints").nonblocking(),
            data=tok,
            model=m.output_path_of(train).nonblocking(),
            output_path=m.THIS_OUTPUT_PATH,
        ),
    )
    only_pseudo = m.ExecutorStep(
        name="nb/only_pseudo", fn=_noop, config=OneRef(inp=m.output_path_of(tok, "x").nonblocking())
    )
    mixed = m.ExecutorStep(
        name="nb/mixed",
        fn=_noop,
        config=PairConfig(left=train, right=m.output_path_of(train).nonblocking()),
    )
    return [evaluate, only_pseudo, mixed]


def build_hardcoded(m: Any) -> list[Any]:
    up = _leaf(m, "hc/up", "u")
    consumer = m.ExecutorStep(
        name="hc/consumer",
        fn=_noop,
        config=HardcodedConfig(
            raw=m.InputName.hardcoded("raw/external/v1"),
            remote=m.InputName.hardcoded("gs://some-bucket/data/v2"),
            absolute=m.InputName.hardcoded("/mnt/data/v3"),
            sub=m.InputName.hardcoded("raw/ext") / "part-0",
            up=up,
            k=m.versioned(3),
        ),
    )
    return [consumer]


def build_versioned_types(m: Any) -> list[Any]:
    v = m.versioned
    config = TypesConfig(
        enum_str_value=v(Color.RED),
        enum_int_value=v(Level.HIGH),
        str_enum=v(Mode.FAST),
        int_enum=v(Prio.TWO),
        rel_path=v(Path("data/train")),
        abs_path=v(Path("/mnt/x")),
        td=v(timedelta(days=1, hours=2, microseconds=5)),
        td_negative=v(timedelta(seconds=-1)),
        nested=v(
            Leaf(
                color=Color.RED,
                where=Path("a/b"),
                wait=timedelta(minutes=1),
                sizes=(1, 2),
                extra={"k": Level.HIGH, "p": Path("c")},
            )
        ),
        none=v(None),
        yes=v(True),
        no=v(False),
        tenth=v(0.1),
        small=v(1e-4),
        big=v(1e20),
        huge_int=v(10**20),
        unicode=v("h\u00e9llo \u2713"),
        quoted=v('say "hi"\n'),
        a_list=v([1, "a", None]),
        a_tuple=v((1, 2)),
        a_dict=v({"b": 1, "a": [2, 3]}),
    )
    return [m.ExecutorStep(name="types/all", fn=_noop, config=config)]


def build_diamond(m: Any) -> list[Any]:
    a = _leaf(m, "dia/a", "a")
    b = m.ExecutorStep(name="dia/b", fn=_noop, config=ChainConfig(a=m.versioned("b"), inp=a, output_path=None))
    c = m.ExecutorStep(name="dia/c", fn=_noop, config=ChainConfig(a=m.versioned("c"), inp=a, output_path=None))
    d = m.ExecutorStep(name="dia/d", fn=_noop, config=PairConfig(left=b, right=c))
    return [d]


def build_chain_12(m: Any) -> list[Any]:
    return [_chain(m, "chain12", 12)[-1]]


def build_mixed_depth(m: Any) -> list[Any]:
    chain = _chain(m, "mix", 6)
    leaf = _leaf(m, "mix/leaf", "leaf")
    join = m.ExecutorStep(
        name="mix/join",
        fn=_noop,
        config=JoinConfig(
            a=chain[5],
            b=chain[4],
            c=chain[3],
            d=leaf,
            e=m.output_path_of(chain[5]).nonblocking(),
        ),
    )
    pseudo_only = m.ExecutorStep(
        name="mix/pseudo_only", fn=_noop, config=OneRef(inp=m.output_path_of(chain[5]).nonblocking())
    )
    after_pseudo = m.ExecutorStep(name="mix/after_pseudo", fn=_noop, config=OneRef(inp=pseudo_only))
    return [join, after_pseudo]


def build_override(m: Any) -> list[Any]:
    pinned = m.ExecutorStep(
        name="ov/pinned",
        fn=_noop,
        config=DownloadConfig(url=m.versioned("p"), output_path=m.THIS_OUTPUT_PATH),
        override_output_path="custom/pinned-data",
    )
    pinned_abs = m.ExecutorStep(
        name="ov/abs",
        fn=_noop,
        config=DownloadConfig(url=m.versioned("q"), output_path=m.THIS_OUTPUT_PATH),
        override_output_path="gs://other-bucket/pinned",
    )
    consumer = m.ExecutorStep(name="ov/consumer", fn=_noop, config=PairConfig(left=pinned / "data", right=pinned_abs))
    return [consumer]


def build_duplicate_definition(m: Any) -> list[Any]:
    first = _leaf(m, "dup/a", "same")
    second = _leaf(m, "dup/a", "same")
    consumer = m.ExecutorStep(name="dup/consumer", fn=_noop, config=PairConfig(left=first, right=second))
    return [consumer]


def build_root_level(m: Any) -> list[Any]:
    up = _leaf(m, "root/up", "u")
    return [
        m.ExecutorStep(name="root/versioned", fn=_noop, config=m.versioned(7)),
        m.ExecutorStep(name="root/step", fn=_noop, config=up),
        m.ExecutorStep(name="root/list", fn=_noop, config=[m.versioned(1), up]),
        m.ExecutorStep(name="root/plain", fn=_noop, config=PlainConfig(n=3, s="x", output_path=m.THIS_OUTPUT_PATH)),
    ]


CASES = [
    Case(
        "design_raw_corpus",
        "DESIGN §4 worked example 1: a single step whose only versioned value is a URL.",
        f"One step 'raw/corpus': {LEAF_PROSE} with <value> = 'https://example.org/corpus.txt'.",
        build_design_raw_corpus,
    ),
    Case(
        "design_deep_chain",
        "DESIGN §4 worked example 2: chain deep/s0..deep/s7; s6 is the first whose dependency has depth 5, so it "
        "contributes 'name-hash' instead of its nested version.",
        f"Steps deep/s0 .. deep/s7. {CHAIN_PROSE} Only deep/s7 is handed to the executor.",
        build_design_deep_chain,
    ),
    Case(
        "nested_dataclass",
        "Nested dataclass config: keys join field names with '.', plain fields contribute nothing, a versioned "
        "tuple is encoded as a JSON list.",
        f"'nested/data': {LEAF_PROSE} with <value>='https://example.org/nested.txt'. 'nested/train': "
        "TrainConfig(model, seed, data, output_path, notes) where model=Model(width=versioned(256), depth=12 (plain), "
        "optim=Optim(lr=versioned(3e-4), betas=versioned((0.9, 0.95)), schedule='cosine' (plain))), seed=versioned(0), "
        "data=<step nested/data> (bare reference), output_path=THIS_OUTPUT_PATH, notes='plain string, not versioned'.",
        build_nested_dataclass,
    ),
    Case(
        "dict_config",
        "Dict configs: a plain dict as the whole config, and dict-valued dataclass fields. Dict keys join like field "
        "names; references are numbered in dict insertion order (not key order).",
        f"'dicts/a' and 'dicts/b': {LEAF_PROSE} with <value> 'a' and 'b'. 'dicts/root': config is the dict (insertion "
        "order) {'hparams': {'lr': versioned(0.1), 'warmup': 10, 'schedule': {'kind': versioned('linear')}}, "
        "'source': <step dicts/a>, 'tag': versioned('v1'), 'extra': {}}. 'dicts/field': TableConfig(table, refs, "
        "output_path) with table={'b': versioned(2), 'a': versioned(1), 'c': 3} (insertion order b, a, c), "
        "refs={'z': <step dicts/a>, 'a': <step dicts/b>} (insertion order z, a), output_path=THIS_OUTPUT_PATH. "
        "Handed to the executor: dicts/root, then dicts/field.",
        build_dict_config,
    ),
    Case(
        "list_tuple",
        "Lists and tuples: positions are written '.[i]' (also nested: '.[i].[j]'); references at positions get DEP "
        "indices in walk order; None and plain items contribute nothing; versioned(None) contributes null.",
        f"'lists/a', 'lists/b': {LEAF_PROSE} with <value> 'a', 'b'. 'lists/consumer': ListConfig(items, pair, grid, "
        "output_path) with items=[versioned(1), 2, <step lists/a>, versioned('x'), <step lists/b> / 'part', None], "
        "pair=(<step lists/b>, versioned(True)) (a tuple), grid=[[versioned(1.5)], [<step lists/a>, "
        "versioned(None)]], output_path=THIS_OUTPUT_PATH.",
        build_list_tuple,
    ),
    Case(
        "same_dep_three_times",
        "One dependency referenced three times: three DEP indices, and its version appears three times in "
        "'dependencies'.",
        f"'triple/up': {LEAF_PROSE} with <value>='u'. 'triple/consumer': TripleConfig(x, y, z) with x=<step "
        "triple/up> (bare), y=<step triple/up> / 'a', z=[output_path_of(<step triple/up>)] (a one-item list).",
        build_same_dep_three_times,
    ),
    Case(
        "sub_paths",
        "References with sub paths: 'DEP[i]/sub/path'; chained '/' and cd() join with '/'.",
        f"'sub/up': {LEAF_PROSE} with <value>='u'. 'sub/consumer': SubPathConfig(a, b, c, d, e) with "
        "a=<step sub/up> / 'data', b=output_path_of(<step sub/up>, 'data/train'), c=<step sub/up>.cd('x').cd('y'), "
        "d=(<step sub/up> / 'data') / 'shard-0.jsonl', e=<step sub/up> (bare).",
        build_sub_paths,
    ),
    Case(
        "nonblocking",
        "Nonblocking references (InputName.nonblocking()): listed under 'pseudo_dependencies', numbered with the same "
        "counter as blocking ones; the key is absent when a step has none. A step may reference the same step "
        "blocking and nonblocking.",
        f"'nb/train', 'nb/tok': {LEAF_PROSE} with <value> 't', 'bytes'. 'nb/eval': EvalConfig(checkpoint, data, "
        "model, output_path) with checkpoint=(<step nb/train> / 'checkpoints').nonblocking(), data=<step nb/tok> "
        "(blocking, bare), model=output_path_of(<step nb/train>).nonblocking(), output_path=THIS_OUTPUT_PATH. "
        "'nb/only_pseudo': OneRef(inp=output_path_of(<step nb/tok>, 'x').nonblocking()). 'nb/mixed': "
        "PairConfig(left=<step nb/train> (blocking, bare), right=output_path_of(<step nb/train>).nonblocking()). "
        "Handed to the executor: nb/eval, nb/only_pseudo, nb/mixed.",
        build_nonblocking,
    ),
    Case(
        "hardcoded_input",
        "Hard-coded inputs (InputName.hardcoded): contribute the path exactly as written (relative, URL or absolute), "
        "take no DEP index and add no dependency.",
        f"'hc/up': {LEAF_PROSE} with <value>='u'. 'hc/consumer': HardcodedConfig(raw, remote, absolute, sub, up, k) "
        "with raw=hardcoded('raw/external/v1'), remote=hardcoded('gs://some-bucket/data/v2'), "
        "absolute=hardcoded('/mnt/data/v3'), sub=hardcoded('raw/ext') / 'part-0', up=<step hc/up> (bare), "
        "k=versioned(3).",
        build_hardcoded,
    ),
    Case(
        "versioned_value_types",
        "Encoding of versioned values JSON cannot encode natively (Enum by value, Path as str, timedelta as "
        "{days, seconds, microseconds}, dataclass as asdict, recursively) and of the native ones (None, bool, "
        "float repr, big int, non-ASCII escaped as \\uXXXX, tuple as list, dict keys sorted).",
        "One step 'types/all': TypesConfig with every field versioned, in this order: enum_str_value=Color.RED "
        "(class Color(Enum), RED='red'), enum_int_value=Level.HIGH (class Level(Enum), HIGH=3), str_enum=Mode.FAST "
        "(class Mode(str, Enum), FAST='fast'), int_enum=Prio.TWO (class Prio(IntEnum), TWO=2), "
        "rel_path=Path('data/train'), abs_path=Path('/mnt/x'), td=timedelta(days=1, hours=2, microseconds=5), "
        "td_negative=timedelta(seconds=-1), nested=Leaf(color=Color.RED, where=Path('a/b'), "
        "wait=timedelta(minutes=1), sizes=(1, 2), extra={'k': Level.HIGH, 'p': Path('c')}) (a frozen dataclass "
        "with fields color, where, wait, sizes, extra in that order), none=None, yes=True, no=False, tenth=0.1, "
        "small=1e-4, big=1e20, huge_int=10**20, unicode='h\\u00e9llo \\u2713' (h, e-acute, llo, space, check mark), "
        "quoted='say \"hi\"' followed by a newline, a_list=[1, 'a', None], a_tuple=(1, 2), "
        "a_dict={'b': 1, 'a': [2, 3]}.",
        build_versioned_types,
    ),
    Case(
        "diamond",
        "Diamond a -> b, a -> c, (b, c) -> d: a's version is nested twice inside d's (once under b, once under c).",
        f"'dia/a': {LEAF_PROSE} with <value>='a'. 'dia/b': ChainConfig(a=versioned('b'), inp=<step dia/a>, "
        "output_path=None). 'dia/c': ChainConfig(a=versioned('c'), inp=<step dia/a>, output_path=None). 'dia/d': "
        "PairConfig(left=<step dia/b>, right=<step dia/c>) (both bare references).",
        build_diamond,
    ),
    Case(
        "chain_12",
        "Chain of 12 exercising the depth rule at every boundary: a dependency of depth <= 4 is nested, of depth "
        ">= 5 is the string 'name-hash' (first at s6).",
        f"Steps chain12/s0 .. chain12/s11. {CHAIN_PROSE} Only chain12/s11 is handed to the executor.",
        build_chain_12,
    ),
    Case(
        "mixed_depth",
        "One dependencies list mixing nested versions (depth 0, 3, 4) and 'name-hash' strings (depth 5); the depth "
        "rule applies to pseudo_dependencies too; depth counts only blocking dependencies (a step whose only "
        "reference is nonblocking has depth 0 and is nested whole by its dependents).",
        f"Chain mix/s0 .. mix/s5: {CHAIN_PROSE} 'mix/leaf': {LEAF_PROSE} with <value>='leaf'. 'mix/join': "
        "JoinConfig(a, b, c, d, e) with a=<step mix/s5>, b=<step mix/s4>, c=<step mix/s3>, d=<step mix/leaf> (all "
        "bare, blocking), e=output_path_of(<step mix/s5>).nonblocking(). 'mix/pseudo_only': "
        "OneRef(inp=output_path_of(<step mix/s5>).nonblocking()). 'mix/after_pseudo': OneRef(inp=<step "
        "mix/pseudo_only>). Handed to the executor: mix/join, mix/after_pseudo.",
        build_mixed_depth,
    ),
    Case(
        "override_output_path",
        "override_output_path changes only the output path (relative: under the prefix; with a scheme or a leading "
        "'/': as given). The version and hash are unchanged, and dependents hash the dependency's version, not its "
        "path.",
        f"'ov/pinned': {LEAF_PROSE} with <value>='p' and override_output_path='custom/pinned-data'. 'ov/abs': "
        f"{LEAF_PROSE} with <value>='q' and override_output_path='gs://other-bucket/pinned'. 'ov/consumer': "
        "PairConfig(left=<step ov/pinned> / 'data', right=<step ov/abs>) (bare).",
        build_override,
    ),
    Case(
        "duplicate_definition",
        "The same step defined twice (two objects, equal name and config) has one version and one path; a consumer "
        "referencing both gets two DEP indices with identical nested versions.",
        f"Two separate 'dup/a' steps, each {LEAF_PROSE} with <value>='same'. 'dup/consumer': PairConfig(left=<first "
        "dup/a>, right=<second dup/a>). Marin records both objects; steps lists both.",
        build_duplicate_definition,
    ),
    Case(
        "root_level_configs",
        "Configs that are not a dataclass: a versioned scalar or a bare reference as the whole config gets the empty "
        "key ''; a list at the root gets keys '[i]' (no leading dot); a config with no versioned value has config {}.",
        f"'root/up': {LEAF_PROSE} with <value>='u'. 'root/versioned': config is versioned(7). 'root/step': config is "
        "<step root/up> itself. 'root/list': config is [versioned(1), <step root/up>]. 'root/plain': "
        "PlainConfig(n=3, s='x', output_path=THIS_OUTPUT_PATH) (nothing versioned). Handed to the executor in that "
        "order: root/versioned, root/step, root/list, root/plain.",
        build_root_level,
    ),
]


# ---------------------------------------------------------------------------------------------------------------------
# Recording
# ---------------------------------------------------------------------------------------------------------------------


def _relative(path: str, prefix: str) -> str:
    """The path relative to the prefix, or the path as is when it lies outside the prefix (absolute overrides)."""
    if path.startswith(prefix + "/"):
        return path[len(prefix) + 1 :]
    return path


def record_case(case: Case, m: Any, executor_cls: Any, prefix: str) -> dict[str, Any]:
    executor = executor_cls(prefix=prefix, executor_info_base_path=os.path.join(prefix, "experiments"))
    for step in case.build(m):
        executor.compute_version(step, is_pseudo_dep=False)
    steps = []
    for step in executor.versions:  # insertion order: each step after everything it references
        version_json = executor.version_strs[step]
        hash_ = executor.hashed_versions[step]
        if hashlib.md5(version_json.encode()).hexdigest()[:6] != hash_:
            raise AssertionError(f"{case.case_id}/{step.name}: hash is not md5(version_json)[:6]")
        entry: dict[str, Any] = {
            "name": step.name,
            "version_json": version_json,
            "hash": hash_,
            "relative_path": _relative(executor.output_paths[step], prefix),
            "depth": executor._dep_depth(step),
        }
        if step.override_output_path is not None:
            entry["override_output_path"] = step.override_output_path
        steps.append(entry)
    return {"description": case.description, "construction": case.construction, "steps": steps}


def record_stepspec_reference(step_spec_cls: Any, prefix: str) -> dict[str, Any]:
    """Marin's *StepSpec* identity scheme, for reference only (marin_exec's StepSpec uses the ExecutorStep scheme)."""
    a = step_spec_cls(name="ss/a", hash_attrs={"x": 1}, output_path_prefix=prefix)
    b = step_spec_cls(name="ss/b", deps=[a], hash_attrs={"y": "z"}, output_path_prefix=prefix)
    out = []
    for spec in (a, b):
        content = json.dumps(
            {"name": spec.name, "attrs": spec.hash_attrs, "deps": sorted(spec.dep_names)}, sort_keys=True
        )
        out.append(
            {
                "name": spec.name,
                "hashed_json": content,
                "hash": spec.hash_id,
                "relative_path": _relative(spec.output_path, prefix),
            }
        )
    return {
        "note": "NOT the marin_exec scheme. Marin's own StepSpec hashes sha256(json{name, attrs, sorted dep "
        "name_with_hash})[:8] and places output at {prefix}/{name}_{hash8}. Kept only to document the difference.",
        "construction": "ss/a: hash_attrs={'x': 1}, no deps. ss/b: hash_attrs={'y': 'z'}, deps=[ss/a].",
        "steps": out,
    }


def generate(prefix: str) -> dict[str, Any]:
    import marin.execution as m
    from marin.execution.executor import Executor
    from marin.execution.step_spec import StepSpec

    return {
        "about": (
            "Golden identities produced by Marin's own executor (PyPI marin-core) via "
            "benchmarks/peer/marin_golden.py. version_json is exactly the string Marin md5-hashes; hash is its first "
            "6 hex digits; relative_path is the output path relative to the prefix (absolute overrides stay "
            "absolute); depth is the longest chain of blocking dependencies below the step. Steps are listed in "
            "the order Marin finished computing them (every step after the steps it references). Regenerate; do "
            "not edit by hand."
        ),
        "generator": {
            "marin_core": metadata.version("marin-core"),
            "python": platform.python_version(),
        },
        "cases": {case.case_id: record_case(case, m, Executor, prefix) for case in CASES},
        "marin_stepspec_reference": record_stepspec_reference(StepSpec, prefix),
    }


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--check", action="store_true", help="compare with --output instead of writing it")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # Marin warns about overrides and duplicates; the JSON records both

    with tempfile.TemporaryDirectory(prefix="marin-golden-") as tmp:
        prefix = os.path.join(tmp, "prefix")
        os.environ["MARIN_PREFIX"] = prefix
        text = _dump(generate(prefix))
        if os.path.exists(prefix):
            raise AssertionError(f"computing versions wrote under the prefix {prefix}")

    if args.check:
        current = args.output.read_text() if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date; regenerate with {sys.argv[0]}", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(f"wrote {args.output} ({len(CASES)} cases)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
