"""``python -m marin_exec migrate check PATH... | sketch PATH``: the command line of the two migration helpers.

``check`` (``migrate_check.py``) lists every MIGRATION.md anti-pattern with file:line and its fix and exits 1 when
it finds any; ``sketch`` (``migrate_sketch.py``) prints a three-layer ``@step`` version of an ExecutorStep
experiment that keeps its output paths. A usage error (an unknown subcommand, a path that is not there, a directory
given to ``sketch``, an experiment that cannot be imported) is one line on stderr, exit status 2. This module only
parses arguments and reports.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

_DESCRIPTION = """\
Help with moving ExecutorStep experiments to @step.

  check PATH...   list every MIGRATION.md anti-pattern in the files (directories are searched) with its fix;
                  exit status 1 when there is any
  sketch FILE     print a @step version of the experiment in FILE that keeps its output paths (FILE is
                  imported, so Marin must be installed where you run it)
"""


class _OneLineParser(argparse.ArgumentParser):
    """argparse, with a usage error as one line (and exit status 2)."""

    def error(self, message: str) -> NoReturn:
        if message.startswith("argument command: invalid choice: "):
            chosen = message.removeprefix("argument command: invalid choice: ").split(" (")[0]
            message = f"unknown subcommand {chosen}; use check or sketch"
        elif message.endswith("required: command"):
            message = "give a subcommand: check or sketch"
        _usage_error(f"{message} (see --help)")


def _usage_error(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def main(argv: Sequence[str]) -> int:
    parser = _OneLineParser(
        prog="python -m marin_exec migrate", description=_DESCRIPTION, formatter_class=argparse.RawTextHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_OneLineParser)
    check = commands.add_parser("check", help="report migration anti-patterns (exit 1 when any)")
    check.add_argument("paths", nargs="+", help="Python files or directories")
    sketch = commands.add_parser("sketch", help="print a @step version of an ExecutorStep experiment")
    sketch.add_argument("path", help="the experiment file")
    args = parser.parse_args(list(argv))
    if args.command == "check":
        from marin_exec.legacy.migrate_check import check_paths, render

        for path in args.paths:
            if not os.path.exists(path):
                _usage_error(f"migrate check: {path}: no such file or directory")
        findings = check_paths(args.paths)
        print(render(findings))
        return 1 if findings else 0
    sys.stdout.write(_sketch(args.path))
    return 0


def _sketch(path: str) -> str:
    from marin_exec.legacy.migrate_sketch import sketch_file

    if os.path.isdir(path):
        _usage_error(f"migrate sketch: {path} is a directory; give the experiment's .py file")
    if not os.path.isfile(path):
        _usage_error(f"migrate sketch: {path}: no such file")
    try:
        return sketch_file(path)
    except ImportError as error:  # the experiment imports Marin (or another package) that is not installed here
        missing = f" needs {error.name}, which is not installed here" if error.name else f" failed ({error})"
        _usage_error(
            f"migrate sketch: importing {path}{missing}; sketch reads the steps by importing the experiment, so run "
            "it where the experiment runs (e.g. with marin-core installed)"
        )
