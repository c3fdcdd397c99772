"""Recipe drift of named steps (issue 19): a cached named step whose config changed without a version bump is
served from the cache, with a field-level diff of the recorded fingerprint payload in the dry run and as a warning
in a real run; values with only a default repr are masked; ``dev`` steps are never drift."""

from __future__ import annotations

import json
import logging
import pathlib

import pytest

from marin_exec import StepRef, deferred, output, step
from marin_exec.run.cli import parse_args, run_executor

CALLS: list[float] = []


class Opaque:
    __slots__ = ()  # a default repr, with its address: never comparable


def _train(out: str, lr: float, opaque: object = None) -> None:
    CALLS.append(lr)
    pathlib.Path(out).mkdir(parents=True, exist_ok=True)


train = deferred(_train)


@step(name="train", version="2026.12.06")
def trained(lr: float = 0.1):
    return train(output(), lr, Opaque())


@step(name="scratch", version="dev")
def scratch(lr: float = 0.1):
    return train(output(), lr)


def _run(tmp_path, *steps, dry: bool = False, capsys=None) -> str:
    flags = ["--prefix", str(tmp_path)] + (["--dry_run"] if dry else [])
    run_executor(list(steps), parse_args(flags))
    return capsys.readouterr().out if capsys is not None else ""


def test_a_changed_recipe_is_served_from_cache_with_a_field_level_diff(tmp_path, capsys, caplog):
    _run(tmp_path, trained())
    CALLS.clear()
    out = _run(tmp_path, trained(lr=0.2), dry=True, capsys=capsys)
    assert "[done]" in out and "drift: recipe differs from the recorded one (fingerprint " in out
    assert "lr: 0.1 -> 0.2; the cached output is served (bump the version to build the new recipe)" in out
    with caplog.at_level(logging.WARNING):
        _run(tmp_path, trained(lr=0.2))
    assert CALLS == []
    assert any(
        "train: cached, but its recipe differs" in r.getMessage() and "lr: 0.1 -> 0.2" in r.getMessage()
        for r in caplog.records
    )


def test_a_value_with_only_a_default_repr_is_never_drift(tmp_path, capsys):
    _run(tmp_path, trained())
    info_path = tmp_path / "train/2026.12.06/.executor_info"
    info = json.loads(info_path.read_text())
    assert "<default repr" in info["fingerprint_payload"]
    # as Marin records it: the address itself, which differs in every process
    info["fingerprint_payload"] = info["fingerprint_payload"].replace(
        json.loads(info["fingerprint_payload"])["opaque"]["str"], "<tests.Opaque object at 0x7f00deadbeef>"
    )
    info_path.write_text(json.dumps(info))
    out = _run(tmp_path, trained(), dry=True, capsys=capsys)
    assert "drift: " not in out


def test_a_dev_step_is_never_drift_it_rebuilds(tmp_path, capsys):
    _run(tmp_path, scratch())
    CALLS.clear()
    out = _run(tmp_path, scratch(lr=0.3), dry=True, capsys=capsys)
    assert "drift: " not in out and "[will run]" in out and "mutable (dev)" in out
    _run(tmp_path, scratch(lr=0.3))
    assert CALLS == [0.3]


def _tokenize(raw: str, tokenizer: str, seq_len: int, out: str) -> None:
    CALLS.append(seq_len)


tokenize = deferred(_tokenize)


@step(name="raw", version="2026.12.06")
def raw():
    return train(output(), 0.0)


@step(name="tokenized", version="2026.12.06")
def tokenized(data: StepRef, seq_len: int = 1024):
    return tokenize(raw=data, tokenizer="gpt2", seq_len=seq_len, out=output())


def test_drift_against_a_record_marin_wrote(tmp_path, capsys):
    from tests.test_named_golden import HANDLES

    files = HANDLES["tokenized"]["files"]
    out = tmp_path / "tokenized/2026.12.06"
    out.mkdir(parents=True)
    for name, text in files.items():  # Marin's record, its schedule-time .executor_info stub, SUCCESS
        (out / name).write_text(text.replace("{prefix}", str(tmp_path)))
    text = _run(tmp_path, tokenized(raw(), seq_len=2048), dry=True, capsys=capsys)
    assert "[done]" in text and "): seq_len: 1024 -> 2048; the cached output is served" in text


def test_a_pinned_fingerprint_that_differs_from_the_recorded_build_stops_the_run(tmp_path, capsys):
    from marin_exec.errors import FingerprintMismatchError

    _run(tmp_path, trained())
    now = _compile_fingerprint(tmp_path, lr=0.2)

    @step(name="train", version="2026.12.06", expected_fingerprint=now)
    def pinned(lr: float = 0.2):
        return train(output(), lr, Opaque())

    CALLS.clear()
    with pytest.raises(FingerprintMismatchError, match=rf"pinned to expected_fingerprint {now}, but .*lr: 0.1 -> 0.2"):
        _run(tmp_path, pinned())
    assert CALLS == []


def _compile_fingerprint(tmp_path, lr: float) -> str:
    from marin_exec.compile.compiler import compile_graph

    return compile_graph([trained(lr=lr)], prefix=str(tmp_path)).specs[0].fingerprint
