"""``@step`` and ``deferred``: calling a step traces its body into a ``StepNode`` and returns a ``StepRef``.

Inside a step body a ``deferred`` function records a ``DeferredCall`` instead of running; the step's config is
that call's arguments, walked by ``config_walk``. It computes no version or path and runs no step: compiling and
running are the compiler's and the runner's business.

Choices where DESIGN is silent: ``@step`` always needs a name (it is the step's identity and path; renaming a
Python function must not move outputs). A body makes exactly one deferred call and returns it; one that makes a
call but returns None is an error (a forgotten ``return``), not a group. A deferred call with one argument,
positional or keyword, is walked at the root, so ``f(cfg)`` and ``f(config=cfg)`` hash alike. A set in a config
is fine unless it holds references or versioned values (no stable order to number them).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar

from marin_exec.errors import StepDefinitionError, TracingError
from marin_exec.naming import qualified_name, validate_step_name
from marin_exec.trace.binding import bind
from marin_exec.trace.config_walk import DESCEND, MarinPlaceholderFound, map_config, scan_config
from marin_exec.trace.context import Frame, current_frame, gc_paused, run_in_frame
from marin_exec.trace.graph import DeferredCall, StepNode
from marin_exec.trace.memo import memo_key as _memo_key
from marin_exec.trace.named import NamedOptions
from marin_exec.trace.step_ref import StepRef
from marin_exec.trace.template import Template, with_bare_fields
from marin_exec.versioning import RuntimeArg, VersionedValue

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


# -- deferred ---------------------------------------------------------------------------------------------------


def deferred(fn: Callable[P, T]) -> Callable[P, T]:
    """Wrap a library function: inside a @step body a call returns a ``DeferredCall``; elsewhere it runs ``fn``.

    Outside tracing, ``versioned`` markers in the arguments are unwrapped; a StepRef there is an error.
    """
    if getattr(fn, "__marin_deferred__", False):
        raise StepDefinitionError(f"deferred() was applied twice to {qualified_name(fn)}; apply it once")
    if getattr(fn, "__marin_step__", None) is not None:
        raise StepDefinitionError(
            f"deferred() was applied to the @step function {qualified_name(fn)}; wrap the library function with "
            "deferred() and call it from the @step body"
        )
    if not callable(fn):
        raise StepDefinitionError(f"deferred() needs a function, got {fn!r}")

    @functools.wraps(fn)
    def call(*args: P.args, **kwargs: P.kwargs) -> T:
        frame = current_frame()
        if frame is None:
            return fn(*_concrete(fn, args), **_concrete(fn, kwargs))
        if not frame.is_step:
            raise TracingError(
                f"{qualified_name(fn)}(...) was called during {frame.name} but outside any @step body; call deferred "
                "functions inside a @step function body"
            )
        recorded = DeferredCall(fn, args, dict(kwargs), step_name=frame.name)
        frame.calls.append(recorded)
        return recorded  # type: ignore[return-value]  # a stand-in for the result, typed as the result

    call.__marin_deferred__ = True  # type: ignore[attr-defined]
    return call


def _concrete(fn: Callable[..., Any], arguments: Any) -> Any:
    def leaf(obj: Any) -> Any:
        if isinstance(obj, (VersionedValue, RuntimeArg)):
            return obj.value
        if isinstance(obj, StepRef):
            raise TracingError(
                f"{qualified_name(fn)}(...) was called outside any @step body with {obj!r} in its arguments. Outside "
                "tracing a deferred function runs at once, and a StepRef has no path yet: call it inside a @step "
                "function body, or pass concrete paths."
            )
        return DESCEND

    return map_config(arguments, leaf)


# -- @step ------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _StepDefinition:
    fn: Callable[..., Any]
    signature: inspect.Signature
    name: Template
    description: Template | None
    override_output_path: Template | None
    resources: Any
    env_vars: dict[str, str] | None
    pip_dependency_groups: list[str] | None
    named: NamedOptions | None = None

    @functools.cached_property
    def _has_placeholders(self) -> bool:
        templates = (self.name, self.description, self.override_output_path)
        return any(t is not None and t.fields for t in templates) or bool(self.named and self.named.fields)

    def __call__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> StepRef:
        parent = current_frame()
        memo = _MEMO.get()
        if memo is None:  # the outermost step call of a trace owns the memo, and explains what tracing raised
            token = _MEMO.set({})
            try:
                with gc_paused():
                    return self._call(parent, args, kwargs)
            except Exception as error:
                from marin_exec.trace.trace_errors import explain_trace_error, install_excepthook

                install_excepthook()  # uncaught, it is shown without the frames it gains on its way out
                raise explain_trace_error(error)  # noqa: B904  # its context is suppressed, or it is ``error`` itself
            finally:
                _MEMO.reset(token)
        key = _memo_key(self, args, kwargs)
        node = memo.get(key) if key is not None else None
        if node is None:
            ref = self._call(parent, args, kwargs)
            if key is not None and ref.node is not None:
                memo[key] = ref.node
            return ref
        if parent is not None:
            parent.children.append(node)
        return StepRef(node=node)

    def _call(self, parent: Frame | None, args: tuple[Any, ...], kwargs: dict[str, Any]) -> StepRef:
        values = self._arguments(args, kwargs) if self._has_placeholders else {}
        name = self.name.fill(values, self.fn, "name")
        try:
            validate_step_name(name)
        except StepDefinitionError as e:
            raise StepDefinitionError(f"@step {qualified_name(self.fn)}: {e}") from None
        frame = Frame(name=name, qualname=qualified_name(self.fn), is_step=True)
        result = run_in_frame(frame, self.fn, args, kwargs)
        node = self._node(frame, result, values)
        if parent is not None:
            parent.children.append(node)
        return StepRef(node=node)

    def _arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        try:
            values = bind(self.fn, args, kwargs, defaults=True)
        except TypeError as e:
            raise TypeError(f"{qualified_name(self.fn)}(): {e}") from None
        for param in self.signature.parameters.values():
            if param.kind is inspect.Parameter.VAR_KEYWORD:
                values.update(values.get(param.name, {}))
        return values

    def _node(self, frame: Frame, result: Any, values: dict[str, Any]) -> StepNode:
        where = f"step '{frame.name}' ({frame.qualname})"
        description = self.description.fill(values, self.fn, "description") if self.description else None
        if result is None:
            if frame.calls:
                call = frame.calls[-1]
                raise TracingError(
                    f"{where} called {qualified_name(call.fn)}(...) but returned None, so the call would never run. "
                    f"Return it: `return {getattr(call.fn, '__name__', 'fn')}(...)`. (A body that calls no deferred "
                    "function and returns None is a group.)"
                )
            job_only = {
                "version": self.named,
                "override_output_path": self.override_output_path,
                "resources": self.resources,
                "env_vars": self.env_vars,
                "pip_dependency_groups": self.pip_dependency_groups,
            }
            given = [option for option, value in job_only.items() if value is not None]
            if given:
                raise TracingError(
                    f"{where} is a group (its body returns no deferred call), so it runs nothing and "
                    f"{', '.join(given)} would apply to nothing; put them on the steps it calls"
                )
            return StepNode(frame.name, frame.qualname, description, None, tuple(frame.children), ())
        if not isinstance(result, DeferredCall):
            hint = (
                " (a StepRef: to make a group, call the steps and return nothing)"
                if isinstance(result, StepRef)
                else ""
            )
            raise TracingError(
                f"{where} returned {type(result).__name__} {result!r}{hint}. A @step body must return the call of a "
                "deferred function (`return fn(config)`), or return nothing to be a group of the steps it calls."
            )
        inputs = _scan_config(result, frame)  # first: a deferred result inside the config has its own error
        if len(frame.calls) != 1 or frame.calls[0] is not result:
            made = ", ".join(f"{qualified_name(c.fn)}(...)" for c in frame.calls) or "none"
            raise TracingError(
                f"{where} must make exactly one deferred call and return it; it made: {made}. Make each call its "
                "own @step and pass StepRefs between them."
            )
        pinned = (
            self.override_output_path.fill(values, self.fn, "override_output_path")
            if self.override_output_path
            else None
        )
        return StepNode(
            name=frame.name,
            qualname=frame.qualname,
            description=description,
            call=result,
            children=tuple(frame.children),
            inputs=inputs,
            override_output_path=pinned,
            resources=self.resources,
            env_vars=self.env_vars,
            pip_dependency_groups=self.pip_dependency_groups,
            version=self.named.fill(values, self.fn, frame.name) if self.named else None,
            expected_fingerprint=self.named.expected_fingerprint if self.named else None,
            user_namespace=bool(self.named and self.named.user_namespace),
        )


# Within one trace, a @step called again with equal arguments is the same node: its body is not traced again.
# Without this, bodies that call their upstream steps (instead of taking StepRefs) trace exponentially often.
_MEMO: ContextVar[dict[Any, StepNode] | None] = ContextVar("marin_exec_step_memo", default=None)


def step(
    name: str,
    *,
    description: str | None = None,
    resources: Any = None,
    env_vars: dict[str, str] | None = None,
    pip_dependency_groups: list[str] | None = None,
    override_output_path: str | None = None,
    version: Any = None,
    expected_fingerprint: str | None = None,
    user_namespace: bool = False,
) -> Callable[[Callable[P, Any]], Callable[P, StepRef]]:
    """Declare a step: calling the function traces its body and returns a ``StepRef`` (nothing runs).

    ``name``, ``description``, ``version`` and ``override_output_path`` may contain ``{param}`` placeholders filled
    from the call's arguments, defaults included. The body returns one deferred call (a job step) or nothing (a
    group). The name is required: it is the step's identity and output path, so it is never derived from the
    function. ``version`` (``"2026.12.06"``, ``"dev"``, ``RUN_VERSION``) makes a named step at
    ``{prefix}/{name}/{version}`` (DESIGN §4b); ``user_namespace=True`` puts a mutable one under ``users/{user}/``;
    ``expected_fingerprint`` stops the run before anything runs when the config's fingerprint differs.
    """
    if not isinstance(name, str):
        shown = getattr(name, "__name__", repr(name))
        raise StepDefinitionError(
            f"@step on {shown} needs a name, the step's identity and output path: write "
            f'@step(name="{shown}") or a path such as @step(name="tokenized/{{dataset}}")'
        )

    def decorate(fn: Callable[P, Any]) -> Callable[P, StepRef]:
        if getattr(fn, "__marin_step__", None) is not None:
            raise StepDefinitionError(
                f"@step was applied twice to {qualified_name(fn)} (as '{fn.__marin_step__.name.text}' and '{name}'); "  # type: ignore[attr-defined]
                "apply it once"
            )
        signature = inspect.signature(fn)
        template = Template.parse(name, "name", fn, signature)
        try:
            validate_step_name(with_bare_fields(name))
        except StepDefinitionError as e:
            raise StepDefinitionError(f"@step on {qualified_name(fn)}: {e}") from None
        definition = _StepDefinition(
            fn=fn,
            signature=signature,
            name=template,
            description=Template.parse(description, "description", fn, signature) if description else None,
            override_output_path=(
                Template.parse(override_output_path, "override_output_path", fn, signature)
                if override_output_path
                else None
            ),
            resources=resources,
            env_vars=env_vars,
            pip_dependency_groups=pip_dependency_groups,
            named=NamedOptions.parse(version, expected_fingerprint, user_namespace, fn, signature),
        )

        @functools.wraps(fn)
        def traced(*args: P.args, **kwargs: P.kwargs) -> StepRef:
            return definition(args, kwargs)

        traced.__marin_step__ = definition  # type: ignore[attr-defined]
        return traced

    return decorate


def _scan_config(call: DeferredCall, frame: Frame) -> tuple[tuple[str, Any], ...]:
    """``scan_config``, with Marin's placeholders (ExecutorStep, InputName, versioned, mirrored, THIS_OUTPUT_PATH,
    lazy ArtifactStep handles) rewritten first by the foreign kind that knows them (``trace.foreign``: loaded only
    when such an object is met), each kind once: understood or refused, never passed on."""
    extra: tuple[tuple[str, Any], ...] = ()
    lowered: frozenset[str] = frozenset()
    while True:
        try:
            return scan_config(call, frame, lowered) + extra
        except MarinPlaceholderFound as found:
            from marin_exec.trace.foreign import lower_config

            entries, kinds = lower_config(call, frame, found.kind)
            extra, lowered = extra + tuple(entries), lowered | kinds
