"""Compiler: a traced graph becomes ``StepSpec``s, each with its version inputs, dependencies and the function the
runner will call.

For every job node it numbers the config's references (one counter for blocking and nonblocking ones, every
occurrence its own index), builds ``hash_attrs`` (DESIGN §4), replaces every StepRef by a concrete path and every
``versioned`` value by its value, and hands the rest to ``StepSpec`` — which computes the version and hash and
chooses the wrapper stack. It does no I/O and never recurses along dependency chains. It does not run or
schedule anything.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from marin_exec.compile.named import (
    check_expected_fingerprint,
    fingerprint_payload,
    lower_adopted,
    named_identity,
    received,
)
from marin_exec.compile.return_type import refuse_unsaveable_return
from marin_exec.compile.step_spec import StepSpec, resolve_prefix, under_prefix
from marin_exec.errors import CycleError, PathCollisionError, TracingError
from marin_exec.naming import qualified_name
from marin_exec.plain import as_repr, to_plain
from marin_exec.trace.config_walk import DESCEND, call_roots, map_config
from marin_exec.trace.foreign import lowering_scope
from marin_exec.trace.graph import Graph, StepNode
from marin_exec.trace.step_ref import StepRef
from marin_exec.versioning import RuntimeArg, VersionedValue

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class GroupView:
    """A group step as the dry run shows it: its name and the items its body called, in call order."""

    name: str
    children: Sequence[StepSpec | GroupView]
    description: str | None = None


@dataclasses.dataclass(frozen=True)
class Plan:
    """A compiled graph: the specs to run in dependency order, and how traced nodes map onto them."""

    graph: Graph
    specs: tuple[StepSpec, ...]  # scheduled steps, each once, every spec after its deps
    spec_of: Mapping[StepNode, StepSpec]  # every compiled job node (also pseudo-only ones) -> its spec

    @property
    def groups(self) -> tuple[StepNode, ...]:
        return self.graph.groups

    def group_views(self) -> list[GroupView]:
        """The top-level groups with their children, in call order, for the dry-run tree."""

        def view(group: StepNode) -> GroupView:
            children = [view(child) if child.is_group else self.spec_of[child] for child in group.children]
            return GroupView(name=group.name, children=children, description=group.description)

        return [view(root) for root in self.graph.roots if root.is_group]


def compile_graph(graph_or_refs: Graph | StepRef | Iterable[StepRef], *, prefix: str | None = None) -> Plan:
    """Lower a traced graph (or the StepRefs of traced steps) to StepSpecs under ``prefix`` ($MARIN_PREFIX if None).

    The same output path reached twice with the same function and version is one spec; anything else claiming a
    path already taken is a ``PathCollisionError`` naming both steps.
    """
    graph = graph_or_refs if isinstance(graph_or_refs, Graph) else Graph.from_refs(graph_or_refs)
    spec_of: dict[StepNode, StepSpec] = {}
    owner_of: dict[str, StepNode] = {}  # output path -> the node whose spec was kept
    with lowering_scope():  # a foreign step object met in several configs and at the top level: one StepSpec
        for node in graph.nodes:  # dependency order: every referenced node comes first
            if node.is_group:
                continue
            spec = _lower(node, spec_of, prefix)
            path = spec.output_path
            owner = owner_of.get(path)
            if owner is None:
                owner_of[path] = node
                if node.override_output_path is not None:
                    _warn_if_pinned_elsewhere(spec, prefix)
            else:
                spec = _same_step(owner, spec_of[owner], node, spec)
            spec_of[node] = spec
    specs: dict[int, StepSpec] = {}
    for node in graph.scheduled:
        if not node.is_group:
            specs.setdefault(id(spec_of[node]), spec_of[node])
    logger.debug(f"compiled {len(spec_of)} traced step(s) into {len(specs)} scheduled spec(s)")
    return Plan(graph=graph, specs=tuple(specs.values()), spec_of=spec_of)


def _lower(node: StepNode, spec_of: Mapping[StepNode, StepSpec], prefix: str | None) -> StepSpec:
    if node.foreign is not None:  # lowered by its kind, under this compile's prefix (None: the run's)
        return node.foreign(prefix)
    assert node.call is not None
    if node.adopted is not None:
        return lower_adopted(node, prefix)
    hash_attrs: dict[str, Any] = {}
    deps: list[StepSpec] = []
    pseudo_deps: list[StepSpec] = []
    index = 0
    for key, value in node.inputs:
        if not isinstance(value, StepRef):
            hash_attrs[key] = value  # a versioned value, already encoded
        elif value.hardcoded_path is not None:
            hash_attrs[key] = value.hardcoded_path
        else:
            assert value.node is not None
            dep = spec_of.get(value.node)
            if dep is None:
                raise CycleError(
                    f"step '{node.name}' references '{value.node.name}', which was not compiled before it; the "
                    "traced graph is not in dependency order (a config changed after its step body returned?)"
                )
            hash_attrs[key] = f"DEP[{index}]" + (f"/{value.subpath}" if value.subpath else "")
            index += 1
            (deps if value.blocking else pseudo_deps).append(dep)
    call = node.call
    name, version = named_identity(node)
    args, kwargs = _resolve(node, (call.args, call.kwargs), spec_of, prefix)
    # The provenance holds the instantiated config, which needs this step's output path, which needs the spec:
    # the info dict is completed right after construction, before anything can read it.
    info: dict[str, Any] = {
        "description": node.description,
        "fn_name": qualified_name(call.fn),
        "step_fn_name": node.qualname,
    }
    refuse_unsaveable_return(node.name, call.fn)
    spec = StepSpec(
        name=name,
        fn=StepCall(fn=call.fn, args=args, kwargs=kwargs),
        deps=deps,
        pseudo_deps=pseudo_deps,
        hash_attrs=hash_attrs,
        output_path_prefix=prefix,
        override_output_path=node.override_output_path,
        resources=node.resources,
        env_vars=node.env_vars,
        pip_dependency_groups=node.pip_dependency_groups,
        info=info,
        named_version=version,
        expected_fingerprint=node.expected_fingerprint,
    )
    spec.__dict__["_payload_of"] = functools.partial(fingerprint_payload, node, spec_of)  # computed when asked
    check_expected_fingerprint(spec)
    info["config"] = _config_info(call.fn, args, kwargs, spec.output_path)
    return spec


def _resolve(node: StepNode, arguments: Any, spec_of: Mapping[StepNode, StepSpec], prefix: str | None) -> Any:
    """``arguments`` with references replaced by concrete paths and versioned values by their values.

    ``output()`` becomes an ``OwnOutput`` placeholder, filled with the output path when the step is called.
    """

    referenced = {id(ref.node) for _, ref in node.refs}

    def leaf(obj: Any) -> Any:
        if isinstance(obj, (VersionedValue, RuntimeArg)):
            return obj.value
        if not isinstance(obj, StepRef):
            return DESCEND
        if obj.frame is not None:
            return OwnOutput(obj.subpath)
        if obj.on_prefix:
            root = resolve_prefix(prefix, node.name)
            return f"{root}/{obj.hardcoded_path}" if obj.hardcoded_path else root
        if obj.hardcoded_path is not None:
            return under_prefix(obj.hardcoded_path, resolve_prefix(prefix, node.name))
        assert obj.node is not None
        if id(obj.node) not in referenced or obj.node not in spec_of:
            raise TracingError(
                f"step '{node.name}': its config now holds {obj!r}, which was not there when its body returned. "
                "Configs must not change after a step is traced (was a list or dict in it modified later?)."
            )
        base = spec_of[obj.node].data_path
        return f"{base}/{obj.subpath}" if obj.subpath else base

    return map_config(arguments, leaf)


class OwnOutput:
    """Stands for the step's own output path (``output(subpath)``) until the step is called.

    Deliberately not a dataclass: plain data (``plain.to_plain``) must hand it to the provenance policy rather than
    encode it as a dict of its fields.
    """

    __slots__ = ("subpath",)

    def __init__(self, subpath: str | None = None) -> None:
        self.subpath = subpath

    def under(self, output_path: str) -> str:
        return f"{output_path}/{self.subpath}" if self.subpath else output_path

    def __eq__(self, other: object) -> bool:
        return type(other) is OwnOutput and other.subpath == self.subpath

    def __hash__(self) -> int:
        return hash((OwnOutput, self.subpath))

    def __repr__(self) -> str:
        return f"OwnOutput({self.subpath!r})"


@dataclasses.dataclass(frozen=True, eq=False)
class StepCall:
    """The function a compiled step runs: ``fn(*args, **kwargs)`` with ``output()`` filled in.

    Picklable when ``fn`` and the config are (it holds no StepRef, node or spec). ``__wrapped__`` is ``fn``, so the
    artifact type comes from ``fn``'s return annotation.
    """

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]

    @property
    def __wrapped__(self) -> Callable[..., Any]:
        return self.fn

    def __call__(self, output_path: str) -> Any:
        args, kwargs = _fill_output((self.args, self.kwargs), output_path)
        return self.fn(*args, **kwargs)

    def received_config(self, output_path: str) -> Any:
        """The config the function receives (its single argument, or its arguments by name), for the record."""
        args, kwargs = _fill_output((self.args, self.kwargs), output_path)
        roots = received(self.fn, args, kwargs, None)
        return roots[0][1] if len(roots) == 1 and roots[0][0] == "" else dict(roots)


def _fill_output(arguments: Any, output_path: str) -> Any:
    return map_config(arguments, lambda obj: obj.under(output_path) if isinstance(obj, OwnOutput) else DESCEND)


# -- provenance ---------------------------------------------------------------------------------------------------


def _config_info(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], output_path: str) -> Any:
    """The instantiated config as JSON data: the single argument, or the arguments by parameter name."""
    roots = call_roots(fn, args, kwargs, check=False)
    if len(roots) == 1 and roots[0][0] == "":
        return _json_data(roots[0][1], output_path)
    return {key: _json_data(value, output_path) for key, value in roots}


def _json_data(value: Any, output_path: str) -> Any:
    """Plain data for provenance: the step's own output marker as its path, sets as sorted lists (their iteration
    order differs between processes: it would read as drift on every rerun), the rest by ``repr``."""

    def unknown(item: Any, key: str) -> Any:  # no intercept: plain data takes its fast path for everything else
        if isinstance(item, OwnOutput):
            return item.under(output_path)
        if isinstance(item, (set, frozenset)):
            return sorted((_json_data(v, output_path) for v in item), key=_canonical)
        return as_repr(item, key)

    return to_plain(value, unknown=unknown, str_keys=True)


def _canonical(value: Any) -> str:
    """A sort key for plain data of any mix of types: its JSON text with sorted keys."""
    return json.dumps(value, sort_keys=True, default=repr)


# -- one path, one step ---------------------------------------------------------------------------------------------


def _same_step(owner: StepNode, kept: StepSpec, node: StepNode, spec: StepSpec) -> StepSpec:
    """``kept`` if ``node`` is the same step as ``owner`` (same function and version); else a collision error. Foreign
    steps are judged by the runner, as when given at the top level."""
    if node.foreign is not None or owner.foreign is not None:
        return spec
    assert owner.call is not None and node.call is not None
    path = kept.output_path
    if owner.call.fn is not node.call.fn:
        raise PathCollisionError(
            f"output path {path} is claimed by two different functions: step '{owner.name}' runs "
            f"{qualified_name(owner.call.fn)} and step '{node.name}' runs {qualified_name(node.call.fn)}. "
            "Give one of them another name or output path."
        )
    if kept.version_str != spec.version_str:
        raise PathCollisionError(
            f"steps '{owner.name}' (hash {kept.hash_id}) and '{node.name}' (hash {spec.hash_id}) have different "
            f"versions but both use output path {path}; pin them to different paths or drop with_output_path / "
            "override_output_path from one of them"
        )
    assert isinstance(kept.fn, StepCall) and isinstance(spec.fn, StepCall)
    try:
        same_config = (kept.fn.args, kept.fn.kwargs) == (spec.fn.args, spec.fn.kwargs)
    except Exception:  # configs holding arrays and the like cannot always be compared
        same_config = True
    if not same_config:
        logger.warning(
            f"{node.name}: traced twice with the same version but different unversioned config values; both are "
            f"one step at {path} and the first config is the one that runs"
        )
    return kept


def _warn_if_pinned_elsewhere(spec: StepSpec, prefix: str | None) -> None:
    own = f"{spec.name}/{spec.named_version}" if spec.is_named else spec.name_with_hash
    computed = f"{resolve_prefix(prefix, spec.name)}/{own}"
    if computed != spec.output_path:
        logger.warning(
            f"{spec.name}: output path pinned to {spec.output_path} instead of {computed}; the version is unchanged"
        )
