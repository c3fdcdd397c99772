"""A user module as a pipeline author writes one: a step function that records where it ran.

tests/test_remote.py ships a copy of this package from a directory outside ``tests/`` so that cloudpickle
pickles it by reference and the Iris worker has to import it.
"""

from __future__ import annotations

import json
import os

IMPORTED_IN_PID = os.getpid()


def record_where_imported(path: str) -> None:
    """Write which process imported this module and which process runs this call."""
    with open(path, "w") as f:
        json.dump({"imported_in_pid": IMPORTED_IN_PID, "running_in_pid": os.getpid(), "module_file": __file__}, f)


def where_step_ran(output_path: str) -> dict:
    """A step function of its output path: its result says which process imported this module and ran it."""
    return {"imported_in_pid": IMPORTED_IN_PID, "running_in_pid": os.getpid(), "module_file": __file__}
