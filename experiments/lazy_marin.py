"""A current Marin experiment (marin-core 0.2.227's lazy artifacts and its click ``build_options``), run on
marin_exec by changing its imports to the one line below. On Marin the same file reads::

    from marin.execution.artifact import Artifact
    from marin.execution.lazy import OUT, apply
    from marin.experiment.cli import build_options

Both land on the same ``{prefix}/{name}/{version}`` paths with the same fingerprints and records, so either finds
what the other built (tests/test_lazy_experiment.py runs it both ways)::

    MARIN_PREFIX=/tmp/runs python experiments/lazy_marin.py --version dev                 # the plan (a dry run)
    MARIN_PREFIX=/tmp/runs python experiments/lazy_marin.py --version 2026.12.06 --run    # build it
    MARIN_PREFIX=/tmp/runs python experiments/lazy_marin.py --version dev --override stats=2026.12.06 --run
"""

from __future__ import annotations

import os
import pathlib

import click

from marin_exec.lazy import OUT, Artifact, apply, build_options

VERSE = "the quick brown fox jumps over the lazy dog the fox naps"


class WordStats(Artifact):
    words: int
    distinct: int


def _called(what: str) -> None:
    log = os.environ.get("LAZY_EXPERIMENT_CALLS")  # tests count the functions each executor calls
    if log:
        with open(log, "a") as f:
            f.write(what + "\n")


def write_corpus(text: str, out: str) -> None:
    _called(f"corpus {out}")
    pathlib.Path(out).mkdir(parents=True, exist_ok=True)
    pathlib.Path(out, "corpus.txt").write_text(text)


def count_words(corpus: str, out: str, lowercase: bool) -> WordStats:
    _called(f"stats {out}")
    words = pathlib.Path(corpus, "corpus.txt").read_text().split()
    words = [w.lower() for w in words] if lowercase else words
    return WordStats(path=out, words=len(words), distinct=len(set(words)))


def build(repeat: int) -> list:
    corpus = apply("corpus", write_corpus, text=" ".join([VERSE] * repeat), out=OUT)  # version from --version
    stats = apply("stats", count_words, artifact_type=WordStats, corpus=corpus, out=OUT, lowercase=True)
    report = apply("report", write_corpus, version="2026.12.06", text="fixed report", out=OUT)
    return [stats, report]


@click.command()
@click.option("--repeat", default=2, show_default=True, help="How many times the verse is repeated.")
@build_options
def main(repeat: int) -> list:
    return build(repeat)


if __name__ == "__main__":
    main()
