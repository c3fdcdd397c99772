"""Tracing: @step bodies record deferred calls, groups stand for their children, and misuse is a clear error."""

from __future__ import annotations

import dataclasses
import datetime
import gc
import weakref

import pytest

from marin_exec.errors import StepDefinitionError, TracingError, VersioningError
from marin_exec.trace.context import current_frame, gc_paused
from marin_exec.trace.graph import DeferredCall, output, trace
from marin_exec.trace.markers import versioned
from marin_exec.trace.step import deferred, step
from marin_exec.trace.step_ref import StepRef

CALLS: list[object] = []


@dataclasses.dataclass(frozen=True)
class Config:
    input_path: object = None
    output_path: object = None
    size: object = None


def _process(config: Config) -> Config:
    """Library function: records that it ran."""
    CALLS.append(config)
    return config


process = deferred(_process)


@step(name="raw/{name}", description="download {name} at size {size}")
def raw(name: str, size: int = 3):
    return process(Config(output_path=output(), size=versioned(size)))


@step(name="tokenized/{name}")
def tokenized(name: str, source: StepRef):
    return process(Config(input_path=source / "data", output_path=output()))


def test_calling_a_step_records_the_deferred_call_and_runs_nothing():
    CALLS.clear()
    ref = raw("corpus")
    assert CALLS == []
    assert ref.node is not None and isinstance(ref.node.call, DeferredCall)
    assert ref.node.call.fn is _process


def test_deferred_outside_tracing_runs_the_function_with_versioned_values_unwrapped():
    assert process(Config(size=versioned(5))) == Config(size=5)


def test_decorators_keep_name_doc_and_wrapped():
    assert (process.__name__, process.__doc__, process.__wrapped__) == ("_process", _process.__doc__, _process)  # type: ignore[attr-defined]

    def documented(name: str):
        """Docstring."""
        return process(Config(output_path=output()))

    decorated = step(name="d")(documented)
    assert (decorated.__name__, decorated.__doc__, decorated.__wrapped__) == ("documented", "Docstring.", documented)  # type: ignore[attr-defined]


def test_placeholders_are_filled_from_arguments_including_defaults():
    ref = raw(name="corpus")
    assert ref.node is not None
    assert (ref.node.name, ref.node.description) == ("raw/corpus", "download corpus at size 3")


def test_unknown_placeholder_is_an_error_naming_the_function_and_placeholder():
    with pytest.raises(TracingError, match=r"unknown_placeholder.*\{dataset\}"):

        @step(name="tokenized/{dataset}")
        def unknown_placeholder(name: str):
            return process(Config())


def test_placeholder_filled_with_a_step_ref_is_an_error():
    @step(name="derived/{source}")
    def derived(source: StepRef):
        return process(Config(input_path=source))

    with pytest.raises(TracingError, match="plain parameters"):
        derived(raw("a"))


def test_step_applied_twice_is_refused_at_decoration():
    with pytest.raises(StepDefinitionError, match="applied twice"):

        @step(name="outer")
        @step(name="inner")
        def twice():
            return process(Config())


def test_deferred_applied_twice_is_refused():
    with pytest.raises(StepDefinitionError, match="applied twice"):
        deferred(process)


def test_step_without_a_name_is_refused_with_an_example():
    with pytest.raises(StepDefinitionError, match='@step\\(name="nameless"\\)'):

        @step  # type: ignore[arg-type]
        def nameless():
            return process(Config())


@pytest.mark.parametrize("name", ["a/../b", "a//b", "/abs", "tab\there", "", "trailing/"])
def test_bad_step_name_is_rejected_at_definition(name):
    with pytest.raises(StepDefinitionError, match="invalid"):

        @step(name=name)
        def badly_named():
            return process(Config())


def test_bad_name_from_a_placeholder_value_is_rejected_when_called():
    with pytest.raises(StepDefinitionError, match=r"raw/has\\nnewline"):
        raw("has\nnewline")


def test_output_outside_a_step_body_says_to_call_it_inside_one():
    with pytest.raises(TracingError, match="inside a @step function body"):
        output()


def test_output_at_the_top_level_of_a_trace_names_the_trace():
    def entry():
        output()

    with pytest.raises(TracingError, match=r"outside a @step function body \(in trace\(.*entry\)"):
        trace(entry)


def test_output_of_one_step_used_in_another_step_is_an_error():
    leaked = {}

    @step(name="leaks")
    def leaks():
        leaked["ref"] = output()
        return process(Config(output_path=output()))

    @step(name="uses_leaked")
    def uses_leaked():
        return process(Config(input_path=leaked["ref"]))

    leaks()
    with pytest.raises(TracingError, match=r"step 'uses_leaked': .*'input_path' holds output\(\) of step 'leaks'"):
        uses_leaked()


def test_reading_an_attribute_of_a_deferred_call_is_an_error_explaining_why():
    @step(name="reads_result")
    def reads_result():
        result = process(Config())
        return process(Config(size=result.size))

    with pytest.raises(TracingError, match=r"'.size'.*result does not exist yet"):
        reads_result()


@pytest.mark.parametrize("use", [pytest.param(bool, id="bool"), pytest.param(list, id="iteration")])
def test_using_the_result_of_a_deferred_call_as_data_is_an_error_naming_the_step(use):
    @step(name="tests_result")
    def tests_result():
        use(process(Config()))

    with pytest.raises(TracingError, match=r"step 'tests_result': the result of .*_process\(...\)"):
        tests_result()


def test_body_returning_something_else_is_an_error():
    @step(name="returns_int")
    def returns_int():
        return 3

    with pytest.raises(TracingError, match="returned int 3"):
        returns_int()


def test_body_that_calls_a_deferred_function_but_returns_none_says_to_return_it():
    @step(name="forgot_return")
    def forgot_return():
        process(Config(output_path=output()))

    with pytest.raises(TracingError, match="`return _process\\(...\\)`"):
        forgot_return()


def test_body_making_two_deferred_calls_is_an_error():
    @step(name="two_calls")
    def two_calls():
        process(Config())
        return process(Config())

    with pytest.raises(TracingError, match="exactly one deferred call"):
        two_calls()


@pytest.mark.parametrize(
    "option",
    [
        {"override_output_path": "legacy/x"},
        {"resources": {"cpu": 1}},
        {"env_vars": {"A": "1"}},
        {"pip_dependency_groups": ["tpu"]},
    ],
    ids=lambda option: next(iter(option)),
)
def test_job_options_on_a_group_are_an_error_naming_the_option(option):
    @step(name="grouped", **option)
    def grouped():
        raw("a")

    with pytest.raises(TracingError, match=rf"'grouped'.*is a group.*{next(iter(option))} would apply to nothing"):
        grouped()


def test_group_stands_for_the_steps_its_body_called():
    @step(name="pipeline")
    def pipeline():
        source = raw("a")
        tokenized("a", source)

    graph = trace(pipeline)
    (root,) = graph.roots
    assert root.is_group
    assert [child.name for child in root.children] == ["raw/a", "tokenized/a"]
    assert [node.name for node in graph.steps] == ["raw/a", "tokenized/a"]


def test_group_reference_in_a_config_names_the_group_and_its_steps():
    @step(name="prep")
    def prep():
        raw("a")

    with pytest.raises(TracingError, match=r"'prep', which is a group.*raw/a"):
        tokenized("a", prep())


def test_dependencies_are_exactly_the_references_in_the_config():
    @step(name="pipeline")
    def pipeline():
        raw("unrelated")
        source = raw("a")
        tokenized("a", source)

    graph = trace(pipeline)
    by_name = {node.name: node for node in graph.nodes}
    assert by_name["tokenized/a"].dependencies == [by_name["raw/a"]]
    assert "raw/unrelated" in by_name  # called, so in the plan, but nobody waits for it


def test_references_are_found_in_nested_dataclasses_dicts_lists_and_tuples():
    @dataclasses.dataclass(frozen=True)
    class Outer:
        inner: Config
        table: dict
        items: list
        pair: tuple

    @step(name="nested")
    def nested(a: StepRef, b: StepRef):
        config = Outer(inner=Config(input_path=a), table={"x": b}, items=[1, a / "f"], pair=(b, 2))
        return process(config)

    ref = nested(raw("a"), raw("b"))
    assert ref.node is not None
    assert [key for key, _ in ref.node.refs] == ["inner.input_path", "table.x", "items.[1]", "pair.[0]"]


def test_a_set_holding_a_reference_is_an_error():
    @step(name="with_set")
    def with_set(a: StepRef):
        return process(Config(input_path={a}))

    with pytest.raises(TracingError, match="sets have no stable order"):
        with_set(raw("a"))


def test_step_ref_as_a_dict_key_is_an_error_saying_to_put_it_in_the_value():
    @step(name="weighted")
    def weighted(a: StepRef):
        return process(Config(input_path={a: 0.5}))

    with pytest.raises(TracingError, match=r"step 'weighted': config key 'input_path' is a dict with raw/a as a key"):
        weighted(raw("a"))


def test_versioned_applied_to_a_versioned_value_is_an_error_naming_the_step():
    @step(name="versions_twice")
    def versions_twice():
        return process(Config(size=versioned(versioned(1))))

    with pytest.raises(TracingError, match="step 'versions_twice': .*cannot be nested"):
        versions_twice()


def test_nested_versioned_is_an_error():
    @step(name="nested_versioned")
    def nested_versioned():
        return process(Config(size=versioned([versioned(1)])))

    with pytest.raises(TracingError, match="cannot be nested"):
        nested_versioned()


def test_versioning_a_step_ref_is_an_error_naming_the_step():
    @step(name="versions_ref")
    def versions_ref(a: StepRef):
        return process(Config(input_path=versioned(a)))

    with pytest.raises(TracingError, match="step 'versions_ref': .*cannot be versioned"):
        versions_ref(raw("a"))


def test_step_ref_inside_a_versioned_value_is_an_error():
    @step(name="ref_inside_versioned")
    def ref_inside_versioned(a: StepRef):
        return process(Config(input_path=versioned({"paths": [a]})))

    with pytest.raises(TracingError, match="input_path.paths.\\[0\\].*cannot be versioned"):
        ref_inside_versioned(raw("a"))


def test_unencodable_versioned_value_names_the_dotted_key_and_type():
    @step(name="unencodable")
    def unencodable():
        return process(Config(size=versioned({"when": datetime.date(2024, 1, 1)})))

    with pytest.raises(VersioningError, match=r"unencodable.*'size.when'.*datetime.date"):
        unencodable()


def test_unencodable_versioned_value_at_the_root_of_the_config_says_so():
    @step(name="unencodable_root")
    def unencodable_root():
        return process(versioned(datetime.date(2024, 1, 1)))

    with pytest.raises(VersioningError, match=r"unencodable_root.*'<whole config>'.*datetime.date"):
        unencodable_root()


def test_deferred_call_result_in_a_config_is_an_error():
    @step(name="chained")
    def chained():
        return process(Config(input_path=process(Config())))

    with pytest.raises(TracingError, match="Make that call its own @step"):
        chained()


def test_tracing_context_is_reset_when_a_body_raises():
    @step(name="fails")
    def fails():
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        fails()
    assert current_frame() is None


def test_trace_of_a_plain_function_collects_its_top_level_step_calls():
    def entry():
        raw("a")
        raw("b")

    assert [node.name for node in trace(entry).roots] == ["raw/a", "raw/b"]


def test_deferred_called_outside_tracing_with_a_step_ref_is_an_error():
    with pytest.raises(TracingError, match="outside any @step body"):
        process(Config(input_path=raw("a")))


def test_deferred_called_during_trace_but_outside_a_step_body_is_an_error():
    with pytest.raises(TracingError, match="outside any @step body"):
        trace(lambda: process(Config()))


def test_deferred_call_repr_reads_like_source():
    ref = tokenized("a", raw("a"))
    assert ref.node is not None
    assert repr(ref.node.call) == '_process(Config(input_path=raw/a/"data", output_path=output(), size=None))'


def test_wrong_arguments_to_a_deferred_function_are_an_error_showing_its_signature():
    @step(name="wrong_args")
    def wrong_args():
        return process(Config(), Config())

    with pytest.raises(TracingError, match=r"step 'wrong_args': .*cannot be called.*takes: _process\(config\b"):
        wrong_args()


def test_step_ref_from_a_finished_trace_can_feed_a_later_top_level_call():
    source = raw("a")
    consumer = tokenized("a", source)
    assert consumer.node is not None
    assert consumer.node.dependencies == [source.node]
    assert isinstance(consumer, StepRef)


def test_a_step_called_again_with_equal_arguments_is_traced_once():
    """Regression: bodies that call their upstream steps were re-traced per path, exponential in depth."""
    from marin_exec import deferred, output, step, trace, versioned

    traced: list[tuple[int, int]] = []
    record = deferred(_identity)

    @step(name="lattice/l{level}-{i}")
    def node(level: int, i: int):
        traced.append((level, i))
        ups = [node(level=level - 1, i=j) for j in range(3)] if level else []
        return record({"level": versioned(level), "i": versioned(i), "ups": ups, "out": output()})

    @step(name="lattice/top")
    def top():
        for i in range(3):
            node(level=8, i=i)

    graph = trace(top)
    assert len(traced) == 27 == len(set(traced))  # 9 levels x 3; without memoising: 3 + 9 + ... + 3**9 bodies
    assert len(graph.steps) == 27


def _identity(config: dict) -> dict:
    return config


@dataclasses.dataclass(frozen=True)
class _Knobs:
    lr: object = 1


@step(name="knobs")
def _knob_step(knobs: _Knobs):
    return process(Config(output_path=output(), size=versioned(knobs.lr)))


@step(name="knob-sweep")
def _knob_sweep(values: tuple):
    for v in values:
        _knob_step(_Knobs(lr=v))


@pytest.mark.parametrize("a, b", [(1, 1.0), (0.0, -0.0), (True, 1)])
def test_calls_equal_in_python_but_versioned_differently_are_distinct_steps(a, b):
    # The memo once keyed calls by equality, so knobs(lr=1) and knobs(lr=1.0) were traced as one step: one of
    # them silently vanished, and which path it got depended on call order.
    graph = trace(_knob_sweep, (a, b))
    sizes = [n.call.args[0].size for n in graph.nodes if n.name == "knobs"]
    assert [repr(s.value) for s in sizes] == [repr(a), repr(b)]


def test_tracing_pauses_the_garbage_collector_and_leaves_it_as_it_found_it():
    seen: list[bool] = []

    @step(name="gc/{n}")
    def probe(n: int):
        seen.append(gc.isenabled())
        if n < 0:
            raise ValueError("bad n")
        return process(Config(output_path=output(), size=versioned(n)))

    probe(1)
    with pytest.raises(ValueError, match="bad n"):
        probe(-1)
    assert seen == [False, False] and gc.isenabled()
    gc.disable()
    try:
        probe(2)
        assert not gc.isenabled()  # a caller's own choice is kept
    finally:
        gc.enable()


def test_a_paused_block_that_made_many_objects_leaves_them_collectable_and_nothing_frozen():
    class Cycle:
        pass

    frozen_before = gc.get_freeze_count()  # not 0 on Python 3.12: the interpreter starts with objects frozen
    with gc_paused():
        kept = [[] for _ in range(150_000)]  # more than the promotion threshold: promoted, not scanned
        garbage = Cycle()
        garbage.me = garbage  # type: ignore[attr-defined]
        gone = weakref.ref(garbage)
        del garbage
    assert gc.isenabled() and gc.get_freeze_count() <= frozen_before and len(kept) == 150_000
    gc.collect()
    assert gone() is None
