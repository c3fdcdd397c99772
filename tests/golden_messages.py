"""Golden texts of the messages a user meets on a bad day (issue 20): ``assert_golden("name", text)`` compares
``text`` with ``tests/golden/messages/name.txt``; ``MARIN_EXEC_UPDATE_GOLDEN=1`` rewrites the file instead."""

from __future__ import annotations

import os
import pathlib
import re

MESSAGES = pathlib.Path(__file__).parent / "golden" / "messages"


def assert_golden(name: str, text: str) -> None:
    path = MESSAGES / f"{name}.txt"
    if os.environ.get("MARIN_EXEC_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"{name} changed; if on purpose, rerun with MARIN_EXEC_UPDATE_GOLDEN=1"


def without_log_times(text: str) -> str:
    """``text`` with the ``HH:MM:SS`` that starts each log line replaced by ``TT:TT:TT``."""
    return re.sub(r"^\d\d:\d\d:\d\d ", "TT:TT:TT ", text, flags=re.MULTILINE)
