"""Run by tests/test_named_peer.py with marin-core 0.2.227's interpreter (never the project's): builds Marin's lazy
``apply`` handles for tests/golden/lazy_types.APPLY_CASES under ``--prefix`` and runs them with Marin's own ``run``;
prints one JSON line: how many step functions Marin called and the warnings it logged."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks" / "peer")]

from lazy_probes import materialise  # noqa: E402

from tests.golden import lazy_types as lt  # noqa: E402

VERSIONS = {"raw": "2026.12.06", "scalars": "2026.12.06.1", "containers": "2026.12.06.12", "typed": "2025.01.31",
            "fallbacks": "2026.12.06", "tokenized": "2026.12.06", "train": "2026.12.07"}  # fmt: skip
CALLS: list[str] = []


def write_marker(**inputs: Any) -> None:
    out = inputs["out"]
    CALLS.append(out)
    os.makedirs(out, exist_ok=True)
    Path(out, "data.txt").write_text("done\n")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prefix", required=True)
    prefix = parser.parse_args().prefix
    os.environ["MARIN_PREFIX"] = prefix
    warnings: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.WARNING and "drift" in record.getMessage():
                warnings.append(record.getMessage())

    logging.getLogger().addHandler(Keep())
    from marin.execution.fingerprint import register_fingerprint
    from marin.execution.lazy import OUT, apply, run

    register_fingerprint(lt.Tokenizer, lt.encode_tokenizer)
    handles: dict[str, Any] = {}
    for case, inputs in lt.APPLY_CASES.items():
        handles[case] = apply(case, write_marker, version=VERSIONS[case], **materialise(inputs, handles, OUT))
    run(*handles.values())
    print(json.dumps({"calls": len(CALLS), "drift_warnings": warnings}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
