"""Benchmark graphs of trivial steps — chain, fan-out/fan-in, diamond lattice, realistic sweep — built two ways.

``build_specs`` makes ``StepSpec`` objects directly (the runtime core alone). ``build_traced`` writes the same
shapes as ``@step``/``deferred`` wiring code, for timing trace + compile; it needs ``marin_exec.compile.compiler`` and
raises ``TracingUnavailable`` until that has landed. Every step's function does nothing, so timings are the
framework's own cost. This module builds graphs only: it does no I/O and times nothing.

Shapes for a size ``n`` (the number of steps, exact for every shape):

- ``chain``: ``s0 <- s1 <- ... <- s{n-1}``, depth ``n - 1``.
- ``fanout``: one root, ``n - 2`` independent middles that each need the root, one sink that needs all of them.
- ``diamond``: a lattice ``width`` wide and ``n / width`` deep; a node needs nodes ``i`` and ``i + 1`` (mod
  width) of the layer above, so every pair of layers is a row of diamonds.
- ``sweep``: ``n / 50`` datasets, each ``download -> tokenize -> 4 model sizes x (train -> 11 evals)``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

SHAPES = ("chain", "fanout", "diamond", "sweep")
SWEEP_MODEL_SIZES = ("150m", "300m", "600m", "1b")
SWEEP_EVALS = 11  # per trained model
SWEEP_PER_DATASET = 2 + len(SWEEP_MODEL_SIZES) * (1 + SWEEP_EVALS)  # = 50


class TracingUnavailable(RuntimeError):
    """The tracing front end (marin_exec.compile.compiler with @step/deferred) is not importable yet."""


def trivial(output_path: str) -> int:
    """The body of every StepSpec benchmark step: no work, a one-int artifact."""
    return 1


def diamond_width(n: int) -> int:
    """Width of the lattice for ``n`` steps: about sqrt(n), rounded to a divisor of n (10x20, 25x40, 100x100)."""
    for width in sorted(range(1, n + 1), key=lambda w: (abs(w - math.isqrt(n)), w)):
        if n % width == 0 and width >= 2:
            return width
    return n


def check_size(shape: str, n: int) -> None:
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; expected one of {SHAPES}")
    if n < 3:
        raise ValueError(f"{shape}: size {n} is too small (at least 3 steps)")
    if shape == "sweep" and n % SWEEP_PER_DATASET:
        raise ValueError(f"sweep: size {n} is not a multiple of {SWEEP_PER_DATASET} steps per dataset")


# -- StepSpec front end ---------------------------------------------------------------------------------------


def build_specs(
    shape: str, n: int, prefix: str, fn: Callable[[str], Any] = trivial, spec_class: Any = None
) -> list[Any]:
    """The ``n`` StepSpecs of ``shape`` under ``prefix``, dependencies before dependents.

    ``spec_class`` defaults to marin_exec's StepSpec; Marin's own (``marin.execution.step_spec.StepSpec``) takes
    the same keyword arguments, so the peer benchmark builds identical graphs with it.
    """
    if spec_class is None:
        from marin_exec import StepSpec as spec_class

    check_size(shape, n)

    def spec(name: str, deps: list[Any], **attrs: Any) -> Any:
        return spec_class(name=name, fn=fn, deps=deps, hash_attrs=attrs, output_path_prefix=prefix)

    specs: list[Any] = []
    if shape == "chain":
        for i in range(n):
            specs.append(spec(f"chain/s{i}", specs[-1:], i=i))
    elif shape == "fanout":
        root = spec("fanout/root", [])
        middles = [spec(f"fanout/m{i}", [root], i=i) for i in range(n - 2)]
        specs = [root, *middles, spec("fanout/sink", middles)]
    elif shape == "diamond":
        width = diamond_width(n)
        layer: list[Any] = []
        for depth in range(n // width):
            layer = [
                spec(f"diamond/d{depth}/w{i}", [layer[i], layer[(i + 1) % width]] if layer else [], i=i)
                for i in range(width)
            ]
            specs.extend(layer)
    else:
        for d in range(n // SWEEP_PER_DATASET):
            raw = spec(f"sweep/raw/ds{d}", [], url=f"https://example.org/ds{d}.jsonl")
            tok = spec(f"sweep/tokenized/ds{d}", [raw], tokenizer="llama3")
            specs += [raw, tok]
            for size in SWEEP_MODEL_SIZES:
                model = spec(f"sweep/train/ds{d}-{size}", [tok], size=size, lr=3e-4)
                specs.append(model)
                specs += [spec(f"sweep/eval/ds{d}-{size}/task{k}", [model], task=k) for k in range(SWEEP_EVALS)]
    return specs


def roots(shape: str, specs: list[Any]) -> list[Any]:
    """The specs a runner must be given so that it walks the whole graph (sinks only: the rest are deps)."""
    if shape in ("chain", "fanout"):
        return specs[-1:]
    needed = {id(dep) for s in specs for dep in s.deps}
    return [s for s in specs if id(s) not in needed]


# -- traced front end (@step / deferred) -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class NodeConfig:
    """Config of every traced benchmark step: a versioned index, its inputs (StepRefs) and its output path."""

    key: Any
    inputs: list[Any]
    output_path: Any


def _noop(config: NodeConfig) -> int:
    return 1


def traced_entry(shape: str) -> Callable[[int], Any]:
    """The ``@step`` entry point (a group) whose call traces ``shape``; TracingUnavailable before compiler.py."""
    try:
        import marin_exec.compile.compiler  # noqa: F401 - only checks that the front end has landed
        from marin_exec import deferred, output, step, versioned
    except ImportError as e:
        raise TracingUnavailable(f"tracing not landed ({e})") from e

    node = deferred(_noop)

    @step(name="{kind}/{label}")
    def leaf(kind: str, label: str, key: Any, inputs: list[Any]) -> Any:
        return node(NodeConfig(key=versioned(key), inputs=inputs, output_path=output()))

    @step(name="bench/chain{n}")
    def chain(n: int) -> None:
        previous: list[Any] = []
        for i in range(n):
            previous = [leaf(kind="chain", label=f"s{i}", key=i, inputs=previous)]

    @step(name="bench/fanout{n}")
    def fanout(n: int) -> None:
        root = leaf(kind="fanout", label="root", key=0, inputs=[])
        middles = [leaf(kind="fanout", label=f"m{i}", key=i, inputs=[root]) for i in range(n - 2)]
        leaf(kind="fanout", label="sink", key=0, inputs=middles)

    @step(name="bench/diamond{n}")
    def diamond(n: int) -> None:
        width = diamond_width(n)
        layer: list[Any] = []
        for depth in range(n // width):
            layer = [
                leaf(
                    kind="diamond",
                    label=f"d{depth}/w{i}",
                    key=i,
                    inputs=[layer[i], layer[(i + 1) % width]] if layer else [],
                )
                for i in range(width)
            ]

    @step(name="bench/sweep{n}")
    def sweep(n: int) -> None:
        for d in range(n // SWEEP_PER_DATASET):
            raw = leaf(kind="sweep/raw", label=f"ds{d}", key=f"https://example.org/ds{d}.jsonl", inputs=[])
            tok = leaf(kind="sweep/tokenized", label=f"ds{d}", key="llama3", inputs=[raw])
            for size in SWEEP_MODEL_SIZES:
                model = leaf(kind="sweep/train", label=f"ds{d}-{size}", key=size, inputs=[tok])
                for k in range(SWEEP_EVALS):
                    leaf(kind="sweep/eval", label=f"ds{d}-{size}/task{k}", key=k, inputs=[model])

    return {"chain": chain, "fanout": fanout, "diamond": diamond, "sweep": sweep}[shape]
