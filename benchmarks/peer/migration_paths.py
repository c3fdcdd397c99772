"""Runs every "before" example of MIGRATION.md with Marin's real executor and records each step's output path.

Run it with the reference peer's interpreter (see install_peer.sh), never with the project venv:

    /work/peer-venv/bin/python benchmarks/peer/migration_paths.py                  # (re)write the golden JSON
    /work/peer-venv/bin/python benchmarks/peer/migration_paths.py --check          # exit 1 if it is out of date
    /work/peer-venv/bin/python benchmarks/peer/migration_paths.py --reuse tiny_lm  # Marin runs, marin_exec reuses

MIGRATION.md marks every code block with an HTML comment on the line before it:

    <!-- example: NAME before -->                Marin code: run here, with marin-core
    <!-- example: NAME before paths-change -->   ... whose after deliberately gets new paths (the guide says why)
    <!-- example: NAME after -->                 marin_exec code: tests/test_migration.py compiles and dry-runs it
    <!-- example: NAME raises ERROR match=RE --> marin_exec code that must raise marin_exec.ERROR matching RE
    <!-- example: NAME differs -->               marin_exec code that runs but must NOT reproduce the before paths
    <!-- example: NAME shell -->                 a ```bash block; the test checks its executor_main flags
    <!-- example: NAME dry-run -->               a ```text block; the test compares it with a real dry run
    ... uses=OTHER                               OTHER's files of the same side are written first (shared modules)

A block whose first line is ``# some/dir/file.py`` is that file; the blocks of one side are written, in order, into
a fresh directory that is put on ``sys.path``, and the last block is the script. Here the "before" script runs as
``__main__`` with ``--prefix <tmp> --dry_run true``: Marin's own ``executor_main`` computes versions and logs what
it would run, and the ``Executor`` it creates is captured to read every step's output path (relative to the prefix).
The JSON also records a digest of each example's before source, so the test can tell when a block changed without
this file being regenerated.

This module also holds the block parser that the test imports (it imports nothing from Marin or marin_exec at
module level). It deliberately does not import marin_exec: the JSON it writes is all the test consumes, so CI
never needs marin-core. Set membership is printed in hash-seed order, so the script re-executes itself with
``PYTHONHASHSEED=0`` to make the one example that versions a set reproducible.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import importlib
import json
import os
import platform
import re
import runpy
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

REPO_ROOT = Path(__file__).resolve().parents[2]
GUIDE = REPO_ROOT / "MIGRATION.md"
DEFAULT_OUTPUT = REPO_ROOT / "tests" / "golden" / "migration_paths.json"

ROLES = ("before", "after", "raises", "differs")
_MARKER = re.compile(r"^<!--\s*example:\s*(?P<name>[\w-]+)\s+(?P<role>[\w-]+)(?P<rest>[^>]*?)\s*-->\s*$")
_FENCE = re.compile(r"^```(?P<lang>\w*)\s*$")
_FILE_HEADER = re.compile(r"^#\s*(?P<file>[\w./-]+\.py)\s*$")
_EXAMPLE_PACKAGES = ("lab",)


# ---------------------------------------------------------------------------------------------------------------------
# Parsing the guide (shared with tests/test_migration.py)
# ---------------------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Block:
    """One fenced code block of the guide, with the marker comment that precedes it (if any)."""

    lang: str
    source: str
    line: int  # 1-based line of the opening fence
    name: str | None = None
    role: str | None = None
    args: tuple[str, ...] = ()

    @property
    def file(self) -> str | None:
        first = self.source.splitlines()[0] if self.source else ""
        match = _FILE_HEADER.match(first)
        return match.group("file") if match else None

    def option(self, key: str) -> str | None:
        for arg in self.args:
            if arg.startswith(key + "="):
                return arg.split("=", 1)[1]
        return None


def parse_blocks(text: str) -> list[Block]:
    """Every fenced block of ``text`` in order; a marker comment right before a fence (blank lines allowed) names it."""
    blocks: list[Block] = []
    lines = text.splitlines()
    pending: re.Match[str] | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        marker = _MARKER.match(line)
        fence = _FENCE.match(line)
        if marker:
            pending = marker
        elif fence:
            start = i
            body: list[str] = []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            source = "\n".join(body) + "\n"
            if pending is None:
                blocks.append(Block(lang=fence.group("lang"), source=source, line=start + 1))
            else:
                blocks.append(
                    Block(
                        lang=fence.group("lang"),
                        source=source,
                        line=start + 1,
                        name=pending.group("name"),
                        role=pending.group("role"),
                        args=tuple(pending.group("rest").split()),
                    )
                )
            pending = None
        elif line.strip():
            pending = None
        i += 1
    return blocks


def examples(blocks: list[Block]) -> dict[str, dict[str, list[Block]]]:
    """Python blocks grouped by example name, then by role, in document order."""
    grouped: dict[str, dict[str, list[Block]]] = {}
    for block in blocks:
        if block.lang == "python" and block.name is not None:
            grouped.setdefault(block.name, {}).setdefault(str(block.role), []).append(block)
    return grouped


def side_files(
    grouped: dict[str, dict[str, list[Block]]], name: str, role: str, *, extra: Block | None = None
) -> list[tuple[str, str]]:
    """``(relative file, source)`` for one side of an example, in writing order; the last one is the script.

    ``uses=OTHER`` on a block first lays down OTHER's files of the same side (its before files for a before block,
    its after files otherwise), so examples can share modules. With ``extra`` (a ``raises`` or ``differs`` block)
    the side is the example's after files with ``extra`` written last, so it can import them.
    """
    blocks = list(grouped[name][role]) if extra is None else [*grouped[name].get("after", []), extra]
    files: list[tuple[str, str]] = []
    for block in blocks:
        used = block.option("uses")
        if used is not None:
            files.extend(side_files(grouped, used, "before" if block.role == "before" else "after"))
    files.extend((block.file or f"_{name}_{block.role}_{block.line}.py", block.source) for block in blocks)
    return files


def side_digest(files: list[tuple[str, str]], args: tuple[str, ...] = ()) -> str:
    """sha256 of a side's files (shared ones included) and marker arguments: it changes whenever they do."""
    digest = hashlib.sha256(" ".join(args).encode() + b"\0")
    for relative, source in files:
        digest.update(relative.encode() + b"\0" + source.encode() + b"\0")
    return digest.hexdigest()


@contextlib.contextmanager
def materialized(files: list[tuple[str, str]], root: Path) -> Iterator[Path]:
    """Write ``files`` under ``root`` (with package ``__init__.py``s), import from there, yield the script path.

    Modules of the example packages are dropped from ``sys.modules`` before and after, so examples stay apart.
    """
    written: dict[str, Path] = {}
    for relative, source in files:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.relative_to(root).parents:
            if str(parent) != ".":
                (root / parent / "__init__.py").touch(exist_ok=True)
        path.write_text(source)
        written[relative] = path
    script = written[files[-1][0]]
    _forget_example_modules()
    importlib.invalidate_caches()
    sys.path.insert(0, str(root))
    try:
        yield script
    finally:
        sys.path.remove(str(root))
        _forget_example_modules()


def _forget_example_modules() -> None:
    for module in [m for m in sys.modules if m.split(".")[0] in _EXAMPLE_PACKAGES]:
        del sys.modules[module]


@contextlib.contextmanager
def argv(args: list[str]) -> Iterator[None]:
    saved = sys.argv
    sys.argv = args
    try:
        yield
    finally:
        sys.argv = saved


def relative(path: str, prefix: str) -> str:
    """The path relative to the prefix, or the path as is when it lies outside the prefix (absolute overrides)."""
    prefix = prefix.rstrip("/")
    return path[len(prefix) + 1 :] if path.startswith(prefix + "/") else path


# ---------------------------------------------------------------------------------------------------------------------
# Running a before side with Marin
# ---------------------------------------------------------------------------------------------------------------------


def marin_paths(files: list[tuple[str, str]], work: Path, log: IO[str]) -> list[str]:
    """Run the before script with Marin's executor_main as a dry run; every step's output path, relative, sorted.

    What the script prints and Marin logs goes to ``log`` (a real file: Marin's logging setup wants a file number).
    """
    from marin.execution.executor import Executor

    prefix = str(work / "prefix")
    captured: list[Any] = []
    original_run = Executor.run

    def recording_run(self: Any, *args: Any, **kwargs: Any) -> Any:
        captured.append(self)
        return original_run(self, *args, **kwargs)

    Executor.run = recording_run  # type: ignore[method-assign]
    try:
        with materialized(files, work / "src") as script, argv([str(script), "--prefix", prefix, "--dry_run", "true"]):
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                runpy.run_path(str(script), run_name="__main__")
    finally:
        Executor.run = original_run  # type: ignore[method-assign]
    if len(captured) != 1:
        raise AssertionError(f"{files[-1][0]}: expected one executor_main call, saw {len(captured)}")
    executor = captured[0]
    if os.path.exists(prefix):
        raise AssertionError(f"{files[-1][0]}: Marin's dry run wrote under the prefix {prefix}")
    return sorted({relative(executor.output_paths[step], prefix) for step in executor.steps})


def generate(text: str) -> dict[str, Any]:
    from importlib import metadata

    grouped = examples(parse_blocks(text))
    recorded: dict[str, Any] = {}
    for name, sides in grouped.items():
        if "before" not in sides:
            continue
        files = side_files(grouped, name, "before")
        with tempfile.TemporaryDirectory(prefix=f"migration-{name}-") as tmp, open(Path(tmp) / "log", "w+") as log:
            try:
                paths = marin_paths(files, Path(tmp), log)
            except BaseException:
                log.seek(0)
                print(f"{name}: the before example failed under Marin; its output:\n{log.read()}", file=sys.stderr)
                raise
        args = tuple(arg for block in sides["before"] for arg in block.args)
        entry: dict[str, Any] = {"before_sha256": side_digest(files, args), "paths": paths}
        if "paths-change" in args:
            entry["paths_change"] = True
        recorded[name] = entry
        print(f"{name}: {len(paths)} path(s)", file=sys.stderr)
    return {
        "about": (
            "Output paths, relative to the prefix, that Marin's own executor (PyPI marin-core) gives every step of "
            "each 'before' example in MIGRATION.md, recorded by benchmarks/peer/migration_paths.py with "
            "PYTHONHASHSEED=0. tests/test_migration.py checks that each 'after' example compiles to exactly these "
            "paths (or, for paths_change examples, to different ones). Regenerate; do not edit by hand."
        ),
        "generator": {"marin_core": metadata.version("marin-core"), "python": platform.python_version()},
        "examples": recorded,
    }


def check_reuse(text: str, name: str, project_python: str) -> int:
    """Run example ``name``'s before for real with Marin, then dry-run its after with marin_exec on the same prefix.

    The after runs in ``project_python`` (the project venv, which has marin_exec). Passes when the plan shows every
    step done and none to run: marin_exec finds Marin's outputs and would reuse all of them.
    """
    grouped = examples(parse_blocks(text))
    with tempfile.TemporaryDirectory(prefix=f"migration-reuse-{name}-") as tmp:
        work = Path(tmp)
        prefix = str(work / "prefix")
        with open(work / "log", "w+") as log:
            with materialized(side_files(grouped, name, "before"), work / "before") as script:
                with argv([str(script), "--prefix", prefix]):
                    try:
                        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                            runpy.run_path(str(script), run_name="__main__")
                    except BaseException:
                        log.seek(0)
                        print(log.read(), file=sys.stderr)
                        raise
        with materialized(side_files(grouped, name, "after"), work / "after") as script:
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(work / "after"), str(REPO_ROOT)])}
            proc = subprocess.run(
                [project_python, str(script), "--prefix", prefix, "--dry_run", "true"],
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
    print(proc.stdout + proc.stderr)
    summary = re.search(r"Summary: (\d+) done, (\d+) will run", proc.stdout)
    if proc.returncode != 0 or summary is None or int(summary.group(2)) != 0 or int(summary.group(1)) == 0:
        print(f"{name}: marin_exec would not reuse every output Marin computed", file=sys.stderr)
        return 1
    print(f"{name}: marin_exec finds all {summary.group(1)} outputs Marin computed and would run nothing")
    return 0


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=False, ensure_ascii=True) + "\n"


def main(argv_: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--guide", type=Path, default=GUIDE)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--check", action="store_true", help="compare with --output instead of writing it")
    parser.add_argument(
        "--reuse",
        metavar="EXAMPLE",
        help="instead: run EXAMPLE's before for real with Marin, then check that marin_exec's dry run of its after "
        "on the same prefix finds every step done (tiny_lm is cheap)",
    )
    parser.add_argument("--project-python", default=str(REPO_ROOT / ".venv" / "bin" / "python"))
    args = parser.parse_args(argv_)
    if os.environ.get("PYTHONHASHSEED") != "0":  # str(set) order, hence Marin's hash of a versioned set, needs it
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable, *sys.argv])
    sys.path.insert(0, str(REPO_ROOT))  # the examples import the library layer from experiments.lib
    if args.reuse:
        return check_reuse(args.guide.read_text(), args.reuse, args.project_python)

    text = _dump(generate(args.guide.read_text()))
    if args.check:
        current = args.output.read_text() if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date; regenerate with {sys.argv[0]}", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
