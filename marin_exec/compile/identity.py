"""A ``StepSpec``'s identity (DESIGN §4, §4b): Marin's version with dependency versions nested up to depth 4
(``name-hash`` beyond, ``name@version`` for a named dependency), its canonical text, and which steps are mutable
(a ``dev`` named step, or a hashed step built from one). Computed without recursion, so a 10,000-deep chain works.
It builds no StepSpec and does no I/O.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from marin_exec.errors import StepDefinitionError
from marin_exec.named_versions import is_mutable_version
from marin_exec.versioning import version_json

if TYPE_CHECKING:
    from marin_exec.compile.step_spec import StepSpec

MAX_NESTED_DEPTH = 4


def compute_identity(root: StepSpec) -> None:
    """Fill depth and version for ``root`` and every ancestor lacking them, without recursion."""
    stack: list[tuple[StepSpec, bool]] = [(root, False)]
    while stack:
        spec, expanded = stack.pop()
        if "version" in spec.__dict__:
            continue
        if not expanded:
            stack.append((spec, True))
            stack.extend((dep, False) for dep in (*spec.deps, *spec.pseudo_deps) if "version" not in dep.__dict__)
            continue
        # A named step is an identity boundary: dependents hold its ``name@version``, never its nested version.
        named = spec.named_version is not None
        spec.__dict__["depth"] = 1 + max(dep.__dict__["depth"] for dep in spec.deps) if spec.deps and not named else 0
        version: dict[str, Any] = {
            "name": spec.name,
            "config": spec.__dict__["_config"],
            "dependencies": [_dependency_entry(dep) for dep in spec.deps],
        }
        if spec.pseudo_deps:
            version["pseudo_dependencies"] = [_dependency_entry(dep) for dep in spec.pseudo_deps]
        if named:
            version["version"] = spec.named_version
        spec.__dict__["version"] = version
        spec.__dict__["version_str"] = _version_text(spec)


def _version_text(spec: StepSpec) -> str:
    """``version_json(spec.version)``, built from the texts of its dependencies' versions (computed before it)
    instead of encoding every nested version again: the same string, for a fraction of the cost in deep graphs."""
    parts = [
        f'"config": {version_json(spec.__dict__["_config"])}',
        f'"dependencies": [{", ".join(_dependency_text(dep) for dep in spec.deps)}]',
        f'"name": {json.dumps(spec.name)}',
    ]
    if spec.pseudo_deps:
        parts.append(f'"pseudo_dependencies": [{", ".join(_dependency_text(dep) for dep in spec.pseudo_deps)}]')
    if spec.named_version is not None:
        parts.append(f'"version": {json.dumps(spec.named_version)}')
    return "{" + ", ".join(parts) + "}"


def _dependency_text(dep: StepSpec) -> str:
    if dep.named_version is None and dep.__dict__["depth"] <= MAX_NESTED_DEPTH:
        return dep.version_str
    return json.dumps(dep.identity)


def shallow_version(spec: StepSpec) -> dict[str, Any]:
    """The version with every dependency written ``name-hash``: what provenance records (it identifies the same
    inputs, and stays linear in the graph where the nested version grows as fan-in ** 5)."""
    version = {**spec.version, "dependencies": [dep.name_with_hash for dep in spec.deps]}
    if spec.pseudo_deps:
        version["pseudo_dependencies"] = [dep.name_with_hash for dep in spec.pseudo_deps]
    return version


def _dependency_entry(dep: StepSpec) -> Any:
    if dep.named_version is None and dep.__dict__["depth"] <= MAX_NESTED_DEPTH:
        return dep.__dict__["version"]
    return dep.identity


def mutable_source(root: StepSpec) -> StepSpec | None:
    """The ``dev`` named step that makes ``root`` mutable (itself, or one reached through hashed blocking
    dependencies), else None. Cached on every spec the walk passes (post-order, no recursion): a graph is walked
    once."""
    stack: list[tuple[StepSpec, bool]] = [(root, False)]
    while stack:
        spec, expanded = stack.pop()
        if "_mutable_source" in spec.__dict__:
            continue
        if spec.named_version is not None:
            spec.__dict__["_mutable_source"] = spec if is_mutable_version(spec.named_version) else None
            continue
        if not expanded:
            stack.append((spec, True))
            stack.extend((dep, False) for dep in spec.deps if "_mutable_source" not in dep.__dict__)
            continue
        found = (dep.__dict__["_mutable_source"] for dep in spec.deps)
        spec.__dict__["_mutable_source"] = next((source for source in found if source is not None), None)
    return root.__dict__["_mutable_source"]


def refuse_mutable_deps(spec: StepSpec) -> None:
    """A fixed version may not depend on a mutable one (Marin's rule): the dependency would rebuild while this
    step stays cached."""
    assert spec.named_version is not None
    if is_mutable_version(spec.named_version):
        return
    for dep in spec.deps:
        source = mutable_source(dep)
        if source is not None:
            via = "" if source is dep else f" (through {dep.identity}, which is built from it)"
            raise StepDefinitionError(
                f"step '{spec.identity}' has a fixed version but depends on the mutable {source.identity}{via}; it "
                "would rebuild on every run while this step stays cached. Give the dependency a calendar version, "
                "or make this step 'dev' too"
            )


def record_fields(spec: StepSpec) -> dict[str, Any]:
    """What the step's ``.artifact.json`` (Marin's ``ArtifactRecord``) says about its identity: known before it runs.
    Dependencies as their identities (``name@version``, ``name-hash``) with their paths; the config that runs (the
    ``hash_attrs`` as config, as Marin's StepRunner records it; a compiled step's function replaces it with the
    config it receives, when it runs)."""
    config = spec.__dict__["_config"]
    named = spec.named_version is not None
    fields: dict[str, Any] = {
        "name": spec.name,
        "version": spec.named_version or "",
        "fingerprint": spec.fingerprint or "",
        # a lazy step lists each dependency once, in first-seen order (Marin's ``apply``)
        "deps": list(dict.fromkeys(d.identity for d in spec.deps)) if named else [d.identity for d in spec.deps],
        # Marin's lazy steps record no dep paths (its StepRunner's plain steps do): the same record either way
        "dep_paths": [] if named else [dep.data_path for dep in spec.deps],
        "config": config or None,
        "fingerprint_payload": spec.recipe_payload,
    }
    kind = spec.artifact_type
    if spec.adopt_source is not None:
        fields["source"] = spec.data_path
        if isinstance(kind, type):  # the type an adopted step's record names (Marin's ``kind``)
            fields["result_type"] = f"{kind.__module__}.{kind.__qualname__}"
    return fields
