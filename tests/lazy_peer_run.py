"""Run the golden lazy cases (tests/lazy_cases.py) with marin-core 0.2.227 itself, for tests/test_lazy_peer.py.

Run with the peer's interpreter, never the project's (it imports Marin, not marin_exec):

    /work/peer-227/bin/python tests/lazy_peer_run.py PREFIX OUTSIDE RESULT.json

Builds the handles with Marin's ``apply``/``ArtifactStep`` under ``MARIN_PREFIX=PREFIX``, runs them with Marin's
``run``, and writes what each function was handed, each handle's path and fingerprint, and Marin's ``read_record``
of each output (which fails on a record Marin cannot read) to RESULT.json.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(prefix: str, outside: str, result: str) -> None:
    os.environ["MARIN_PREFIX"] = prefix
    os.environ.pop("MARIN_PROVENANCE", None)
    import marin.execution.lazy as api
    from marin.execution.artifact import Artifact, read_record
    from marin.execution.fingerprint import register_fingerprint

    from tests import lazy_cases
    from tests.golden import lazy_types as lt

    register_fingerprint(lt.Tokenizer, lt.encode_tokenizer)
    handles = lazy_cases.build(api, Artifact, prefix, outside)
    loaded = api.run(*lazy_cases.terminals(handles))
    records = {}
    for case, handle in handles.items():
        record = read_record(api.lower(handle).output_path)
        records[case] = None if record is None else record.model_dump(mode="json")
    Path(result).write_text(
        json.dumps(
            {
                "calls": lazy_cases.CALLS,
                "paths": {case: h.path() for case, h in handles.items()},
                "fingerprints": {case: h.fingerprint() for case, h in handles.items()},
                "records": records,
                "loaded": [repr(a) for a in loaded],
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:4])
