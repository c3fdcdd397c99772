"""What loaded before values of Marin's own ``Artifact`` subclasses came back typed still loads (the review of that
change, /work/issues/review-typedload.md: B1-B4, R1, R2, R4): a ``Tok | None`` step's None, a plain value or a base
record loaded as a class, Marin's ``write_artifact`` records (``path`` in ``result``), a class that changed since;
a record never imports a module nobody imported or installed, another script's ``__main__`` class is not taken for
the one that built it, and a fresh step's value equals its cached one. Marin's ``Artifact`` here is
``marin_exec.lazy``'s (tests/test_artifact_class_peer.py runs marin-core's own).
"""

from __future__ import annotations

import importlib
import json
import logging
import pathlib
import subprocess
import sys
import textwrap
from typing import Any

import pytest

pytest.importorskip("pydantic")

from pydantic import field_serializer  # noqa: E402

from marin_exec import Artifact, StepSpec  # noqa: E402
from marin_exec.artifact_record import build_record, record_text  # noqa: E402
from marin_exec.errors import MarinExecError  # noqa: E402
from marin_exec.lazy import Artifact as MarinArtifact  # noqa: E402
from marin_exec.lazy import ArtifactTypeMismatchError  # noqa: E402

HERE = __name__


class Tok(MarinArtifact):
    n: int = 0


class Other(MarinArtifact):
    k: int = 0


class Outer:
    class Inner(MarinArtifact):
        depth: int = 0


def _maybe_tok(out) -> Tok | None:
    return None


def _tok(out):
    return Tok(n=3)


def _tok_as_base(out) -> MarinArtifact:
    return Tok(n=3)


def _other(out) -> Other:
    return Other(k=1)


def _run_twice(tmp_path: pathlib.Path, fn: Any, name: str = "s") -> tuple[Any, Any, StepSpec]:
    spec = StepSpec(name=name, fn=fn, output_path_prefix=str(tmp_path))
    return spec.executable_fn(spec.output_path), spec.executable_fn(spec.output_path), spec


def _record_at(path: pathlib.Path, result_type: str, result: Any) -> str:
    path.mkdir(parents=True)
    record = build_record(name="x", output_path=str(path), result_type=result_type, result=result)
    (path / ".artifact.json").write_text(record_text(record))
    return str(path)


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


# B1 -------------------------------------------------------------------------------------------------------------
def test_an_optional_artifact_step_that_returns_none_gives_none_fresh_cached_and_loaded(tmp_path):
    fresh, cached, spec = _run_twice(tmp_path, _maybe_tok)

    assert fresh is None and cached is None
    assert Artifact.load(spec.output_path, Tok | None) is None
    record = json.loads(pathlib.Path(spec.output_path, ".artifact.json").read_text())
    assert record["result_type"] == "marin.execution.artifact.Artifact" and record["result"] is None


class Done(MarinArtifact):  # no value fields: its values record None as their result, as a None does
    pass


def _maybe_done(out) -> Done | None:
    return Done() if "yes" in out else None


def test_an_optional_class_without_fields_tells_its_value_from_none(tmp_path):
    fresh_none, cached_none, _ = _run_twice(tmp_path, _maybe_done, name="no")
    fresh_done, cached_done, done = _run_twice(tmp_path, _maybe_done, name="yes")

    assert fresh_none is None and cached_none is None
    assert fresh_done == cached_done == Done(path=done.output_path)


def test_a_none_valued_plain_step_loads_as_none_when_asked_for_an_optional_artifact(tmp_path):
    _, _, spec = _run_twice(tmp_path, lambda out: None)

    assert Artifact.load(spec.output_path, Tok | None) is None


# B2 -------------------------------------------------------------------------------------------------------------
def test_a_plain_dict_step_loads_as_an_artifact_class_its_fields_fit(tmp_path):
    _, _, spec = _run_twice(tmp_path, lambda out: {"n": 5})

    assert Artifact.load(spec.output_path, Tok) == Tok(path=spec.output_path, n=5)


def test_a_base_annotated_step_over_an_output_recorded_as_its_subclass_loads_cached(tmp_path):
    _, _, built = _run_twice(tmp_path, _tok)  # recorded as Tok, as marin_exec recorded base-annotated steps' values
    spec = StepSpec(name="s", fn=_tok_as_base, output_path_prefix=str(tmp_path))
    assert spec.output_path == built.output_path

    assert spec.executable_fn(spec.output_path) == Tok(path=spec.output_path, n=3)


def test_a_record_of_a_class_loaded_as_one_it_derives_from_or_that_derives_from_it_loads(tmp_path):
    class SubTok(Tok):
        extra: str = "x"

    path = _record_at(tmp_path / "o", f"{HERE}.Tok", {"n": 2})

    assert Artifact.load(path, SubTok) == SubTok(path=path, n=2)


def test_a_step_now_returning_an_unrelated_class_names_the_step_in_one_line(tmp_path):
    _, _, built = _run_twice(tmp_path, _tok)
    spec = StepSpec(name="s", fn=_other, output_path_prefix=str(tmp_path))

    with pytest.raises(ArtifactTypeMismatchError) as refused:
        spec.executable_fn(spec.output_path)

    assert isinstance(refused.value, MarinExecError)
    assert str(refused.value) == (
        f"s: its output {built.output_path} was built as {HERE}.Tok, loaded as {HERE}.Other (what the step now "
        "returns), an unrelated artifact class; rebuild it with --force_rerun, or declare Tok as the step's return "
        "again"
    )


# B3 -------------------------------------------------------------------------------------------------------------
def test_marins_write_artifact_record_with_path_in_its_result_loads_as_its_class(tmp_path):
    # marin-core's write_artifact(Other(path="/built/there", k=5), out): its model_dump as the result, no type
    record = build_record(name="", output_path=str(tmp_path), result_type="", result=None)
    record["result"] = {"path": "/built/there", "k": 5}
    (tmp_path / ".artifact.json").write_text(record_text(record))

    assert Artifact.load(str(tmp_path), Other) == Other(path=str(tmp_path), k=5)
    assert Artifact.load(str(tmp_path)) == {"path": "/built/there", "k": 5}


# B4 -------------------------------------------------------------------------------------------------------------
def test_a_cached_step_whose_class_gained_a_required_field_gives_plain_data_and_one_line(tmp_path, monkeypatch, caplog):
    module = tmp_path / "evolving_types.py"
    module.write_text("from marin_exec.lazy import Artifact\n\nclass Tok(Artifact):\n    n: int = 0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    evolving = importlib.import_module("evolving_types")
    spec = StepSpec(name="evo", fn=lambda out: evolving.Tok(n=1), output_path_prefix=str(tmp_path / "o"))
    spec.executable_fn(spec.output_path)

    module.write_text("from marin_exec.lazy import Artifact\n\nclass Tok(Artifact):\n    n: int = 0\n    vocab: int\n")
    importlib.reload(evolving)
    with caplog.at_level(logging.WARNING, logger="marin_exec"):
        assert spec.executable_fn(spec.output_path) == {"n": 1}
        assert Artifact.load(spec.output_path) == {"n": 1}
    del sys.modules["evolving_types"]

    [warning] = _warnings(caplog)
    assert "\n" not in warning and warning.startswith(f"{spec.output_path}: its value was built as evolving_types.Tok")
    assert "vocab: Field required" in warning and "--force_rerun" in warning


class Reading(MarinArtifact):
    value: float = 0.0


def test_a_nan_field_recorded_as_null_gives_plain_data_not_a_validation_error(tmp_path, caplog):
    path = _record_at(tmp_path / "o", f"{HERE}.Reading", {"value": None})  # Marin's writer: nan as null

    with caplog.at_level(logging.WARNING, logger="marin_exec"):
        assert Artifact.load(path) == {"value": None}

    [warning] = _warnings(caplog)
    assert "value: Input should be a valid number" in warning and "\n" not in warning


class Shouted(MarinArtifact):
    n: int = 0

    @field_serializer("n")
    def _shout(self, n: int) -> str:  # a payload that does not load back as the class
        return f"{n}!"


def test_a_fresh_value_whose_record_does_not_load_back_is_returned_as_built_with_its_path(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="marin_exec"):
        fresh, cached, spec = _run_twice(tmp_path, lambda out: Shouted(n=3))

    assert fresh == Shouted(path=spec.output_path, n=3)
    assert cached == {"n": "3!"}


# R1 -------------------------------------------------------------------------------------------------------------
def test_a_record_naming_a_module_nobody_imported_or_installed_does_not_run_it(tmp_path, capsys, caplog):
    path = _record_at(tmp_path / "zen", "this.X", {"a": 1})
    sys.modules.pop("this", None)

    with caplog.at_level(logging.WARNING, logger="marin_exec"):
        assert Artifact.load(path) == {"a": 1}

    assert "this" not in sys.modules and "Zen of Python" not in capsys.readouterr().out
    [warning] = _warnings(caplog)
    assert "this is neither imported here nor an installed package" in warning
    assert "import its module before loading" in warning


def test_a_module_that_exits_at_import_is_tried_once_and_never_ends_the_load(tmp_path, monkeypatch, caplog):
    package = tmp_path / "exiting_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "cli.py").write_text(
        "import pathlib, sys\nwith open(pathlib.Path(__file__).with_name('imports.txt'), 'a') as f:\n"
        "    f.write('x')\nsys.exit(2)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module("exiting_pkg")  # its package is in use here: a submodule of it may be imported
    path = _record_at(tmp_path / "o", "exiting_pkg.cli.Thing", {"a": 1})

    with caplog.at_level(logging.WARNING, logger="marin_exec"):
        assert Artifact.load(path) == {"a": 1}
        assert Artifact.load(path) == {"a": 1}
    del sys.modules["exiting_pkg"]

    assert (package / "imports.txt").read_text() == "x"  # not retried
    [warning] = _warnings(caplog)
    assert "importing exiting_pkg.cli failed: SystemExit: 2" in warning


def test_a_nested_class_is_found_by_its_qualname(tmp_path):
    path = _record_at(tmp_path / "o", f"{HERE}.Outer.Inner", {"depth": 2})

    assert Artifact.load(path) == Outer.Inner(path=path, depth=2)


# R2 and the duck-typed records' wording -------------------------------------------------------------------------
SCRIPT = """
import sys
from marin_exec import Artifact
from marin_exec.lazy import Artifact as MarinArtifact

class Tok(MarinArtifact):
    {field}

if sys.argv[1] == "save":
    Artifact.save(Tok({value}), sys.argv[2])
else:
    print(repr(Artifact.load(sys.argv[2])))
"""


def _script(tmp_path: pathlib.Path, name: str, field: str, value: str) -> list[str]:
    script = tmp_path / name
    script.write_text(textwrap.dedent(SCRIPT).format(field=field, value=value))
    return [sys.executable, str(script)]


def test_another_scripts_class_of_the_same_name_is_not_taken_for_the_one_that_built_it(tmp_path):
    out = str(tmp_path / "out")
    writer = _script(tmp_path, "a.py", "n_tokens: int = 0", "n_tokens=7")
    reader = _script(tmp_path, "b.py", "accuracy: float = 0.0", "")
    subprocess.run([*writer, "save", out], check=True)

    same = subprocess.run([*writer, "load", out], check=True, capture_output=True, text=True)
    other = subprocess.run([*reader, "load", out], check=True, capture_output=True, text=True)

    assert same.stdout.strip() == f"Tok(path='{out}', n_tokens=7)"  # the script that built it: its class
    assert other.stdout.strip() == "{'n_tokens': 7}"
    assert "this script's Tok declares other fields: it is another script's class" in other.stderr


def test_a_record_naming_a_class_another_script_defined_says_so(tmp_path, caplog):
    path = _record_at(tmp_path / "o", "__main__.Duck", {"v": 3})

    with caplog.at_level(logging.WARNING, logger="marin_exec"):
        assert Artifact.load(path) == {"v": 3}

    [warning] = _warnings(caplog)
    assert "this process's script (__main__) has no Duck: it was defined in the script that built the output" in (
        warning
    )
    assert "renamed or removed" not in warning


# R4 -------------------------------------------------------------------------------------------------------------
def test_a_fresh_steps_artifact_value_is_the_one_its_cached_runs_give(tmp_path):
    fresh, cached, spec = _run_twice(tmp_path, _tok)

    assert fresh == cached == Tok(path=spec.output_path, n=3) == Tok.raw_load(spec.output_path)


def test_a_fresh_base_annotated_step_gives_the_declared_class_as_marins_run_does(tmp_path):
    fresh, cached, _ = _run_twice(tmp_path, _tok_as_base)

    assert type(fresh) is type(cached) is MarinArtifact and fresh == cached


def test_a_record_of_a_class_not_found_here_loads_as_the_class_asked_for_with_one_warning(tmp_path, caplog):
    path = _record_at(tmp_path / "o", "gone_module_nowhere.Tok", {"n": 4})

    with caplog.at_level(logging.WARNING, logger="marin_exec"):
        assert Artifact.load(path, Tok) == Tok(path=path, n=4)  # not known to be unrelated: as before, no error

    [warning] = _warnings(caplog)
    assert warning.startswith(f"{path}: it is built as gone_module_nowhere.Tok, which is not found here")
