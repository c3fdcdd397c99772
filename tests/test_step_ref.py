"""StepRef: paths under a step, nonblocking and pinned references, and refusing to be used as data."""

from __future__ import annotations

import os

import pytest

from marin_exec.errors import TracingError
from marin_exec.trace.graph import output, trace
from marin_exec.trace.step import deferred, step
from marin_exec.trace.step_ref import StepRef


def _write(config: dict) -> None:
    return None


write = deferred(_write)


@step(name="tokenized/{name}")
def tokenized(name: str):
    return write({"out": output()})


@step(name="all")
def group_of_one():
    tokenized("a")


def test_repr_reads_like_source():
    ref = tokenized("shakespeare")
    seen = {}

    @step(name="reader")
    def reader():
        seen["own"] = output("ckpt")
        return write({"own": output()})

    reader()
    assert repr(ref) == "tokenized/shakespeare"
    assert repr(ref / "data") == 'tokenized/shakespeare/"data"'
    assert repr((ref / "data").nonblocking()) == 'tokenized/shakespeare/"data".nonblocking()'
    assert repr(seen["own"]) == 'output("ckpt")'
    assert repr(StepRef.hardcoded("raw/external") / "v1") == 'StepRef.hardcoded("raw/external/v1")'


@pytest.mark.parametrize(
    "use",
    [
        pytest.param(bool, id="bool"),
        pytest.param(list, id="iteration"),
        pytest.param(os.fspath, id="fspath"),
        pytest.param(lambda ref: os.path.join(ref, "x"), id="os.path.join"),
        pytest.param(str, id="str"),
        pytest.param(lambda ref: f"{ref}/data", id="f-string"),
        pytest.param(lambda ref: "gs://bucket/" + ref, id="concatenation"),
        pytest.param(lambda ref: ref["data"], id="indexing"),
    ],
)
def test_step_ref_used_as_data_names_the_step_and_says_paths_exist_at_run_time(use):
    ref = tokenized("shakespeare")
    with pytest.raises(TracingError, match=r"tokenized/shakespeare.*exists only when the pipeline runs"):
        use(ref)


def test_step_ref_used_as_data_inside_a_body_names_the_step_being_traced():
    @step(name="consumer")
    def consumer(raw: StepRef):
        if raw:
            return write({"raw": raw})

    with pytest.raises(TracingError, match="while tracing step 'consumer'"):
        consumer(tokenized("a"))


def test_slash_and_cd_build_the_same_sub_path():
    ref = tokenized("a")
    assert ref / "data" / "train.jsonl" == ref.cd("data").cd("train.jsonl") == ref / "data/train.jsonl"


@pytest.mark.parametrize("sub", ["/abs", "../escape", "a/../../b", "", 3])
def test_sub_path_must_be_a_relative_path_string_under_the_step_output(sub):
    with pytest.raises(TracingError, match="sub path"):
        tokenized("a") / sub


def test_with_output_path_pins_the_step_for_every_reference():
    ref = tokenized("a")
    earlier = ref / "data"
    pinned = ref.with_output_path("tokenized/legacy-123")
    assert pinned.node is ref.node
    assert earlier.node is not None and earlier.node.override_output_path == "tokenized/legacy-123"


def test_pinning_one_step_to_two_paths_is_an_error_naming_both():
    ref = tokenized("a").with_output_path("old/one")
    with pytest.raises(TracingError, match="'old/one'.*'old/two'"):
        ref.with_output_path("old/two")


def test_pinning_a_group_is_an_error_saying_to_pin_its_steps():
    graph = trace(group_of_one)
    with pytest.raises(TracingError, match="'all' is a group"):
        StepRef(node=graph.roots[0]).with_output_path("x")


def test_pinning_output_or_a_sub_path_is_an_error():
    @step(name="pins_itself")
    def pins_itself():
        output().with_output_path("x")

    with pytest.raises(TracingError, match="override_output_path"):
        pins_itself()
    with pytest.raises(TracingError, match="only the StepRef returned by calling a @step"):
        (tokenized("a") / "data").with_output_path("x")


def test_own_output_cannot_be_nonblocking():
    @step(name="self_nonblocking")
    def self_nonblocking():
        return write({"x": output().nonblocking()})

    with pytest.raises(TracingError, match=r"step 'self_nonblocking': output\(\).nonblocking\(\).*Use output\(\)"):
        self_nonblocking()


@pytest.mark.parametrize("path", ["", 3])
def test_hardcoded_path_must_be_a_non_empty_string(path):
    with pytest.raises(TracingError, match="non-empty str path"):
        StepRef.hardcoded(path)
