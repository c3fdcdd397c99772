"""``--version`` and ``--override NAME=VERSION`` (issue 19): the run's versions for steps that defer theirs
(``RUN_VERSION``), the check that every override applied to some step, and the dry run's "Resolved versions" list.
Marin's ``marin.experiment.cli`` options, for marin_exec's command line. It resolves no version itself (the compiler
asks ``RunVersions``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from marin_exec.compile.step_spec import StepSpec
from marin_exec.errors import UsageError
from marin_exec.named_versions import RunVersions, is_mutable_version


def versions_of(config: Any) -> RunVersions | None:
    """The run's versions from the parsed flags (None when neither flag was given)."""
    default, given = getattr(config, "version", None), getattr(config, "override", None) or []
    if default is None and not given:
        return None
    overrides: dict[str, str] = {}
    for item in given:
        name, eq, version = item.partition("=")
        if not eq or not name or not version:
            raise UsageError(f"--override {item!r}: write NAME=VERSION, e.g. --override tokenized/web=2026.12.06")
        overrides[name.strip()] = version.strip()
    try:
        return RunVersions(default=default, overrides=overrides)
    except Exception as error:
        raise UsageError(str(error)) from None


def refuse_unused_overrides(versions: RunVersions | None) -> None:
    """An override no deferring step asked for is a typo or aimed at a step with an explicit version: exit 2."""
    unused = [] if versions is None else versions.unused()
    if unused:
        raise UsageError(
            f"--override {', '.join(unused)}: applies to no step of this run that takes its version from the run "
            "(version=RUN_VERSION); check the step name (placeholders filled), or drop the override"
        )


def resolved_versions(specs: Sequence[StepSpec]) -> str:
    """``Resolved versions:`` and each named step's ``name@version``, mutable ones flagged; empty without any."""
    named = [spec for spec in specs if spec.named_version is not None]
    if not named:
        return ""
    lines = ["", "Resolved versions:"]
    for spec in named:
        assert spec.named_version is not None
        flag = "  (mutable: rebuilds every run)" if is_mutable_version(spec.named_version) else ""
        lines.append(f"  {spec.identity}{flag}")
    return "\n".join(lines) + "\n"
