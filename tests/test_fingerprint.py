"""Fingerprints, payloads and drift lines are the ones marin-core 0.2.227 gives the same configs.

The golden file was recorded by running Marin (benchmarks/peer/marin_lazy_golden.py) on the inputs in
tests/golden/lazy_types.py; here the same inputs go through marin_exec.fingerprint with Marin's placeholders.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
from typing import Any

import pytest

from marin_exec import fingerprint as fp
from tests.golden import lazy_types as lt

GOLDEN = json.loads((pathlib.Path(__file__).parent / "golden" / "lazy_marin_0227.json").read_text())
HANDLES = {h["case"]: h for h in GOLDEN["handles"]}


@pytest.fixture
def tokenizer_encoder():
    fp.register_fingerprint(lt.Tokenizer, lt.encode_tokenizer)
    yield
    fp.unregister_fingerprint(lt.Tokenizer)


def _placeheld(value: Any) -> Any:
    """An ``apply`` input as Marin's fingerprint context sees it: OUT and dependencies replaced."""
    if isinstance(value, str) and value == lt.OUT:
        return "<output_path>"
    if isinstance(value, lt.Dep):
        return f"{HANDLES[value.case]['name']}@{HANDLES[value.case]['version']}"
    if isinstance(value, list | tuple):
        return type(value)(_placeheld(v) for v in value)
    if isinstance(value, dict):
        return {k: _placeheld(v) for k, v in value.items()}
    return value


def _marin_lines(text: str) -> list[str]:
    return [line.removeprefix("  ") for line in text.splitlines()[2:]]


@pytest.mark.parametrize("case", [*lt.APPLY_CASES, "numpy"])
def test_apply_inputs_fingerprint_as_in_marin(case, tokenizer_encoder):
    inputs = lt.numpy_inputs() if case == "numpy" else lt.APPLY_CASES[case]
    payload = fp.canonical_json(_placeheld(inputs))
    assert payload == HANDLES[case]["fingerprint_payload"]
    assert fp.fingerprint(payload) == HANDLES[case]["fingerprint"]


def test_context_placeholders_fingerprint_as_in_marin():
    config = {
        "data": "tokenized@2026.12.06",
        "out": "<output_path>",
        "prefix": "<prefix>",
        "region": "<region>",
        "tpu": "<tpu>",
        "cache": "<prefix>/cache",
        "model": lt.model(),
    }
    assert fp.fingerprint_of(config) == HANDLES["stats"]["fingerprint"]


def test_builtin_classes_encode_as_numpy_dtypes_without_numpy():
    code = (
        "import sys; from marin_exec.fingerprint import canonical_json; "
        "print(canonical_json([int, float, bool, complex, str])); assert 'numpy' not in sys.modules"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == [
        {"__dtype__": "int64"},
        {"__dtype__": "float64"},
        {"__dtype__": "bool"},
        {"__dtype__": "complex128"},
        {"__type__": "builtins.str"},
    ]


@pytest.mark.parametrize("label", ["one_field", "added_removed", "set_and_enum", "many"])
def test_drift_lines_are_marins(label):
    pair = GOLDEN["drift_pairs"][label]
    assert fp.describe_drift(pair["old_payload"], pair["new_payload"]) == _marin_lines(pair["describe_drift"])


def test_drift_compares_long_values_in_full_and_shortens_them_for_display():
    pair = GOLDEN["drift_pairs"]["long_values"]
    (line,) = fp.describe_drift(pair["old_payload"], pair["new_payload"])
    assert line.startswith("text: 'xxx") and "…xxxxxxxxy' (302 chars)" in line
    assert len(line) < 200


def _with_address(payload: str, address: str) -> str:
    """A payload as Marin wrote it (the golden file has its addresses replaced by ``0x?``)."""
    return payload.replace("0x?", address)


def test_a_default_repr_in_marins_payload_is_never_drift():
    pair = GOLDEN["drift_pairs"]["default_repr"]
    assert not pair["deterministic"] and pair["describe_drift"]  # Marin reports the two addresses as a change
    old, new = _with_address(pair["old_payload"], "0x7f00aa"), _with_address(pair["new_payload"], "0x7f00bb")
    assert fp.describe_drift(old, new) == []


def test_a_default_repr_is_masked_in_our_payload_and_other_changes_still_show():
    old = fp.canonical_json({"obj": lt.Slotted(1), "n": 1})
    new = fp.canonical_json({"obj": lt.Slotted(2), "n": 2})
    assert fp.canonical_json(lt.Slotted(1)) == fp.canonical_json(lt.Slotted(1))  # Marin's differs per instance
    assert fp.describe_drift(old, new) == ["n: 1 -> 2"]
    assert not fp.has_drift(old, fp.canonical_json({"obj": lt.Slotted(3), "n": 1}))


def test_drift_between_our_mask_and_marins_address_is_not_reported():
    ours = fp.canonical_json({"obj": lt.Slotted(1)})
    recorded = json.loads(_with_address(GOLDEN["drift_pairs"]["default_repr"]["old_payload"], "0x7f00aa"))
    marins = json.dumps({"obj": recorded["obj"]}, sort_keys=True)
    assert fp.describe_drift(marins, ours) == []


def test_a_changed_type_is_drift_even_where_values_compare_equal():
    assert fp.describe_drift('{"a": 1}', '{"a": 1.0}') == ["a: 1 -> 1.0"]


def test_missing_payload_describes_no_drift():
    assert fp.describe_drift(None, '{"a": 1}') == []


def test_strict_mode_refuses_what_marins_strict_mode_refuses(tokenizer_encoder):
    values = {**lt.APPLY_CASES["fallbacks"], "slotted": lt.Slotted(1)}
    values.pop("out")
    for key, value in values.items():
        marin = GOLDEN["strict_mode"][key]
        if marin.startswith("TypeError"):
            with pytest.raises(TypeError, match="cannot fingerprint"):
                fp.canonical_json({key: value}, strict=True)
        else:
            assert fp.canonical_json({key: value}, strict=True) == marin


def test_registered_encoders_come_after_builtin_forms():
    fp.register_fingerprint(lt.Optimizer, lambda value: "never used")
    try:
        assert fp.canonical_json(lt.Optimizer()) == fp.canonical_json(
            {"betas": [0.9, 0.95], "lr": 3e-4, "name": "adamw", "schedule": {"decay": "cosine", "warmup": 100}}
        )
    finally:
        fp.unregister_fingerprint(lt.Optimizer)
