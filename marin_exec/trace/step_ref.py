"""``StepRef``: an immutable stand-in for a path that exists only when the pipeline runs.

A StepRef names the output of a traced step (optionally a path under it, optionally nonblocking), the current
step's own output (``output()``), or a hard-coded input path. It refuses to be used as data (``bool()``, iteration,
``os.fspath()``, ``str()``, formatting) because no path exists while tracing. It does not compute paths, hashes or
versions: the compiler replaces each StepRef by a concrete path.
"""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING, Any, NoReturn

from marin_exec.errors import TracingError
from marin_exec.trace.context import current_step_name

if TYPE_CHECKING:
    from marin_exec.trace.graph import StepNode


@dataclasses.dataclass(frozen=True)
class StepRef:
    """A reference to a step's output path (or a path under it) inside a config.

    Exactly one of ``node`` (a traced step), ``frame`` (the tracing frame of a step body that called
    ``output()``) and ``hardcoded_path`` is set. Build StepRefs by calling a ``@step`` function, ``output()`` or
    ``StepRef.hardcoded(path)``, not with this constructor.
    """

    node: StepNode | None = None
    subpath: str | None = None
    blocking: bool = True
    hardcoded_path: str | None = None
    frame: Any = dataclasses.field(default=None, repr=False)
    on_prefix: bool = False  # ``under_prefix``: ``hardcoded_path`` is relative to the run's prefix, not identity

    # -- building references ----------------------------------------------------------------------------------

    @staticmethod
    def hardcoded(path: str | os.PathLike[str]) -> StepRef:
        """An input no step produces; a relative path is under the prefix. It enters the version as written."""
        if isinstance(path, os.PathLike):
            path = os.fspath(path)
        if not isinstance(path, str) or not path:
            raise TracingError(
                f"StepRef.hardcoded({path!r}){_while_tracing()}: give a non-empty str path such as 'raw/external/v1'"
            )
        return StepRef(hardcoded_path=path)

    @staticmethod
    def under_prefix(path: str | os.PathLike[str] = "") -> StepRef:
        """A path under the run's prefix that is *where* the step runs, not what it is (Marin's ``ctx.prefix``):
        the function gets ``{prefix}/{path}``, the fingerprint records ``<prefix>/{path}``, no hash includes it."""
        path = os.fspath(path) if isinstance(path, os.PathLike) else path
        if not isinstance(path, str) or path.startswith("/") or "://" in path or ".." in path.split("/"):
            raise TracingError(
                f"StepRef.under_prefix({path!r}){_while_tracing()}: give a relative path such as 'cache/tokenizers'"
            )
        return StepRef(hardcoded_path=path.strip("/"), on_prefix=True)

    def __truediv__(self, subpath: str | os.PathLike[str]) -> StepRef:
        """The path ``subpath`` under this reference: ``tokenized / "data" / "train.jsonl"``."""
        if isinstance(subpath, os.PathLike):
            subpath = os.fspath(subpath)
        if not isinstance(subpath, str) or not subpath or subpath.startswith("/") or ".." in subpath.split("/"):
            raise TracingError(
                f"{self!r} / {subpath!r}{_while_tracing()}: a sub path must be a non-empty relative path string "
                "without '..' (such as 'data/train.jsonl'), so that it stays under the step's output path"
            )
        if self.hardcoded_path is not None:
            return dataclasses.replace(self, hardcoded_path=_join(self.hardcoded_path, subpath))
        return dataclasses.replace(self, subpath=_join(self.subpath, subpath))

    def cd(self, subpath: str | os.PathLike[str]) -> StepRef:
        """Same as ``self / subpath``."""
        return self / subpath

    def nonblocking(self) -> StepRef:
        """A reference that enters the version but is neither scheduled nor waited for (e.g. live checkpoints)."""
        if self.frame is not None:
            raise TracingError(
                f"step '{self.frame.name}': {self!r}.nonblocking() was called, but a step never waits for its own "
                "output, so there is nothing to make nonblocking. Use output() as it is."
            )
        return dataclasses.replace(self, blocking=False)

    def with_output_path(self, path: str) -> StepRef:
        """Pin this step's output path (relative: under the prefix). The version, and so the hash, is unchanged.

        The pin belongs to the step, so every reference to it sees the pinned path. Pinning one step to two
        different paths is an error.
        """
        if self.node is None or self.subpath is not None:
            raise TracingError(
                f"{self!r}.with_output_path({path!r}): only the StepRef returned by calling a @step can be pinned "
                "(not output(), a sub path or a hard-coded path); inside a step definition use "
                "@step(override_output_path=...)"
            )
        if self.node.is_group:
            raise TracingError(
                f"{self!r}.with_output_path({path!r}): '{self.node.name}' is a group (its body returns no deferred "
                "call), so it has no output path; pin one of the steps it calls instead"
            )
        if not isinstance(path, str) or not path:
            raise TracingError(f"step '{self.node.name}': with_output_path needs a non-empty path, got {path!r}")
        self.node.pin_output_path(path)
        return self

    # -- refusing to be data -----------------------------------------------------------------------------------

    def _refuse(self, use: str) -> NoReturn:
        raise StepRefUsedAsData(
            f"{self!r} ({self.describe()}) was used as data{_while_tracing()}: {use}. A StepRef stands for a path "
            "that exists only when the pipeline runs, so it cannot be tested, iterated, joined or formatted while "
            "tracing. Put it in the config you pass to a deferred function (use ref / 'sub/path' for paths under it); "
            "the library function then receives the concrete path as a str.",
            self,
            use,
        )

    def __bool__(self) -> bool:
        self._refuse("bool() (an if/while/and/or on it)")

    def __iter__(self) -> NoReturn:
        self._refuse("iteration")

    def __len__(self) -> int:
        self._refuse("len()")

    def __getitem__(self, key: object) -> NoReturn:
        self._refuse("indexing; use ref / 'sub/path' for a path under it")

    def __fspath__(self) -> str:
        self._refuse("os.fspath() (os.path / open() / pathlib)")

    def __str__(self) -> str:
        self._refuse("str()")

    def __format__(self, format_spec: str) -> str:
        self._refuse("formatting into a string (f-string, str.format)")

    def __add__(self, other: object) -> NoReturn:
        self._refuse("string concatenation with +; use ref / 'sub/path'")

    def __radd__(self, other: object) -> NoReturn:
        self._refuse("string concatenation with +; use ref / 'sub/path'")

    # -- display -----------------------------------------------------------------------------------------------

    def __repr__(self) -> str:
        """Reads like source: ``tokenized/shakespeare/"data"``, ``output("ckpt")``, ``StepRef.hardcoded("raw")``."""
        if self.on_prefix:
            text = f'StepRef.under_prefix("{self.hardcoded_path}")'
        elif self.hardcoded_path is not None:
            text = f'StepRef.hardcoded("{self.hardcoded_path}")'
        elif self.frame is not None:
            text = f'output("{self.subpath}")' if self.subpath else "output()"
        else:
            assert self.node is not None
            text = self.node.name + (f'/"{self.subpath}"' if self.subpath else "")
        return text if self.blocking else f"{text}.nonblocking()"

    def describe(self) -> str:
        """What the reference stands for, for messages: ``the output path of step 'data/raw'``."""
        if self.on_prefix:
            return "a path under the run's prefix"
        if self.hardcoded_path is not None:
            return "a hard-coded input"
        if self.frame is not None:
            return f"the output path of step '{self.frame.name}'"
        assert self.node is not None
        return f"the output path of step '{self.node.name}'"


class StepRefUsedAsData(TracingError):
    """A StepRef refused to be data while tracing; ``ref`` is the StepRef, ``use`` what was done to it."""

    def __init__(self, message: str, ref: StepRef, use: str) -> None:
        super().__init__(message)
        self.ref = ref
        self.use = use


def _join(base: str | None, subpath: str) -> str:
    return f"{base.rstrip('/')}/{subpath}" if base else subpath


def _while_tracing() -> str:
    """`` while tracing step 'name'`` inside a @step body, else empty (for messages)."""
    name = current_step_name()
    return f" while tracing step '{name}'" if name else ""
