"""The command line's logging: one line per event on whatever ``sys.stderr`` is at the time. Only the CLI calls it;
it does nothing when the program configured logging itself.
"""

from __future__ import annotations

import logging
import sys
from typing import Any


def configure_logging() -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(
            level=logging.INFO,
            format="%(asctime)s %(levelname)s %(message)s",
            datefmt="%H:%M:%S",
            handlers=[_StderrNow()],
        )


class _StderrNow(logging.StreamHandler):  # type: ignore[type-arg]
    """Logs to whatever ``sys.stderr`` is when a record is emitted: the live progress display redirects it while it
    runs, so log lines are printed above the display instead of through it."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass  # set by StreamHandler.__init__; the stream is always the current sys.stderr
