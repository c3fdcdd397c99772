"""Steps that produce raw text corpora."""

from __future__ import annotations

from experiments.lib.corpus import CorpusConfig
from experiments.lib.corpus import build_corpus as _build_corpus
from marin_exec import deferred, output, step, versioned

build_corpus = deferred(_build_corpus)


@step(name="raw/{name}", description="generate the '{name}' corpus ({num_documents} documents)")
def corpus(name: str = "verse", num_documents: int = 300, seed: int = 0):
    return build_corpus(
        CorpusConfig(
            output_path=output(),
            name=versioned(name),
            num_documents=versioned(num_documents),
            seed=versioned(seed),
        )
    )
