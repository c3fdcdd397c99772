"""Compiler: traced steps become StepSpecs with Marin's versions and hashes, concrete configs, and one spec per path."""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import json
import logging
import pathlib
import pickle
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from marin_exec.compile.compiler import compile_graph
from marin_exec.errors import PathCollisionError, TracingError
from marin_exec.run.runner import StepRunner
from marin_exec.trace.graph import output, trace
from marin_exec.trace.markers import versioned
from marin_exec.trace.step import deferred, step
from marin_exec.trace.step_ref import StepRef

GOLDEN = pathlib.Path(__file__).parent / "golden" / "marin_versions.json"


# -- library code (module level, so compiled steps pickle) ------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DownloadConfig:
    url: str
    output_path: str


@dataclasses.dataclass(frozen=True)
class Result:
    value: str


def _download(config: DownloadConfig) -> Result:
    pathlib.Path(config.output_path).mkdir(parents=True, exist_ok=True)
    (pathlib.Path(config.output_path) / "data.txt").write_text(config.url)
    return Result(value=config.url)


def _consume(config: Any) -> Any:
    return config


def _other(config: Any) -> Any:
    return config


def _train(data: str, lr: float, output_path: str) -> dict:
    return {"data": data, "lr": lr, "output_path": output_path}


download = deferred(_download)
consume = deferred(_consume)
other = deferred(_other)
train = deferred(_train)


@step(name="{name}")
def downloaded(name: str, url: str):
    return download(DownloadConfig(url=versioned(url), output_path=output()))


@step(name="{name}")
def consumer(name: str, make: Callable[[], Any]):
    """A step whose config ``make()`` builds inside the body (so that it may call output())."""
    return consume(make())


def _compile(entry: Callable[[], Any], prefix: str = "/prefix") -> Any:
    return compile_graph(trace(entry), prefix=prefix)


def _spec(plan: Any, name: str) -> Any:
    (spec,) = {id(s): s for s in plan.spec_of.values() if s.name == name}.values()
    return spec


# -- golden identities computed by Marin itself -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ChainConfig:
    a: Any
    inp: Any
    output_path: Any


@dataclasses.dataclass(frozen=True)
class PairConfig:
    left: Any
    right: Any


@dataclasses.dataclass(frozen=True)
class OneRef:
    inp: Any


def _chain(prefix: str, n: int) -> list[StepRef]:
    refs: list[StepRef] = []
    for i in range(n):
        prev = refs[-1] if refs else None
        refs.append(
            consumer(
                f"{prefix}/s{i}", lambda i=i, prev=prev: ChainConfig(a=versioned(i), inp=prev, output_path=output())
            )
        )
    return refs


def _up(name: str, value: str) -> StepRef:
    return downloaded(name, value)


def golden_design_raw_corpus() -> None:
    _up("raw/corpus", "https://example.org/corpus.txt")


def golden_design_deep_chain() -> None:
    _chain("deep", 8)


def golden_nested_dataclass() -> None:
    @dataclasses.dataclass(frozen=True)
    class Optim:
        lr: Any
        betas: Any
        schedule: Any

    @dataclasses.dataclass(frozen=True)
    class Model:
        width: Any
        depth: Any
        optim: Any

    @dataclasses.dataclass(frozen=True)
    class TrainConfig:
        model: Any
        seed: Any
        data: Any
        output_path: Any
        notes: Any

    data = _up("nested/data", "https://example.org/nested.txt")
    model = Model(
        width=versioned(256), depth=12, optim=Optim(lr=versioned(3e-4), betas=versioned((0.9, 0.95)), schedule="cosine")
    )
    consumer(
        "nested/train",
        lambda: TrainConfig(model, versioned(0), data, output(), "plain string, not versioned"),
    )


def golden_dict_config() -> None:
    @dataclasses.dataclass(frozen=True)
    class TableConfig:
        table: Any
        refs: Any
        output_path: Any

    a, b = _up("dicts/a", "a"), _up("dicts/b", "b")
    root = {
        "hparams": {"lr": versioned(0.1), "warmup": 10, "schedule": {"kind": versioned("linear")}},
        "source": a,
        "tag": versioned("v1"),
        "extra": {},
    }
    consumer("dicts/root", lambda: root)
    table = {"b": versioned(2), "a": versioned(1), "c": 3}
    consumer("dicts/field", lambda: TableConfig(table=table, refs={"z": a, "a": b}, output_path=output()))


def golden_list_tuple() -> None:
    @dataclasses.dataclass(frozen=True)
    class ListConfig:
        items: Any
        pair: Any
        grid: Any
        output_path: Any

    a, b = _up("lists/a", "a"), _up("lists/b", "b")
    consumer(
        "lists/consumer",
        lambda: ListConfig(
            items=[versioned(1), 2, a, versioned("x"), b / "part", None],
            pair=(b, versioned(True)),
            grid=[[versioned(1.5)], [a, versioned(None)]],
            output_path=output(),
        ),
    )


def golden_same_dep_three_times() -> None:
    @dataclasses.dataclass(frozen=True)
    class TripleConfig:
        x: Any
        y: Any
        z: Any

    up = _up("triple/up", "u")
    consumer("triple/consumer", lambda: TripleConfig(x=up, y=up / "a", z=[up]))


def golden_sub_paths() -> None:
    @dataclasses.dataclass(frozen=True)
    class SubPathConfig:
        a: Any
        b: Any
        c: Any
        d: Any
        e: Any

    up = _up("sub/up", "u")
    consumer(
        "sub/consumer",
        lambda: SubPathConfig(
            a=up / "data", b=up / "data/train", c=up.cd("x").cd("y"), d=(up / "data") / "shard-0.jsonl", e=up
        ),
    )


def golden_nonblocking() -> None:
    @dataclasses.dataclass(frozen=True)
    class EvalConfig:
        checkpoint: Any
        data: Any
        model: Any
        output_path: Any

    trained, tok = _up("nb/train", "t"), _up("nb/tok", "bytes")
    consumer(
        "nb/eval",
        lambda: EvalConfig((trained / "checkpoints").nonblocking(), tok, trained.nonblocking(), output()),
    )
    consumer("nb/only_pseudo", lambda: OneRef(inp=(tok / "x").nonblocking()))
    consumer("nb/mixed", lambda: PairConfig(left=trained, right=trained.nonblocking()))


def golden_hardcoded_input() -> None:
    @dataclasses.dataclass(frozen=True)
    class HardcodedConfig:
        raw: Any
        remote: Any
        absolute: Any
        sub: Any
        up: Any
        k: Any

    up = _up("hc/up", "u")
    consumer(
        "hc/consumer",
        lambda: HardcodedConfig(
            raw=StepRef.hardcoded("raw/external/v1"),
            remote=StepRef.hardcoded("gs://some-bucket/data/v2"),
            absolute=StepRef.hardcoded("/mnt/data/v3"),
            sub=StepRef.hardcoded("raw/ext") / "part-0",
            up=up,
            k=versioned(3),
        ),
    )


class Color(enum.Enum):
    RED = "red"


class Level(enum.Enum):
    HIGH = 3


class Mode(str, enum.Enum):  # noqa: UP042  (the golden construction says str + Enum)
    FAST = "fast"


class Prio(enum.IntEnum):
    TWO = 2


@dataclasses.dataclass(frozen=True)
class Leaf:
    color: Any
    where: Any
    wait: Any
    sizes: Any
    extra: Any


def golden_versioned_value_types() -> None:
    values = dict(
        enum_str_value=Color.RED,
        enum_int_value=Level.HIGH,
        str_enum=Mode.FAST,
        int_enum=Prio.TWO,
        rel_path=pathlib.Path("data/train"),
        abs_path=pathlib.Path("/mnt/x"),
        td=timedelta(days=1, hours=2, microseconds=5),
        td_negative=timedelta(seconds=-1),
        nested=Leaf(
            Color.RED, pathlib.Path("a/b"), timedelta(minutes=1), (1, 2), {"k": Level.HIGH, "p": pathlib.Path("c")}
        ),
        none=None,
        yes=True,
        no=False,
        tenth=0.1,
        small=1e-4,
        big=1e20,
        huge_int=10**20,
        unicode="h\u00e9llo \u2713",
        quoted='say "hi"\n',
        a_list=[1, "a", None],
        a_tuple=(1, 2),
        a_dict={"b": 1, "a": [2, 3]},
    )
    types_config = dataclasses.make_dataclass("TypesConfig", list(values))
    consumer("types/all", lambda: types_config(**{k: versioned(v) for k, v in values.items()}))


def golden_diamond() -> None:
    a = _up("dia/a", "a")
    b = consumer("dia/b", lambda: ChainConfig(a=versioned("b"), inp=a, output_path=None))
    c = consumer("dia/c", lambda: ChainConfig(a=versioned("c"), inp=a, output_path=None))
    consumer("dia/d", lambda: PairConfig(left=b, right=c))


def golden_chain_12() -> None:
    _chain("chain12", 12)


def golden_mixed_depth() -> None:
    @dataclasses.dataclass(frozen=True)
    class JoinConfig:
        a: Any
        b: Any
        c: Any
        d: Any
        e: Any

    s = _chain("mix", 6)
    leaf = _up("mix/leaf", "leaf")
    consumer("mix/join", lambda: JoinConfig(a=s[5], b=s[4], c=s[3], d=leaf, e=s[5].nonblocking()))
    pseudo_only = consumer("mix/pseudo_only", lambda: OneRef(inp=s[5].nonblocking()))
    consumer("mix/after_pseudo", lambda: OneRef(inp=pseudo_only))


def golden_override_output_path() -> None:
    pinned = _up("ov/pinned", "p").with_output_path("custom/pinned-data")
    absolute = _up("ov/abs", "q").with_output_path("gs://other-bucket/pinned")
    consumer("ov/consumer", lambda: PairConfig(left=pinned / "data", right=absolute))


def golden_duplicate_definition() -> None:
    first, second = _up("dup/a", "same"), _up("dup/a", "same")
    consumer("dup/consumer", lambda: PairConfig(left=first, right=second))


def golden_root_level_configs() -> None:
    @dataclasses.dataclass(frozen=True)
    class PlainConfig:
        n: Any
        s: Any
        output_path: Any

    up = _up("root/up", "u")
    consumer("root/versioned", lambda: versioned(7))
    consumer("root/step", lambda: up)
    consumer("root/list", lambda: [versioned(1), up])
    consumer("root/plain", lambda: PlainConfig(n=3, s="x", output_path=output()))


def _golden_cases() -> list[str]:
    return sorted(json.loads(GOLDEN.read_text())["cases"]) if GOLDEN.exists() else []


@pytest.mark.parametrize("case", _golden_cases())
def test_versions_and_hashes_match_marin(case):
    """Each case of tests/golden/marin_versions.json, rebuilt with @step/deferred from its prose construction."""
    expected = json.loads(GOLDEN.read_text())["cases"][case]["steps"]
    build = globals().get(f"golden_{case}")
    assert build is not None, f"golden case {case!r} has no builder: add golden_{case}() following its construction"
    plan = _compile(step(name=f"golden/{case}")(build), prefix="/prefix")
    got: dict[str, set] = {}
    for spec in plan.spec_of.values():
        path = spec.output_path.removeprefix("/prefix/")
        got.setdefault(spec.name, set()).add((spec.version_str, spec.hash_id, path, spec.depth))
    want: dict[str, set] = {}
    for s in expected:
        want.setdefault(s["name"], set()).add((s["version_json"], s["hash"], s["relative_path"], s["depth"]))
    assert got == want


# -- hash_attrs and dependencies ----------------------------------------------------------------------------------


def test_every_occurrence_of_a_reference_is_its_own_dependency_in_walk_order():
    def entry():
        golden_same_dep_three_times()

    plan = _compile(entry)
    spec = _spec(plan, "triple/consumer")
    assert spec.hash_attrs == {"x": "DEP[0]", "y": "DEP[1]/a", "z.[0]": "DEP[2]"}
    assert spec.deps == [_spec(plan, "triple/up")] * 3


def test_nonblocking_references_share_the_counter_and_go_to_pseudo_deps():
    def entry():
        golden_nonblocking()

    plan = _compile(entry)
    spec = _spec(plan, "nb/eval")
    assert spec.hash_attrs == {"checkpoint": "DEP[0]/checkpoints", "data": "DEP[1]", "model": "DEP[2]"}
    assert spec.deps == [_spec(plan, "nb/tok")]
    assert spec.pseudo_deps == [_spec(plan, "nb/train")] * 2


def test_several_arguments_are_keyed_by_parameter_name_whatever_the_call_style():
    @step(name="trained")
    def positional(data: StepRef):
        return train(data, versioned(0.1), output())

    @step(name="trained")
    def keywords(data: StepRef):
        return train(output_path=output(), lr=versioned(0.1), data=data)

    def entry(make):
        return lambda: make(_up("raw", "u"))

    first = _spec(_compile(entry(positional)), "trained")
    second = _spec(_compile(entry(keywords)), "trained")
    assert first.hash_attrs == {"data": "DEP[0]", "lr": 0.1}
    assert first.version_str == second.version_str


def test_a_single_keyword_argument_is_walked_at_the_root_like_a_positional_one():
    @step(name="by_keyword")
    def by_keyword():
        return download(config=DownloadConfig(url=versioned("u"), output_path=output()))

    assert _spec(_compile(by_keyword), "by_keyword").hash_attrs == {"url": "u"}


# -- what the compiled function receives ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Paths:
    up: Any
    sub: Any
    own: Any
    ckpt: Any
    external: Any
    remote: Any
    lr: Any
    items: Any


def test_compiled_function_receives_concrete_paths_and_unwrapped_values():
    def entry():
        up = _up("up", "u")
        consumer(
            "paths",
            lambda: Paths(
                up=up,
                sub=up / "data/x",
                own=output(),
                ckpt=output("ckpt"),
                external=StepRef.hardcoded("raw/ext"),
                remote=StepRef.hardcoded("gs://b/raw"),
                lr=versioned(0.5),
                items=(up.nonblocking(), {"k": [versioned(1)]}),
            ),
        )

    plan = _compile(entry, prefix="/p")
    spec, up = _spec(plan, "paths"), _spec(plan, "up")
    got = spec.fn(spec.output_path)
    assert got == Paths(
        up=up.output_path,
        sub=f"{up.output_path}/data/x",
        own=spec.output_path,
        ckpt=f"{spec.output_path}/ckpt",
        external="/p/raw/ext",
        remote="gs://b/raw",
        lr=0.5,
        items=(up.output_path, {"k": [1]}),
    )


def test_compiled_function_pickles_without_the_graph():
    def entry():
        up = _up("up", "u")
        consumer("uses", lambda: PairConfig(left=up, right=output()))

    spec = _spec(_compile(entry), "uses")
    restored = pickle.loads(pickle.dumps(spec.fn))
    assert restored("/out") == PairConfig(left=_spec(_compile(entry), "up").output_path, right="/out")


def test_info_carries_description_function_names_and_the_instantiated_config():
    @step(name="described", description="download {url}")
    def described(url: str):
        return download(DownloadConfig(url=versioned(url), output_path=output()))

    spec = _spec(_compile(lambda: described("u")), "described")
    assert spec.info == {
        "description": "download u",
        "fn_name": "tests.test_compiler._download",
        "step_fn_name": described.__wrapped__.__module__ + "." + described.__wrapped__.__qualname__,  # type: ignore[attr-defined]
        "config": {"url": "u", "output_path": spec.output_path},
    }


def test_resources_env_vars_and_pip_groups_pass_through_to_the_spec():
    @step(name="remote", resources={"cpu": 1}, env_vars={"A": "1"}, pip_dependency_groups=["tpu"])
    def remote_step():
        return consume(versioned(1))

    spec = _spec(_compile(remote_step), "remote")
    assert (spec.resources, spec.env_vars, spec.pip_dependency_groups) == ({"cpu": 1}, {"A": "1"}, ["tpu"])


# -- one path, one step ------------------------------------------------------------------------------------------


def test_the_same_step_called_twice_is_one_spec():
    def entry():
        _up("raw", "u")
        _up("raw", "u")

    plan = _compile(entry)
    assert [spec.name for spec in plan.specs] == ["raw"]
    assert len(set(map(id, plan.spec_of.values()))) == 1


def test_different_functions_on_one_output_path_is_a_collision_naming_both_and_writes_nothing(tmp_path):
    @step(name="raw")
    def via_other():
        return other(DownloadConfig(url=versioned("u"), output_path=output()))

    def entry():
        _up("raw", "u")
        via_other()

    with pytest.raises(PathCollisionError, match=r"step 'raw' runs .*_download and step 'raw' runs .*_other"):
        _compile(entry, prefix=str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_two_steps_pinned_to_the_same_path_is_a_collision_and_writes_nothing(tmp_path):
    def entry():
        _up("a", "1").with_output_path("shared/out")
        _up("a", "2").with_output_path("shared/out")

    with pytest.raises(PathCollisionError, match=f"both use output path {tmp_path}/out/shared/out"):
        _compile(entry, prefix=str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_override_output_path_fills_placeholders_under_the_prefix_and_keeps_the_version():
    @step(name="raw/{name}", override_output_path="legacy/{name}-v1")
    def legacy(name: str):
        return download(DownloadConfig(url=versioned("https://example.org/corpus.txt"), output_path=output()))

    spec = _spec(_compile(lambda: legacy("corpus")), "raw/corpus")
    assert (spec.hash_id, spec.output_path) == ("ed8966", "/prefix/legacy/corpus-v1")


def test_pinned_output_path_keeps_the_version_and_warns_with_both_paths(caplog):
    def entry():
        _up("raw/corpus", "https://example.org/corpus.txt").with_output_path("legacy/corpus")

    with caplog.at_level(logging.WARNING, logger="marin_exec.compile.compiler"):
        spec = _spec(_compile(entry), "raw/corpus")
    assert (spec.hash_id, spec.output_path) == ("ed8966", "/prefix/legacy/corpus")
    assert "/prefix/legacy/corpus instead of /prefix/raw/corpus-ed8966" in caplog.text


# -- the plan -------------------------------------------------------------------------------------------------------


def test_plan_lists_steps_after_their_dependencies_and_leaves_out_nonblocking_only_steps():
    trainer: dict[str, StepRef] = {}

    def outside() -> None:
        trainer["ref"] = _up("train", "t")

    outside()

    def entry():
        data = _up("data", "d")
        consumer("eval", lambda: PairConfig(left=data, right=trainer["ref"].nonblocking()))

    plan = _compile(entry)
    assert [spec.name for spec in plan.specs] == ["data", "eval"]
    assert _spec(plan, "eval").pseudo_deps == [_spec(plan, "train")]


def test_group_views_show_each_group_with_its_children_in_call_order():
    @step(name="prep", description="data prep")
    def prep():
        _up("raw", "u")

    @step(name="pipeline")
    def pipeline():
        prep()
        _up("other", "o")

    plan = _compile(pipeline)
    (view,) = plan.group_views()
    assert view.name == "pipeline"
    inner, other_spec = view.children
    assert (inner.name, inner.description, [c.name for c in inner.children]) == ("prep", "data prep", ["raw"])
    assert other_spec is _spec(plan, "other")


def test_passing_a_step_function_instead_of_its_call_says_to_call_it():
    with pytest.raises(TracingError, match=r"the @step function downloaded itself; call it: downloaded\(...\)"):
        compile_graph([downloaded], prefix="/prefix")


def test_config_changed_after_tracing_is_an_error_at_compile_time():
    late: list[Any] = []

    def entry():
        consumer("early", lambda: OneRef(inp=late))
        late.append(_up("later", "x"))

    with pytest.raises(TracingError, match="not there when its body returned"):
        _compile(entry)


_IO_EVENTS = frozenset(
    "open os.listdir os.scandir os.mkdir os.rename os.remove os.rmdir socket.connect subprocess.Popen".split()
)
_io_seen: list[str] | None = None  # set while a test records I/O
_io_thread: int | None = None  # the thread whose I/O is recorded (another test's leftover threads may read /proc)


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _io_seen is not None and event in _IO_EVENTS and threading.get_ident() == _io_thread:
        _io_seen.append(f"{event} {args[:1]!r}")


@contextlib.contextmanager
def _recording_io() -> Iterator[list[str]]:
    """The file, directory, socket and process events of the block (audit hooks cannot be removed: it stays idle)."""
    global _io_seen, _io_thread
    if not getattr(sys, "_marin_exec_test_audit", False):
        sys.addaudithook(_audit)
        sys._marin_exec_test_audit = True  # type: ignore[attr-defined]
    _io_thread = threading.get_ident()
    _io_seen = []
    try:
        yield _io_seen
    finally:
        _io_seen = None


def test_a_10000_step_chain_traces_and_compiles_without_recursion_or_io(tmp_path):
    def entry():
        _chain("long", 10_000)

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(300)  # any recursion along the chain would fail at once
    try:
        with _recording_io() as io_events:
            plan = compile_graph(trace(entry), prefix=str(tmp_path / "out"))
            paths = [spec.output_path for spec in plan.specs]
    finally:
        sys.setrecursionlimit(limit)
    assert io_events == []
    assert len(paths) == 10_000 and plan.specs[-1].depth == 9_999


def test_traced_steps_run_with_the_step_runner_and_load_as_the_library_return_type(tmp_path):
    def entry():
        up = _up("raw", "hello")
        consumer("copy", lambda: PairConfig(left=up / "data.txt", right=output()))

    plan = compile_graph(trace(entry), prefix=str(tmp_path))
    StepRunner().run(plan.specs)
    raw = _spec(plan, "raw")
    assert (pathlib.Path(raw.output_path) / "data.txt").read_text() == "hello"
    assert raw.executable_fn(raw.output_path) == Result("hello")  # a cache hit, loaded as _download's return type
