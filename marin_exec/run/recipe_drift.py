"""Recipe drift by fingerprint (issue 19, DESIGN §4b): a cached step whose recorded fingerprint payload differs from
today's, described field by field as Marin's ``describe_drift`` does (values with only a default ``repr`` masked,
never drift), for named steps (a hashed step's unversioned config is compared by ``why`` as before). The payload is
read from marin_exec's ``.executor_info``, or from the ``.artifact.json`` record that Marin wrote. A ``dev`` step is
never drift (it rebuilds). This module reads and describes; ``why`` decides which
line a step shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from marin_exec.status.status import join
from marin_exec.storage.protocol import json_object
from marin_exec.storage.store import read_many

if TYPE_CHECKING:
    from marin_exec.compile.step_spec import StepSpec

MAX_SHOWN = 3
NOT_RECORDED = None  # no recorded payload: the caller falls back to comparing the recorded config


def recipe_drifts(specs: Sequence[StepSpec], infos: Sequence[dict[str, Any] | None]) -> list[str | None]:
    """For each step: ``""`` (no drift), a drift line, or ``NOT_RECORDED``. Marin's records are read in one batch,
    only for steps whose ``.executor_info`` (a Marin stub, or none) carries no payload."""
    payloads: list[str | None] = [_payload(info) for info in infos]
    wanted = [
        i
        for i, (spec, info) in enumerate(zip(specs, infos, strict=True))
        if payloads[i] is None and spec.is_named and not _ours(info)
    ]
    for i, found in zip(wanted, read_many([join(specs[i].output_path, ".artifact.json") for i in wanted]), strict=True):
        payloads[i] = _payload(json_object(found))
    return [_line(spec, payload) for spec, payload in zip(specs, payloads, strict=True)]


def _line(spec: StepSpec, recorded: str | None) -> str | None:
    if recorded is None or not spec.is_named:  # a hashed step: its unversioned config is compared
        return NOT_RECORDED
    now = spec.recipe_payload
    if now is None:
        return NOT_RECORDED
    if recorded == now or spec.mutable:
        return ""
    from marin_exec.fingerprint import describe_drift, fingerprint

    changes = describe_drift(recorded, now)
    if not changes:  # only masked values (a default repr) differ: never drift
        return ""
    more = len(changes) - MAX_SHOWN
    shown = "; ".join(changes[:MAX_SHOWN]) + (f"; and {more} more" if more > 0 else "")
    return (
        f"recipe differs from the recorded one (fingerprint {fingerprint(recorded)} -> {spec.fingerprint}): "
        f"{shown}; the cached output is served (bump the version to build the new recipe)"
    )


def _payload(info: dict[str, Any] | None) -> str | None:
    payload = None if info is None else info.get("fingerprint_payload")
    return payload if isinstance(payload, str) else None


def _ours(info: dict[str, Any] | None) -> bool:
    marker = None if info is None else info.get("executor_version")
    return isinstance(marker, str) and marker.startswith("marin_exec")


def refuse_pinned_drift(specs: Sequence[StepSpec]) -> None:
    """A step pinned with ``expected_fingerprint`` whose recorded build has another fingerprint: an error before
    anything runs (Marin raises it when it would serve the cached output). Reads only the pinned steps' outputs."""
    pinned = [spec for spec in specs if spec.expected_fingerprint is not None and not spec.mutable]
    if not pinned:
        return
    from marin_exec.errors import FingerprintMismatchError
    from marin_exec.fingerprint import describe_drift, fingerprint

    infos = [json_object(found) for found in read_many([join(spec.output_path, ".executor_info") for spec in pinned])]
    for spec, info, line in zip(pinned, infos, recipe_drifts(pinned, infos), strict=True):
        recorded = _payload(info) if _ours(info) else None
        if not line:
            continue
        if recorded is None:  # Marin's record: read again for the exact fingerprint it holds
            recorded = _payload(json_object(read_many([join(spec.output_path, ".artifact.json")])[0]))
        assert recorded is not None and spec.recipe_payload is not None
        changes = "; ".join(describe_drift(recorded, spec.recipe_payload)[:MAX_SHOWN])
        raise FingerprintMismatchError(
            f"step '{spec.identity}' is pinned to expected_fingerprint {spec.expected_fingerprint}, but its recorded "
            f"build has fingerprint {fingerprint(recorded)} ({changes}); bump the version to build the new recipe, "
            "or drop the pin to serve the cached output"
        )
