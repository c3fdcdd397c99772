"""Lazy handles in ``@step`` configs, the edges a review found: the walk that replaces a handle stops at marin_exec's
own values (behind a StepRef lies the whole graph above the step: walking it was exponential in its depth), a
``compile_graph`` given a prefix puts the handle under it, a handle where no walk reaches it (a dict key, a plain
object) or in ``versioned()`` is refused in one line, and a pinned handle hashes as a native named dependency does
(``name@version``)."""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

import pytest

pytest.importorskip("pydantic")

import marin_exec.lazy as lazy  # noqa: E402
from marin_exec import ExecutorMainConfig, TracingError, deferred, output, run_executor, step  # noqa: E402
from marin_exec.compile.compiler import compile_graph  # noqa: E402

TOUCHED: list[str] = []  # reads of a Tripwire's field


@dataclasses.dataclass(frozen=True)
class Tripwire:
    """A config value that notes every read of its field (the walk of its own step reads it; nothing else should)."""

    x: int = 0

    def __getattribute__(self, name: str) -> Any:
        if name == "x":
            TOUCHED.append(name)
        return object.__getattribute__(self, name)


def _write(out: str, text: str = "") -> None:
    pathlib.Path(out).mkdir(parents=True, exist_ok=True)
    pathlib.Path(out, "data.txt").write_text(text)


def _tokenized(**options: Any) -> Any:
    return lazy.apply("tokenized/demo", _write, version="2026.12.06", out=lazy.OUT, text="tokens", **options)


@deferred
def _use(config: dict[str, Any], out: str) -> None:
    pathlib.Path(out).mkdir(parents=True, exist_ok=True)


@step(name="layer/{i}")
def layer(up: Any, i: int) -> Any:
    return _use({"up": up, "again": up, "wire": Tripwire()}, output())


@step(name="train/demo")
def train(config: Any) -> Any:
    return _use(config, output())


def test_the_handle_walk_never_enters_the_graph_behind_a_step_ref(prefix):
    upstream = None
    for i in range(30):  # each layer names the one before twice: a walk behind StepRefs would take 2**30 steps
        upstream = layer(upstream, i)
    TOUCHED.clear()
    ref = train({"up": upstream, "data": _tokenized()})
    assert TOUCHED == []  # the layers' configs were not walked again
    specs = compile_graph(ref, prefix=prefix).specs
    assert {spec.name for spec in specs} >= {"tokenized/demo", "train/demo", "layer/29"}


def test_compile_graph_puts_a_handle_in_a_config_under_the_prefix_it_is_given(tmp_path, monkeypatch):
    monkeypatch.delenv("MARIN_PREFIX", raising=False)
    given = str(tmp_path / "given")
    specs = {spec.name: spec for spec in compile_graph(train({"data": _tokenized()}), prefix=given).specs}
    assert specs["tokenized/demo"].output_path == f"{given}/tokenized/demo/2026.12.06"
    assert specs["train/demo"].output_path.startswith(f"{given}/train/demo-")


def test_a_handle_as_a_dict_key_is_refused_in_one_line(prefix):
    with pytest.raises(TracingError) as refused:
        train({"mixture": {_tokenized(): 0.5}})
    message = str(refused.value)
    assert "\n" not in message and "tokenized/demo@2026.12.06 as a key" in message
    assert message.startswith("step 'train/demo': config key 'config.mixture' is a dict with the lazy handle")


class Holder:  # not a dataclass: no config walk looks inside it
    def __init__(self, data: Any) -> None:
        self.data = data


def test_a_handle_inside_an_object_no_walk_enters_is_refused_in_one_line(prefix):
    with pytest.raises(TracingError) as refused:
        train(Holder(_tokenized()))
    message = str(refused.value)
    assert "\n" not in message and "is a Holder holding the lazy handle tokenized/demo@2026.12.06" in message
    assert message.endswith("Make this config a dataclass or a dict.")


def test_a_pinned_handle_enters_the_steps_identity_by_name_and_version_as_a_native_dependency_does(prefix):
    def path_of(handle: Any) -> str:
        report = run_executor([train({"data": handle})], ExecutorMainConfig(dry_run=True))
        return next(o.spec.output_path for o in report.outcomes.values() if o.spec.name == "train/demo")

    assert path_of(_tokenized(pin="elsewhere/a")) == path_of(_tokenized(pin="elsewhere/b")) == path_of(_tokenized())


def test_a_versioned_handle_is_refused_in_one_line_naming_it(prefix):
    from marin_exec import versioned

    with pytest.raises(TracingError) as refused:
        train({"data": versioned(_tokenized())})
    assert str(refused.value) == (
        "step 'train/demo': config key 'config.data' versions the lazy handle tokenized/demo@2026.12.06; a lazy "
        "handle cannot be versioned (its name@version enters this step's version as a dependency's). Pass it "
        "without versioned()."
    )
