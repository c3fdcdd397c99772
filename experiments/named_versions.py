"""A pipeline whose outputs have readable, citable versions: ``{prefix}/{name}/{version}`` (README "Named versions").

    python experiments/named_versions.py --prefix /tmp/runs --version dev --dry_run   # the plan, versions resolved
    python experiments/named_versions.py --prefix /tmp/runs --version dev             # iterate: stats rebuild each run
    python experiments/named_versions.py --prefix /tmp/runs --version 2026.12.06      # freeze a citable build

One file for brevity; in a real project the two library functions live in ``experiments/lib/``.
"""

from __future__ import annotations

import json
import pathlib

from marin_exec import RUN_VERSION, StepRef, deferred, executor_main, output, step

VERSE = "the quick brown fox jumps over the lazy dog the fox naps"


def write_corpus(text: str, out: str) -> int:
    path = pathlib.Path(out)
    path.mkdir(parents=True, exist_ok=True)
    (path / "corpus.txt").write_text(text)
    return len(text.split())


def count_words(corpus: str, out: str, lowercase: bool = True) -> dict[str, int]:
    words = pathlib.Path(corpus, "corpus.txt").read_text().split()
    words = [w.lower() for w in words] if lowercase else words
    counts = {w: words.count(w) for w in sorted(set(words))}
    pathlib.Path(out).mkdir(parents=True, exist_ok=True)
    pathlib.Path(out, "counts.json").write_text(json.dumps(counts, indent=2))
    return {"words": len(words), "distinct": len(counts)}


corpus_file = deferred(write_corpus)
word_counts = deferred(count_words)


@step(name="raw/verse", version="2026.12.06")  # frozen: built once, then cited as raw/verse@2026.12.06
def raw_verse(text: str = VERSE):
    return corpus_file(text=text, out=output())


@step(name="stats/words", version=RUN_VERSION)  # the run decides: --version dev while iterating
def word_stats(corpus: StepRef, lowercase: bool = True):
    return word_counts(corpus=corpus, out=output(), lowercase=lowercase)


@step(name="pipelines/named")
def pipeline():
    word_stats(corpus=raw_verse())


if __name__ == "__main__":
    executor_main(steps=[pipeline()], description="word statistics with named versions")
