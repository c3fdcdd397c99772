"""``Template``: a step's name, description or output path with ``{param}`` placeholders, checked against the
function's signature when ``@step`` is applied and filled from the call's arguments while tracing.

It does not validate the filled name as a step name (``naming.validate_step_name`` does) and records nothing.
"""

from __future__ import annotations

import dataclasses
import inspect
import string
from collections.abc import Callable
from typing import Any, NoReturn

from marin_exec.errors import TracingError
from marin_exec.naming import qualified_name


@dataclasses.dataclass(frozen=True)
class Template:
    """A name/description/path with ``{param}`` placeholders filled from the step call's arguments."""

    text: str
    fields: tuple[str, ...]

    @staticmethod
    def parse(text: str, what: str, fn: Callable[..., Any], signature: inspect.Signature) -> Template:
        fields = []
        for _, field, _, _ in string.Formatter().parse(text):
            if field is None:
                continue
            root = field.split(".")[0].split("[")[0]
            if not root:
                raise TracingError(
                    f"@step on {qualified_name(fn)}: {what} '{text}' has a placeholder without a name; use {{param}} "
                    f"with one of the parameters {list(signature.parameters)}"
                )
            fields.append(root)
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())
        for root in fields:
            if root not in signature.parameters and not takes_any:
                _unknown_placeholder(fn, what, text, root, list(signature.parameters))
        return Template(text, tuple(fields))

    def fill(self, values: dict[str, Any], fn: Callable[..., Any], what: str) -> str:
        if not self.fields:
            return self.text
        for root in self.fields:
            if root not in values:
                _unknown_placeholder(fn, what, self.text, root, list(values))
        try:
            return self.text.format_map(values)
        except TracingError as e:
            raise TracingError(
                f"@step {qualified_name(fn)}: {what} '{self.text}' cannot be filled: {e} Placeholders are filled while "
                "tracing, so they need plain parameters (str, int, ...), not StepRefs."
            ) from None
        except (AttributeError, IndexError, KeyError, TypeError, ValueError) as e:
            raise TracingError(
                f"@step {qualified_name(fn)}: {what} '{self.text}' cannot be filled from the call's arguments: "
                f"{type(e).__name__}: {e}"
            ) from None


def _unknown_placeholder(fn: Callable[..., Any], what: str, text: str, field: str, known: list[str]) -> NoReturn:
    raise TracingError(
        f"@step on {qualified_name(fn)}: {what} '{text}' uses the placeholder {{{field}}}, which is not a parameter of "
        f"{getattr(fn, '__name__', fn)}; use one of {known} or add the parameter"
    )


def with_bare_fields(text: str) -> str:
    """``text`` with each ``{field!r:spec}`` written ``{field}``, so that only the literal parts are validated."""
    return "".join(
        literal + (f"{{{field}}}" if field is not None else "")
        for literal, field, _, _ in string.Formatter().parse(text)
    )
