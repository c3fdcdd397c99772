"""``python -m marin_exec SUBCOMMAND ...``: a table of subcommands, each module imported only when it is chosen.

Add a subcommand by adding a row to ``SUBCOMMANDS``: its module's ``main(argv) -> int`` gets the remaining
arguments and returns the exit status. This module does nothing else.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    # name: (module with main(argv) -> int, one-line help)
    "migrate": (
        "marin_exec.legacy.migrate",
        "check ExecutorStep code for migration anti-patterns, or sketch @step code",
    ),
    "status": (
        "marin_exec.run.inspect_steps",
        "each step's status, lease holder, heartbeat age, live/stale/dead lease and last error",
    ),
    "unlock": ("marin_exec.run.unlock_steps", "remove stale or dead leases (a live one only with --force)"),
}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in SUBCOMMANDS:
        print("usage: python -m marin_exec SUBCOMMAND [ARGS...]\n\nsubcommands:", file=sys.stderr)
        for name, (_, help_text) in SUBCOMMANDS.items():
            print(f"  {name:10} {help_text}", file=sys.stderr)
        return 0 if args[:1] in (["-h"], ["--help"]) else 2
    from marin_exec.errors import MarinExecError

    module, _ = SUBCOMMANDS[args[0]]
    try:
        status: int = importlib.import_module(module).main(args[1:])
    except MarinExecError as error:  # e.g. an unreachable store: one line, no traceback
        print(f"error: {error}", file=sys.stderr)
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
