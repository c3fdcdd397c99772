"""A handle whose ``run`` is marin-core 0.2.227's real ``remote(fn, resources=...)``, run by Marin's ``run`` and by
marin_exec.lazy's, on Fray's LocalClient, for tests/test_lazy_remote_peer.py.

Run with the peer's interpreter (it imports Marin; marin_exec is imported from this checkout):

    /work/peer-227/bin/python tests/lazy_remote_peer_run.py CALLS RESULT.json EXECUTOR:PREFIX [EXECUTOR:PREFIX ...]

Each ``EXECUTOR:PREFIX`` (executor ``marin`` or ``marin_exec``) builds the same two handles (corpus, local; train,
``remote``) under ``MARIN_PREFIX=PREFIX`` with Marin's ``apply``/``ArtifactStep`` and runs them with that executor,
through a LocalClient that counts submissions. RESULT.json holds, per run: the jobs submitted, the calls made (and
whether each ran in a thread of the LocalClient, i.e. inside the job), the train handle's fingerprint and path, and
its ``.artifact.json``.
"""

from __future__ import annotations

import json
import os
import pathlib
import sys
import threading
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from tests.counting_client import CountingClient  # noqa: E402

CALLS: list[dict[str, Any]] = []


def train(config: dict) -> None:
    CALLS.append({"out": config["out"], "thread": threading.get_ident()})
    pathlib.Path(config["out"], "model.txt").write_text(f"lr={config['lr']}")


def write_corpus(out: str) -> None:
    pathlib.Path(out, "corpus.txt").write_text("a b c")


def build(calls: str) -> Any:
    from fray.types import ResourceConfig
    from marin.execution.artifact import Artifact
    from marin.execution.lazy import OUT, ArtifactStep, apply
    from marin.execution.remote import remote

    corpus = apply("corpus", write_corpus, version="2026.12.06", out=OUT)

    def build_config(ctx: Any) -> dict:
        return {
            "corpus": ctx.artifact_path(corpus),
            "out": ctx.output_path,
            "tpu": ctx.runtime_arg("tpu"),
            "lr": 0.1,
            "calls": calls,
        }

    return ArtifactStep(
        name="train",
        version="2026.12.06",
        artifact_type=Artifact,
        run=remote(train, resources=ResourceConfig.with_cpu(cpu=1, ram="1g", disk="1g")),
        build_config=build_config,
        deps=(corpus,),
        runtime_args={"tpu": "v5p-8"},
    )


def run_once(executor: str, prefix: str, calls: str) -> dict[str, Any]:
    from fray.current_client import set_current_client
    from fray.local_backend import LocalClient

    os.environ["MARIN_PREFIX"] = prefix
    handle = build(calls)
    inner = LocalClient(max_threads=2)
    client = CountingClient(inner)
    CALLS.clear()
    with set_current_client(client):
        if executor == "marin":
            import marin.execution.lazy as runner
        else:
            import marin_exec.lazy as runner  # type: ignore[no-redef]
        runner.run(handle)
    job_threads = {thread.ident for thread in inner._executor._threads}
    inner.shutdown(wait=True)
    record = pathlib.Path(prefix, "train/2026.12.06/.artifact.json")
    return {
        "submitted": client.submitted,
        "calls": [{"out": c["out"], "in_job": c["thread"] in job_threads} for c in CALLS],
        "fingerprint": handle.fingerprint(),
        "path": handle.path(),
        "record": json.loads(record.read_text()) if record.exists() else None,
    }


def main(calls: str, result: str, *runs: str) -> None:
    os.environ.pop("MARIN_PROVENANCE", None)
    found = []
    for run in runs:
        executor, _, prefix = run.partition(":")
        found.append({"executor": executor, "prefix": prefix, **run_once(executor, prefix, calls)})
    pathlib.Path(result).write_text(json.dumps(found, indent=1))


if __name__ == "__main__":
    main(*sys.argv[1:])
