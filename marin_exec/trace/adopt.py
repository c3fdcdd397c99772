"""``adopt()``: existing data becomes a managed ``name@version`` step (Marin's ``ArtifactStep.adopt``, DESIGN §4b).

Consumers that reference the returned StepRef read ``source`` itself (relative: under the prefix); running the
step computes nothing: it checks that ``source`` exists and writes the provenance record (``source`` and
``config`` recorded) at ``{prefix}/{name}/{version}``. Its fingerprint is Marin's for an adopted handle. This module
only records the node; the compiler lowers it (``compile.named.lower_adopted``).
"""

from __future__ import annotations

import os
from typing import Any

from marin_exec.errors import StepDefinitionError
from marin_exec.named_versions import check_version
from marin_exec.naming import validate_step_name
from marin_exec.trace.context import current_frame
from marin_exec.trace.graph import DeferredCall, StepNode
from marin_exec.trace.step_ref import StepRef


def adopt(
    name: str, version: str, source: str | os.PathLike[str], *, kind: Any = None, config: dict[str, Any] | None = None
) -> StepRef:
    """Register the data at ``source`` (e.g. a hashed output of an older run, or data made elsewhere) as the named
    step ``name@version``. ``kind``: the type its record names and its artifact loads as; ``config``: metadata to
    record (e.g. a tokenized cache's tokenizer), read by consumers as for a produced artifact."""
    validate_step_name(name)
    check_version(version, name)
    source = os.fspath(source) if isinstance(source, os.PathLike) else source
    if not isinstance(source, str) or not source:
        raise StepDefinitionError(f"adopt('{name}', '{version}', {source!r}): give the existing data's path as a str")
    if config is not None and not isinstance(config, dict):
        raise StepDefinitionError(
            f"adopt('{name}', '{version}', ...): config must be a dict of metadata (or None), found "
            f"{type(config).__name__}"
        )
    node = StepNode(
        name=name,
        qualname="marin_exec.adopt",
        description=f"adopted from {source}",
        call=DeferredCall(adopted, (source, config), {}, step_name=name),
        children=(),
        inputs=(),
        version=version,
        adopted=(source, config, kind),
    )
    frame = current_frame()
    if frame is not None:
        frame.children.append(node)
    return StepRef(node=node)


def adopted(source: str, config: dict[str, Any] | None) -> None:
    """Stands for an adopted step's call in the traced graph; never called (the compiler lowers adoption)."""
    raise StepDefinitionError(f"the adoption of {source} is lowered by the compiler, not called")
