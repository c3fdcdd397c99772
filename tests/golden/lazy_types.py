"""The config values of the lazy-artifact golden cases (tests/golden/lazy_marin_0227.json), importable without Marin.

Both sides import this module as ``tests.golden.lazy_types``: benchmarks/peer/marin_lazy_golden.py hands these values
to marin-core 0.2.227's ``apply``/``ArtifactStep`` and records what Marin made of them; tests/test_fingerprint.py
hands the same values to marin_exec's fingerprint module and compares. Class names enter the canonical JSON
(``__type__``, ``__repr__``), so the module path must be the same on both sides. Imports neither Marin nor
marin_exec; numpy only inside ``numpy_inputs``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

# Stand-ins, in ``inputs`` values, for what a lazy handle pulls from its context. The golden script turns them into
# ``OUT`` / dependency handles / ``ctx`` reads; the tests into Marin's fingerprint placeholders.
OUT = "<<OUT>>"


@dataclass(frozen=True)
class Dep:
    """A dependency on another case's handle, by case name."""

    case: str


class Precision(enum.Enum):
    BF16 = "bf16"
    FP32 = "fp32"


class Stage(enum.Enum):
    TRAIN = 1
    EVAL = 2


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 3


@dataclass(frozen=True)
class Optimizer:
    name: str = "adamw"
    lr: float = 3e-4
    betas: tuple[float, float] = (0.9, 0.95)
    schedule: dict[str, Any] = field(default_factory=lambda: {"warmup": 100, "decay": "cosine"})


@dataclass(frozen=True)
class ModelConfig:
    layers: int
    hidden: int
    precision: Precision
    optimizer: Optimizer
    tags: frozenset[str]
    vocab: Path
    stages: tuple[Stage, ...]
    notes: str | None = None


class Opaque:
    """Not a dataclass, no ``__repr__``, but a ``__dict__``: Marin records its type name and its vars."""

    def __init__(self, depth: int, names: list[str]) -> None:
        self.depth = depth
        self.names = names


class Slotted:
    """No ``__dict__`` and the default repr (a memory address): Marin's form differs in every process."""

    __slots__ = ("x",)

    def __init__(self, x: int) -> None:
        self.x = x


class Spelled:
    """No ``__dict__`` but a deterministic ``__repr__``: Marin records the repr."""

    __slots__ = ("x",)

    def __init__(self, x: int) -> None:
        self.x = x

    def __repr__(self) -> str:
        return f"Spelled({self.x})"


class Tokenizer:
    """Has an encoder registered for it (``encode_tokenizer``); a subclass uses it too."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class FastTokenizer(Tokenizer):
    __slots__ = ()


def encode_tokenizer(value: Tokenizer) -> object:
    return {"tokenizer": value.name}


def helper_function(x: int) -> int:
    return x


def model(layers: int = 4, lr: float = 3e-4, tags: frozenset[str] = frozenset({"b", "a"})) -> ModelConfig:
    return ModelConfig(
        layers=layers,
        hidden=256,
        precision=Precision.BF16,
        optimizer=Optimizer(lr=lr),
        tags=tags,
        vocab=Path("/data/vocab.json"),
        stages=(Stage.TRAIN, Stage.EVAL),
    )


# Each case: keyword inputs of an ``apply`` call. Values may be OUT or Dep(...) (also nested in lists, tuples and
# dicts, as ``apply`` allows). Order matters: a case may depend only on cases above it.
APPLY_CASES: dict[str, dict[str, Any]] = {
    "raw": {"url": "https://example.com/raw.jsonl", "shards": 4, "out": OUT},
    "scalars": {
        "i": 7,
        "f": 0.1,
        "big": 1e300,
        "neg": -0.0,
        "b": True,
        "none": None,
        "s": 'héllo "quoted" \n',
        "out": OUT,
    },
    "containers": {
        "lst": [3, 1, 2],
        "tup": (1, "a", (2.5, None)),
        "dct": {"z": 1, "a": {"nested": [1, {"k": "v"}]}, "m": ()},
        "intkeys": {10: "ten", 2: "two"},
        "set": {"pear", "apple", "fig"},
        "fset": frozenset({3, 1, 2}),
        "empty_set": set(),
        "out": OUT,
    },
    "typed": {
        "model": model(),
        "precision": Precision.FP32,
        "stage": Stage.EVAL,
        "level": Level.HIGH,
        "path": Path("relative/dir"),
        "delta": timedelta(days=1, seconds=30, microseconds=5),
        "cls": Optimizer,
        "builtin_type": str,
        "int_type": int,
        "float_type": float,
        "bool_type": bool,
        "out": OUT,
    },
    "fallbacks": {
        "opaque": Opaque(2, ["x", "y"]),
        "spelled": Spelled(5),
        "func": helper_function,
        "builtin_fn": len,
        "tokenizer": Tokenizer("gpt2"),
        "fast_tokenizer": FastTokenizer("llama3"),
        "out": OUT,
    },
    "tokenized": {"raw": Dep("raw"), "tokenizer": "gpt2", "seq_len": 1024, "out": OUT},
    "train": {
        "data": Dep("tokenized"),
        "mix": {"a": Dep("raw"), "b": [Dep("tokenized"), 0.5]},
        "model": model(layers=8),
        "out": OUT,
    },
}


def numpy_inputs() -> dict[str, Any]:
    """Inputs with numpy values (Marin encodes dtypes, scalars and arrays canonically)."""
    import numpy as np

    return {
        "dtype": np.dtype("float32"),
        "dtype_type": np.float32,
        "scalar": np.int64(3),
        "fscalar": np.float32(0.5),
        "array": np.arange(6, dtype=np.int32).reshape(2, 3),
        "out": OUT,
    }


# Old and new configs whose drift Marin describes (describe_drift of their fingerprint payloads).
DRIFT_PAIRS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "one_field": ({"model": model(), "out": OUT}, {"model": model(lr=1e-3), "out": OUT}),
    "added_removed": ({"a": 1, "b": [1, 2], "out": OUT}, {"a": 1, "c": "new", "b": [1, 2, 3], "out": OUT}),
    "set_and_enum": (
        {"tags": {"a", "b"}, "p": Precision.BF16, "out": OUT},
        {"tags": {"a", "c"}, "p": Precision.FP32, "out": OUT},
    ),
    "long_values": ({"text": "x" * 300, "out": OUT}, {"text": "x" * 299 + "y", "out": OUT}),
    "many": ({f"k{i:02d}": i for i in range(25)}, {f"k{i:02d}": i + 1 for i in range(25)}),
    "default_repr": ({"obj": Slotted(1), "n": 1, "out": OUT}, {"obj": Slotted(2), "n": 1, "out": OUT}),
}
