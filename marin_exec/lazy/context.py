"""``StepContext`` with Marin's signature (``marin.execution.lazy.StepContext``): what a handle's ``build_config``
resolves against. Under ``for_run`` it holds the real output path, dependency paths, prefix, region and runtime
arguments; under ``for_fingerprint`` Marin's placeholders (``<output_path>``, ``name@version``, ``<prefix>``,
``<region>``, ``<key>``), so that only literals bear a handle's identity. Pure: no files, no pydantic.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any


@dataclasses.dataclass(frozen=True)
class StepContext:
    """What ``build_config`` resolves against. ``artifact_path``/``resolved`` take declared deps only."""

    output_path: str
    prefix: str
    region: str | None
    is_fingerprint: bool
    _dep_ref: Callable[[Any], str]
    _runtime_args: Mapping[str, Any]
    _deps: tuple[Any, ...] = ()
    _loaded: dict[int, Any] = dataclasses.field(default_factory=dict)

    def artifact_path(self, dep: Any) -> str:
        self._require_declared(dep)
        return self._dep_ref(dep)

    def resolved(self, dep: Any) -> Any:
        """The dependency's loaded artifact (read once per context); not available while fingerprinting."""
        if self.is_fingerprint:
            raise ValueError(
                "ctx.resolved reads a built artifact: not available at fingerprint time (branch on ctx.is_fingerprint)"
            )
        self._require_declared(dep)
        if id(dep) not in self._loaded:
            self._loaded[id(dep)] = dep.artifact_type.raw_load(self._dep_ref(dep))
        return self._loaded[id(dep)]

    def _require_declared(self, dep: Any) -> None:
        if not any(dep is d for d in self._deps):
            raise ValueError(
                f"{dep.name}@{dep.version} is not among this step's deps; add it to deps=(...) so it is built first"
            )

    def runtime_arg(self, key: str) -> Any:
        if key not in self._runtime_args:
            raise KeyError(f"runtime arg {key!r} is not declared; the step declares {sorted(self._runtime_args)}")
        return self._runtime_args[key]

    @staticmethod
    def for_run(
        output_path: str,
        prefix: str,
        *,
        region: str | None = None,
        runtime_args: Mapping[str, Any] | None = None,
        deps: Iterable[Any] = (),
    ) -> StepContext:
        ref = lambda d: d.path(prefix)  # noqa: E731
        return StepContext(output_path, prefix, region, False, ref, runtime_args or {}, tuple(deps))

    @staticmethod
    def for_fingerprint(runtime_arg_keys: Iterable[str] = (), deps: Iterable[Any] = ()) -> StepContext:
        return StepContext(
            "<output_path>",
            "<prefix>",
            "<region>",
            True,
            lambda d: f"{d.name}@{d.version}",
            {key: f"<{key}>" for key in runtime_arg_keys},
            tuple(deps),
        )
