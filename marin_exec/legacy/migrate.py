"""``python -m marin_exec migrate check PATH... | sketch PATH``: the command line of the two migration helpers.

``check`` (``migrate_check.py``) lists every MIGRATION.md anti-pattern with file:line and its fix and exits 1 when
it finds any; ``sketch`` (``migrate_sketch.py``) prints a three-layer ``@step`` version of an ExecutorStep
experiment that keeps its output paths. This module only parses arguments.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m marin_exec migrate", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="report migration anti-patterns (exit 1 when any)")
    check.add_argument("paths", nargs="+", help="Python files or directories")
    sketch = commands.add_parser("sketch", help="print a @step version of an ExecutorStep experiment")
    sketch.add_argument("path", help="the experiment file")
    args = parser.parse_args(list(argv))
    if args.command == "check":
        from marin_exec.legacy.migrate_check import check_paths, render

        findings = check_paths(args.paths)
        print(render(findings))
        return 1 if findings else 0
    from marin_exec.legacy.migrate_sketch import sketch_file

    sys.stdout.write(sketch_file(args.path))
    return 0
