"""marin-core 0.2.227's own ``Artifact`` subclass returned by a marin_exec step, for tests/test_artifact_class_peer.py.

Run with the peer's interpreter (it imports Marin; marin_exec is imported from this checkout):

    /work/peer-227/bin/python tests/artifact_class_peer_run.py PREFIX RESULT.json

A StepSpec whose function returns a ``TokenizedData(marin.execution.artifact.Artifact)`` runs twice (the second call a
cache hit); RESULT.json holds what each reader gave: the cached value, ``marin_exec.Artifact.load(path)``, Marin's own
``TokenizedData.raw_load(path)``, and what loading it as another Marin artifact class raised, from marin_exec and from
Marin.
"""

from __future__ import annotations

import json
import pathlib
import sys
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from marin.execution.artifact import Artifact, ArtifactTypeMismatchError  # noqa: E402

import marin_exec  # noqa: E402


class TokenizedData(Artifact):
    n_tokens: int = 0
    tokenizer: str = ""


class EvalScores(Artifact):
    accuracy: float = 0.0


CALLS: list[str] = []


def tokenize(out):
    CALLS.append(out)
    return TokenizedData(n_tokens=12, tokenizer="bytes")


def _shown(value: Any) -> dict[str, Any]:
    return {"type": f"{type(value).__module__}.{type(value).__qualname__}", "fields": value.model_dump(mode="json")}


def _refusal(load: Any) -> str | None:
    try:
        load()
    except ArtifactTypeMismatchError as error:  # Marin's own exception class, from either reader
        return str(error)
    return None


def main(prefix: str, result: str) -> None:
    spec = marin_exec.StepSpec(name="tok", fn=tokenize, output_path_prefix=prefix)
    path = spec.output_path
    spec.executable_fn(path)
    found = {
        "calls": len(CALLS),
        "cached": _shown(spec.executable_fn(path)),
        "loaded": _shown(marin_exec.Artifact.load(path)),
        "marin": _shown(TokenizedData.raw_load(path)),
        "refused": _refusal(lambda: marin_exec.Artifact.load(path, EvalScores)),
        "marin_refused": _refusal(lambda: EvalScores.raw_load(path)),
        "path": path,
    }
    pathlib.Path(result).write_text(json.dumps(found, indent=2))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
