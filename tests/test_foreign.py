"""The one door for foreign steps (``marin_exec.trace.foreign``): a kind plugs in by module name, recognises its
objects by shape and lowers them; nothing is imported until such an object is met."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

from marin_exec import ExecutorMainConfig, StepSpec, run_executor
from marin_exec.trace import foreign


class Handle:
    """Shaped like another library's step handle: a name and a function of the output path; no marin_exec type."""

    def __init__(self, name: str, fn: object) -> None:
        self.handle_name, self.build = name, fn


class _HandleKind:
    config_kinds = frozenset({"Handle"})

    def recognises(self, obj: object) -> bool:
        return type(obj).__name__ == "Handle" and hasattr(obj, "handle_name")

    def lower_steps(self, items: list) -> list:
        return [StepSpec(name=i.handle_name, fn=i.build) if self.recognises(i) else i for i in items]

    def lower_config(self, call: object, frame: object) -> list:
        return []


@pytest.fixture
def handle_kind(monkeypatch):
    module = types.ModuleType("tests_foreign_handles")
    module.KIND = _HandleKind()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(foreign, "KIND_MODULES", [*foreign.KIND_MODULES])
    monkeypatch.setattr(foreign, "_loaded", [])
    foreign.add_kind(module.__name__)
    return module


def test_a_kind_added_by_module_name_lowers_its_objects_mixed_with_native_steps(prefix, handle_kind):
    calls: list[str] = []
    native = StepSpec(name="native/a", fn=lambda p: calls.append("native/a"))
    report = run_executor([Handle("handles/b", lambda p: calls.append("handles/b")), native], ExecutorMainConfig())
    assert sorted(calls) == ["handles/b", "native/a"]
    assert {o.spec.name for o in report.outcomes.values()} == {"handles/b", "native/a"}


def test_native_steps_load_no_kind(monkeypatch):
    monkeypatch.setattr(foreign, "KIND_MODULES", ["no.such.module"])
    monkeypatch.setattr(foreign, "_loaded", [])
    spec = StepSpec(name="a", fn=lambda p: None)
    assert foreign.lower_steps([spec], lambda s: isinstance(s, StepSpec)) == [spec]  # would fail to import


def test_running_native_steps_never_imports_the_legacy_package(tmp_path):
    code = (
        "import sys\n"
        "from marin_exec import ExecutorMainConfig, StepSpec, run_executor\n"
        f"run_executor([StepSpec(name='a', fn=lambda p: 1)], ExecutorMainConfig(prefix={str(tmp_path)!r}))\n"
        "print(sorted(m for m in sys.modules if m.startswith('marin_exec.legacy')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_an_executor_step_still_enters_through_the_door(prefix):
    from marin_exec.legacy import ExecutorStep, this_output_path

    seen: list[str] = []

    def fn(config: dict) -> None:
        seen.append(config["out"])

    step = ExecutorStep(name="legacy/a", fn=fn, config={"out": this_output_path()})
    report = run_executor([step], ExecutorMainConfig())
    [outcome] = report.outcomes.values()
    assert outcome.state == "ran" and seen == [outcome.spec.output_path]
