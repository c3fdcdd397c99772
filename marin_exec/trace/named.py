"""A ``@step``'s named-version options (DESIGN §4b): ``version=`` (a literal, a ``{param}`` template or
``RUN_VERSION``), ``expected_fingerprint=`` and ``user_namespace=``, checked when the step is defined and filled
while tracing. It resolves no ``RUN_VERSION`` (the compiler does, from the run's flags) and computes no fingerprint.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

from marin_exec.errors import StepDefinitionError
from marin_exec.named_versions import RUN_VERSION, _RunVersion, check_version
from marin_exec.naming import qualified_name
from marin_exec.trace.template import Template


@dataclasses.dataclass(frozen=True)
class NamedOptions:
    version: Template | _RunVersion | None
    expected_fingerprint: str | None = None
    user_namespace: bool = False

    @staticmethod
    def parse(
        version: Any,
        expected_fingerprint: str | None,
        user_namespace: bool,
        fn: Callable[..., Any],
        signature: inspect.Signature,
    ) -> NamedOptions | None:
        where = f"@step on {qualified_name(fn)}"
        if expected_fingerprint is not None and not (
            isinstance(expected_fingerprint, str) and len(expected_fingerprint) == 8
        ):
            raise StepDefinitionError(
                f"{where}: expected_fingerprint={expected_fingerprint!r} is not a fingerprint (8 hex digits, as the "
                "dry run and .artifact.json show it)"
            )
        if version is None:
            if user_namespace:
                raise StepDefinitionError(
                    f"{where}: user_namespace=True needs a named version (version='dev' or '<label>-dev'); a hashed "
                    "step's path is already its own"
                )
            return None if expected_fingerprint is None else NamedOptions(None, expected_fingerprint)
        if version is RUN_VERSION:
            return NamedOptions(RUN_VERSION, expected_fingerprint, bool(user_namespace))
        if not isinstance(version, str):
            check_version(version, qualified_name(fn))  # raises: a version is a str
        template = Template.parse(version, "version", fn, signature)
        if not template.fields:
            check_version(version, qualified_name(fn))
        return NamedOptions(template, expected_fingerprint, bool(user_namespace))

    @property
    def fields(self) -> tuple[str, ...]:
        return self.version.fields if isinstance(self.version, Template) else ()

    def fill(self, values: dict[str, Any], fn: Callable[..., Any], step: str) -> str | _RunVersion | None:
        """The step's version for one call: the template filled and checked, or ``RUN_VERSION``."""
        if not isinstance(self.version, Template):
            return self.version
        return check_version(self.version.fill(values, fn, "version"), step)
