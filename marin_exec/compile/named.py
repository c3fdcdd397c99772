"""The compiler's part of named versions (DESIGN §4b): a traced node's name and version for this run, and the
fingerprint payload of its config by Marin's rules.

The payload is the config the function receives (its single argument, or its arguments by parameter name, as the
version's config is walked, DESIGN §4) with every reference replaced by the dependency's identity (``name@version``
for a named step, ``name-hash`` for a hashed one, plus any sub path), hard-coded inputs as written, ``output()`` as
``<output_path>``, ``StepRef.under_prefix(p)`` as ``<prefix>/p`` and ``runtime_arg`` values as ``<key>``: Marin's
``StepContext.for_fingerprint`` placeholders. The
canonical JSON and the hash are ``marin_exec.fingerprint``'s. It does no I/O and builds no StepSpec.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from marin_exec.errors import StepDefinitionError
from marin_exec.named_versions import RUN_VERSION, check_version, current_run_versions, user_namespaced_name
from marin_exec.plain import dataclass_fields
from marin_exec.trace.binding import signature_of
from marin_exec.trace.config_walk import call_roots
from marin_exec.trace.graph import StepNode
from marin_exec.trace.step_ref import StepRef
from marin_exec.versioning import RuntimeArg, VersionedValue

if TYPE_CHECKING:
    from marin_exec.compile.step_spec import StepSpec

OUTPUT_PATH = "<output_path>"


def named_identity(node: StepNode) -> tuple[str, str | None]:
    """The step's name and version in this run: ``RUN_VERSION`` resolved from ``--version`` / ``--override`` (by
    the name before any per-user namespace), and a mutable version under ``users/{user}/`` when asked for."""
    version = node.version
    if version is None:
        return node.name, None
    if version is RUN_VERSION:
        version = check_version(current_run_versions().version_for(node.name), node.name)
    name = user_namespaced_name(node.name, version) if node.user_namespace else node.name
    return name, version


def fingerprint_payload(node: StepNode, spec_of: Mapping[StepNode, StepSpec]) -> str:
    """The canonical JSON of the node's config with Marin's placeholders (see the module docstring)."""
    from marin_exec.fingerprint import canonical_json

    call = node.call
    assert call is not None
    roots = received(call.fn, call.args, call.kwargs, node.name)
    if len(roots) == 1 and roots[0][0] == "":
        config = _placeholders(roots[0][1], "", spec_of)
    else:
        config = {key: _placeholders(value, key, spec_of) for key, value in roots}
    return canonical_json(config)


def received(fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any], step: str | None) -> list[tuple[str, Any]]:
    """The config as the function receives it: the version's roots (DESIGN §4), except that the arguments of a
    ``**kwargs`` parameter are keys of their own, as in Marin's ``apply(name, fn, **inputs)``."""
    try:
        variadic = [p.name for p in signature_of(fn).parameters.values() if p.kind is p.VAR_KEYWORD]
    except (TypeError, ValueError):
        variadic = []
    if variadic and not args and kwargs:
        return list(kwargs.items())
    roots = call_roots(fn, args, kwargs, step, check=False)
    flat: list[tuple[str, Any]] = []
    for key, value in roots:
        flat.extend(value.items() if key in variadic and isinstance(value, dict) else [(key, value)])
    return flat


def check_expected_fingerprint(spec: StepSpec) -> None:
    """``expected_fingerprint`` differs from the config's: an error before anything runs (Marin's lowering rule)."""
    if spec.expected_fingerprint is None or spec.expected_fingerprint == spec.fingerprint:
        return
    from marin_exec.errors import FingerprintMismatchError

    raise FingerprintMismatchError(
        f"step '{spec.identity}': its config's fingerprint is {spec.fingerprint}, but expected_fingerprint pins "
        f"{spec.expected_fingerprint}; the recipe changed: update the pin (and bump the version if this is meant to "
        "be a different artifact)"
    )


def _placeholders(obj: Any, key: str, spec_of: Mapping[StepNode, StepSpec]) -> Any:
    """``obj`` with references and markers replaced, as plain containers (what Marin's encoder makes of them:
    dataclasses as their field dicts, tuples as lists); other values are left for the canonical encoder."""
    if isinstance(obj, StepRef):
        return _reference(obj, spec_of)
    if isinstance(obj, RuntimeArg):
        return f"<{obj.key or key or 'value'}>"
    if isinstance(obj, VersionedValue):
        return _placeholders(obj.value, key, spec_of)
    fields = None if isinstance(obj, type) else dataclass_fields(type(obj))
    if fields is not None:
        return {f.name: _placeholders(getattr(obj, f.name), f.name, spec_of) for f in fields}
    if isinstance(obj, dict):
        return {name: _placeholders(value, str(name), spec_of) for name, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_placeholders(value, key, spec_of) for value in obj]
    return obj


def _reference(ref: StepRef, spec_of: Mapping[StepNode, StepSpec]) -> str:
    if ref.on_prefix:
        return f"<prefix>/{ref.hardcoded_path}" if ref.hardcoded_path else "<prefix>"
    if ref.hardcoded_path is not None:
        return ref.hardcoded_path
    if ref.frame is not None:
        base = OUTPUT_PATH
    else:
        assert ref.node is not None
        spec = spec_of.get(ref.node)
        if spec is None:
            raise StepDefinitionError(f"step '{ref.node.name}' was referenced before it was compiled")
        base = spec.identity
    return f"{base}/{ref.subpath}" if ref.subpath else base


def lower_adopted(node: StepNode, prefix: str | None) -> StepSpec:
    """An ``adopt()`` node as a named StepSpec: consumers read the source; running it checks the source and records
    it. The fingerprint payload is Marin's for an adopted handle (the source as written, and the config)."""
    import json

    from marin_exec.compile.step_spec import StepSpec, resolve_prefix, under_prefix

    source, config, kind = node.adopted
    name, version = named_identity(node)
    data = under_prefix(source, resolve_prefix(prefix, name))
    return StepSpec(
        name=name,
        fn=AdoptCall(identity=f"{name}@{version}", source=data, config=config),
        output_path_prefix=prefix,
        info={"description": node.description, "fn_name": "marin_exec.adopt", "config": config},
        artifact_type=kind,
        named_version=version,
        adopt_source=source,
        fingerprint_payload=json.dumps({"adopt_source": source, "config": config}, sort_keys=True),
        expected_fingerprint=node.expected_fingerprint,
    )


@dataclasses.dataclass(frozen=True)
class AdoptCall:
    """What an adopted step runs: it computes nothing, checks that the data is there, and returns None (the commit
    then records ``source`` and ``config``)."""

    identity: str
    source: str
    config: dict[str, Any] | None

    def __call__(self, output_path: str) -> None:
        import fsspec

        fs, path = fsspec.core.url_to_fs(self.source)
        if not fs.exists(path):
            raise FileNotFoundError(
                f"cannot adopt {self.identity}: no data at {self.source}; check the path given to adopt()"
            )

    def received_config(self, output_path: str) -> Any:
        return self.config
