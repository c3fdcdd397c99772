"""The step job (``runtime.step_job``): what runs for one step — disk_cached(distributed_lock(fn)), the commit
that saves the artifact then ``.executor_info``, and the re-run of an incomplete commit."""

from __future__ import annotations

import json
import os
import pathlib

from marin_exec import StepSpec
from tests.hooked_store import PROTOCOL, hooked_store, local_path


def _noop(output_path: str) -> None:
    return None


def test_clearing_an_incomplete_commit_never_removes_the_success_another_worker_just_committed(tmp_path):
    store = hooked_store()
    # SUCCESS and this executor's info are there, the artifact is not: the step must run again, once.
    calls: list[str] = []

    def make(output_path: str) -> dict:
        calls.append(output_path)
        return {"by": "this worker"}

    spec = StepSpec(name="tok/x", fn=make, output_path_prefix=f"{PROTOCOL}://{tmp_path}")
    spec.executable_fn(spec.output_path)
    local = pathlib.Path(local_path(spec.output_path))
    (local / ".artifact.json").unlink()
    calls.clear()

    # Another worker saw the same incomplete commit a moment earlier, re-ran the step under the lease and committed
    # artifact + SUCCESS right after this worker looked for the artifact and found none.
    def other_worker_commits() -> None:
        del store.on_read[".executor_info"]
        (local / ".artifact.json").write_text(json.dumps({"by": "other worker"}))

    store.on_read[".executor_info"] = other_worker_commits
    result = spec.executable_fn(spec.output_path)

    assert calls == [], "the step ran a second time after another worker had already re-run and committed it"
    assert result == {"by": "other worker"}


def _lattice(root: pathlib.Path, width: int, levels: int) -> list[list[StepSpec]]:
    """``levels`` levels of ``width`` steps, each step depending on every step of the level below."""
    rows = [
        [StepSpec(name=f"l0/n{i}", fn=_noop, hash_attrs={"i": i}, output_path_prefix=str(root)) for i in range(width)]
    ]
    for level in range(1, levels):
        rows.append(
            [
                StepSpec(
                    name=f"l{level}/n{i}",
                    fn=_noop,
                    deps=list(rows[-1]),
                    hash_attrs={"i": i},
                    output_path_prefix=str(root),
                )
                for i in range(width)
            ]
        )
    return rows


def test_executor_info_of_a_step_in_a_wide_lattice_does_not_inline_every_ancestor_version(tmp_path):
    # At depth 5 with fan-in 4 the nested version holds 4**5 leaf versions (~60 kB of JSON; the hash needs it, as in
    # Marin). The .executor_info need not repeat it: with fan-in 10 it is 30 MB per step and a 10x8 lattice of no-op
    # steps writes 699 MB and takes 37 s.
    top = _lattice(tmp_path, width=4, levels=6)[-1][0]
    assert top.depth == 5
    top.executable_fn(top.output_path)
    size = os.path.getsize(os.path.join(top.output_path, ".executor_info"))
    assert size < 32_000, f".executor_info is {size} bytes for one no-op step"
