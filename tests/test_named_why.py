"""Why a named step will run (issue 19's gap): a new version's why-line names the other versions of its name and
what today's recipe changes from the most recent of them, read from its ``.artifact.json`` record (the record
marin_exec and Marin both write), instead of only "never ran"."""

from __future__ import annotations

import json
import os
import re

from marin_exec import deferred, output, step
from marin_exec.run.cli import parse_args, run_executor


def _train(out: str, lr: float, layers: int) -> None:
    return None  # nothing but the commit's own files: the same on every store


train = deferred(_train)


def _trained(version: str, lr: float = 0.1, layers: int = 4):
    @step(name="train", version=version)
    def trained():
        return train(output(), lr, layers)

    return trained()


def _plan(prefix, ref, capsys) -> str:
    run_executor([ref], parse_args(["--prefix", str(prefix), "--dry_run"]))
    out = capsys.readouterr().out
    found = re.search(r"why: (.*)", out)
    assert found, out
    return found.group(1)


def _run(prefix, ref) -> None:
    run_executor([ref], parse_args(["--prefix", str(prefix)]))


def test_a_named_step_with_no_other_version_never_ran(tmp_path, capsys):
    assert _plan(tmp_path, _trained("2026.12.01"), capsys) == "never ran"


def test_a_new_version_says_what_changed_since_the_latest_other_version(tmp_path, capsys):
    _run(tmp_path, _trained("2026.12.01", lr=0.1))
    _run(tmp_path, _trained("2026.12.02", lr=0.2))
    os.utime(tmp_path / "train/2026.12.01", (1, 1))  # the older one, whatever the clock's resolution

    why = _plan(tmp_path, _trained("2026.12.06", lr=0.3, layers=8), capsys)

    assert why.startswith("never ran at this version; recipe changed since train@2026.12.02: ")
    assert "lr: 0.2 -> 0.3" in why and "layers: 4 -> 8" in why
    assert why.endswith("(other versions: 2026.12.02, 2026.12.01)")


def test_a_version_bumped_without_a_recipe_change_says_so(tmp_path, capsys):
    _run(tmp_path, _trained("2026.12.01", lr=0.1))

    why = _plan(tmp_path, _trained("2026.12.06", lr=0.1), capsys)

    assert why == (
        "never ran at this version; train@2026.12.01 was built from the same recipe (other versions: 2026.12.01)"
    )


def test_a_version_from_marins_record_is_compared_by_its_recorded_payload(tmp_path, capsys):
    """A version Marin built: its record alone (no marin_exec .executor_info) carries the payload."""
    _run(tmp_path, _trained("2026.12.01", lr=0.1))
    (tmp_path / "train/2026.12.01/.executor_info").unlink()
    record = json.loads((tmp_path / "train/2026.12.01/.artifact.json").read_text())
    assert isinstance(record["fingerprint_payload"], str)

    why = _plan(tmp_path, _trained("2026.12.06", lr=0.5), capsys)

    assert "recipe changed since train@2026.12.01: lr: 0.1 -> 0.5" in why


def test_other_versions_without_a_record_are_listed(tmp_path, capsys):
    for version in ("a", "b", "c", "d"):
        (tmp_path / "train" / version).mkdir(parents=True)

    why = _plan(tmp_path, _trained("2026.12.06"), capsys)

    assert why.startswith("never ran at this version; other versions of train without a readable record: ")
    assert why.endswith(" and 1 more")


def test_other_versions_on_gcs(gcs_bucket, capsys):
    _run(gcs_bucket, _trained("2026.12.01", lr=0.1))
    _run(gcs_bucket, _trained("2026.12.02", lr=0.2))

    why = _plan(gcs_bucket, _trained("2026.12.06", lr=0.3), capsys)

    assert why == (
        "never ran at this version; recipe changed since train@2026.12.02: lr: 0.2 -> 0.3 "
        "(other versions: 2026.12.02, 2026.12.01)"
    )
