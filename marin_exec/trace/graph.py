"""What tracing records — ``DeferredCall``, ``StepNode``, ``Graph`` — plus ``output()`` and ``trace()``.

The frame of the body being traced lives in ``trace.context``. A ``StepNode`` is created only when its body has
returned, so every reference in a config points at a finished node: nodes numbered in completion order are already
in dependency order and the graph cannot have a cycle. This module computes no version, hash or path (the
compiler does) and never does I/O.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NoReturn

from marin_exec.errors import TracingError
from marin_exec.naming import qualified_name
from marin_exec.trace.context import Frame, current_frame, run_in_frame
from marin_exec.trace.step_ref import StepRef

logger = logging.getLogger(__name__)

_completion_order = itertools.count()


@dataclasses.dataclass(frozen=True, eq=False)
class DeferredCall:
    """A call of a deferred function recorded while tracing; its result does not exist yet."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    step_name: str | None = dataclasses.field(default=None, repr=False)

    def __getattr__(self, name: str) -> NoReturn:
        if name.startswith("_"):  # copy, pickle, IPython and friends probe optional hooks
            raise AttributeError(name)
        raise TracingError(
            f"step '{self.step_name}': '.{name}' was read from the result of {qualified_name(self.fn)}(...) while "
            "tracing. Inside a @step body a deferred function does not run: the call is only recorded, so its "
            "result does not exist yet. Return the call from the step body, and pass this step's StepRef to the "
            "steps that need what it produces."
        )

    def __bool__(self) -> bool:
        raise TracingError(
            f"step '{self.step_name}': the result of {qualified_name(self.fn)}(...) was tested with bool() while "
            "tracing; it does not exist until the step runs. Return the call from the step body."
        )

    def __iter__(self) -> NoReturn:
        raise TracingError(
            f"step '{self.step_name}': the result of {qualified_name(self.fn)}(...) was iterated while tracing; it "
            "does not exist until the step runs. Return the call from the step body."
        )

    def __repr__(self) -> str:
        parts = [repr(arg) for arg in self.args] + [f"{key}={value!r}" for key, value in self.kwargs.items()]
        return f"{getattr(self.fn, '__name__', repr(self.fn))}({', '.join(parts)})"


@dataclasses.dataclass(eq=False)
class StepNode:
    """A traced @step call: a job (its body returned a deferred call) or a group (it returned None).

    ``inputs`` lists what the config contributes to the step's identity, in walk order: ``(key, StepRef)`` for
    references (blocking, nonblocking and hard-coded) and ``(key, encoded value)`` for versioned values.
    Nodes are compared by identity. Only ``override_output_path`` may change after creation (``with_output_path``).
    """

    name: str
    qualname: str  # module.qualname of the @step function
    description: str | None
    call: DeferredCall | None
    children: tuple[StepNode, ...]
    inputs: tuple[tuple[str, Any], ...]
    override_output_path: str | None = None
    resources: Any = None
    env_vars: dict[str, str] | None = None
    pip_dependency_groups: list[str] | None = None
    version: Any = None  # named step: its version, or RUN_VERSION (resolved when compiled); None: hashed
    expected_fingerprint: str | None = None
    user_namespace: bool = False
    adopted: Any = None  # adopt(): (source, config, kind)
    # A step another library defines, met in a config (``trace.foreign``): the compiler uses the StepSpec this
    # returns, given the compile's prefix (one per compile, shared with the same object's lowering at the top
    # level), instead of lowering ``call``.
    foreign: Callable[[str | None], Any] | None = None
    seq: int = dataclasses.field(default_factory=lambda: next(_completion_order))

    @property
    def is_group(self) -> bool:
        return self.call is None

    @property
    def refs(self) -> Iterator[tuple[str, StepRef]]:
        """The references among the inputs, in walk order (hard-coded ones included)."""
        return ((key, value) for key, value in self.inputs if isinstance(value, StepRef))

    @property
    def dependencies(self) -> list[StepNode]:
        """Steps referenced blocking, in walk order (a step referenced twice appears twice)."""
        return [ref.node for _, ref in self.refs if ref.node is not None and ref.blocking]

    @property
    def pseudo_dependencies(self) -> list[StepNode]:
        """Steps referenced nonblocking, in walk order."""
        return [ref.node for _, ref in self.refs if ref.node is not None and not ref.blocking]

    def pin_output_path(self, path: str) -> None:
        if self.override_output_path is not None and self.override_output_path != path:
            raise TracingError(
                f"step '{self.name}' is pinned to output path '{self.override_output_path}' and cannot also be "
                f"pinned to '{path}'; keep one with_output_path / override_output_path"
            )
        self.override_output_path = path

    def __repr__(self) -> str:
        kind = "group" if self.is_group else "step"
        return f"StepNode({kind} {self.name!r})"


@dataclasses.dataclass(frozen=True)
class Graph:
    """The traced steps reachable from ``roots`` through the steps each body called and each config references."""

    roots: tuple[StepNode, ...]

    @staticmethod
    def from_refs(refs: StepRef | Iterable[StepRef]) -> Graph:
        """The graph of the steps behind ``refs`` (as returned by calling @step functions)."""
        items = [refs] if isinstance(refs, StepRef) else list(refs)
        roots: list[StepNode] = []
        for item in items:
            if isinstance(item, StepRef) and item.node is not None:
                roots.append(item.node)
                continue
            if getattr(item, "__marin_step__", None) is not None:
                fn_name = getattr(item, "__name__", "step")
                problem = f"the @step function {fn_name} itself; call it: {fn_name}(...)"
            elif isinstance(item, StepRef):
                problem = f"{item!r}, which is not a step"
            else:
                problem = f"{type(item).__name__} {item!r}"
            raise TracingError(
                f"steps to run must be the StepRefs returned by calling @step functions, but got {problem}"
            )
        return Graph(roots=tuple(_unique(roots)))

    @functools.cached_property
    def nodes(self) -> tuple[StepNode, ...]:
        """Every node reachable from the roots, in dependency order (each after everything it references)."""
        return tuple(sorted(_reachable(self.roots, through_nonblocking=True), key=lambda node: node.seq))

    @functools.cached_property
    def scheduled(self) -> tuple[StepNode, ...]:
        """The nodes the plan runs: reachable without going through a nonblocking reference, in dependency order."""
        return tuple(sorted(_reachable(self.roots, through_nonblocking=False), key=lambda node: node.seq))

    @property
    def steps(self) -> tuple[StepNode, ...]:
        return tuple(node for node in self.nodes if not node.is_group)

    @property
    def groups(self) -> tuple[StepNode, ...]:
        return tuple(node for node in self.nodes if node.is_group)


def _reachable(roots: Iterable[StepNode], *, through_nonblocking: bool) -> list[StepNode]:
    seen: set[int] = set()
    found: list[StepNode] = []
    stack = list(roots)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        found.append(node)
        stack.extend(node.children)
        for _, ref in node.refs:
            if ref.node is not None and (ref.blocking or through_nonblocking):
                stack.append(ref.node)
    return found


def _unique(nodes: Iterable[StepNode]) -> list[StepNode]:
    seen: set[int] = set()
    return [node for node in nodes if not (id(node) in seen or seen.add(id(node)))]  # type: ignore[func-returns-value]


def output(subpath: str | None = None) -> StepRef:
    """This step's own output path (or ``subpath`` under it); valid only inside a @step function body."""
    frame = current_frame()
    if frame is None or not frame.is_step:
        shown = repr(subpath) if subpath else ""
        where = f" (in {frame.name}, outside the steps it calls)" if frame is not None else ""
        raise TracingError(
            f"output({shown}) was called outside a @step function body{where}; call it inside a "
            "@step function body, where it stands for that step's own output path"
        )
    ref = StepRef(frame=frame)
    return ref / subpath if subpath else ref


def trace(entry: Callable[..., Any], *args: Any, **kwargs: Any) -> Graph:
    """Run ``entry(*args, **kwargs)`` under tracing and return the graph of every step it called; runs nothing.

    ``entry`` is usually a @step function; a plain function that calls @step functions works too.
    """
    qualname = getattr(entry, "__qualname__", repr(entry))
    frame = Frame(name=f"trace({qualname})", qualname=qualname, is_step=False)
    result = run_in_frame(frame, entry, args, kwargs)
    roots = list(frame.children)
    returned = [result] if isinstance(result, StepRef) else result if isinstance(result, (list, tuple)) else []
    roots.extend(ref.node for ref in returned if isinstance(ref, StepRef) and ref.node is not None)
    logger.debug(f"trace({qualname}): {len(roots)} root step(s)")
    return Graph(roots=tuple(_unique(roots)))
