"""Turn a corpus directory (``train.txt``, ``valid.txt``) into token-id arrays and a vocabulary.

``tokenize(TokenizeConfig(...))`` writes ``train.npy`` and ``valid.npy`` (int32 ids), ``vocab.json`` and
``metadata.json`` under ``output_path`` and returns ``TokenizeStats``. Three tokenizers:

- ``bytes``: UTF-8 bytes, a fixed vocabulary of 256; lossless.
- ``chars``: the characters seen in ``train.txt`` plus ``<unk>`` (id 0) for characters only seen in valid.
- ``words``: words, single punctuation marks and newlines seen in ``train.txt``, most frequent first, plus
  ``<unk>`` (id 0). Lossy: spaces are dropped and unseen words collapse to ``<unk>``.

The vocabulary is built from the train split only, so held-out text is never looked at to choose it. This
module does not train anything, and does not validate configs at construction (the wiring layer builds them
with placeholders); ``tokenize`` does.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import re
from dataclasses import dataclass

import numpy as np

from experiments.lib import _files

logger = logging.getLogger(__name__)

TOKENIZERS = ("bytes", "chars", "words")
SPLITS = ("train", "valid")
UNK = "<unk>"

_WORD = re.compile(r"\w+|[^\w\s]|\n")


@dataclass(frozen=True)
class TokenizeConfig:
    input_path: str
    """Directory holding ``train.txt`` and ``valid.txt`` (for example a ``build_corpus`` output)."""
    output_path: str
    tokenizer: str = "bytes"
    """One of ``TOKENIZERS``."""


@dataclass(frozen=True)
class TokenizeStats:
    tokenizer: str
    vocab_size: int
    train_tokens: int
    valid_tokens: int
    valid_unknown_tokens: int
    """Held-out tokens mapped to ``<unk>`` because the train split never showed them (always 0 for bytes)."""
    train_bytes: int
    valid_bytes: int
    """UTF-8 size of each split's text, so evaluation can report bits per byte across tokenizers."""


def tokenize(config: TokenizeConfig) -> TokenizeStats:
    """Tokenize both splits of ``config.input_path`` and write ids, vocabulary and metadata."""
    if config.tokenizer not in TOKENIZERS:
        raise ValueError(f"unknown tokenizer {config.tokenizer!r}: choose one of {list(TOKENIZERS)}")
    texts = {
        split: _files.read_text(
            _files.require(
                _files.join(config.input_path, f"{split}.txt"),
                f"{split} split",
                "point input_path at a directory with train.txt and valid.txt (a build_corpus output)",
            )
        )
        for split in SPLITS
    }
    vocab = _build_vocab(config.tokenizer, texts["train"])
    ids = {split: _encode(config.tokenizer, vocab, text) for split, text in texts.items()}

    unknown = 0 if config.tokenizer == "bytes" else int(np.count_nonzero(ids["valid"] == 0))
    stats = TokenizeStats(
        tokenizer=config.tokenizer,
        vocab_size=len(vocab),
        train_tokens=len(ids["train"]),
        valid_tokens=len(ids["valid"]),
        valid_unknown_tokens=unknown,
        train_bytes=len(texts["train"].encode("utf-8")),
        valid_bytes=len(texts["valid"].encode("utf-8")),
    )
    for split, array in ids.items():
        _files.write_npy(_files.join(config.output_path, f"{split}.npy"), array)
    _files.write_json(_files.join(config.output_path, "vocab.json"), {"tokenizer": config.tokenizer, "tokens": vocab})
    upstream = _files.read_metadata(config.input_path)
    _files.write_json(
        _files.join(config.output_path, "metadata.json"), {**upstream, "tokenize": dataclasses.asdict(stats)}
    )
    logger.info(
        f"tokenize {config.tokenizer}: vocab {stats.vocab_size}, {stats.train_tokens}+{stats.valid_tokens} tokens "
        f"({unknown} unknown in valid) -> {config.output_path}"
    )
    return stats


def _build_vocab(tokenizer: str, train_text: str) -> list[str]:
    if tokenizer == "bytes":
        return [bytes([i]).decode("latin-1") for i in range(256)]
    if tokenizer == "chars":
        return [UNK, *sorted(set(train_text))]
    counts = collections.Counter(_WORD.findall(train_text))
    return [UNK, *sorted(counts, key=lambda token: (-counts[token], token))]


def _encode(tokenizer: str, vocab: list[str], text: str) -> np.ndarray:
    if tokenizer == "bytes":
        return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.int32)
    index = {token: i for i, token in enumerate(vocab)}
    pieces = text if tokenizer == "chars" else _WORD.findall(text)
    return np.fromiter((index.get(piece, 0) for piece in pieces), dtype=np.int32, count=len(pieces))
