"""A count-based n-gram language model with add-k smoothing, in numpy: fit, score, save and load.

``p(token | context) = (count(context, token) + k) / (count(context) + k * V)``, where the context is the
``order - 1`` previous tokens and positions before the start of the sequence are a padding symbol, so every
token is scored, the first included. Counts are stored sparsely (sorted int64 keys), so memory grows with the
n-grams seen, not with ``V ** order``; an unseen context gives the uniform ``1 / V``.

This module knows nothing about files other than the one model file, nor about tokenizers or configs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from experiments.lib import _files

_MAX_KEY = 2**62


@dataclass(frozen=True, eq=False)
class NgramModel:
    order: int
    vocab_size: int
    smoothing: float
    ngram_keys: np.ndarray
    """Sorted ``context_id * vocab_size + token`` of every n-gram seen in training."""
    ngram_counts: np.ndarray
    context_keys: np.ndarray
    """Sorted ids of every context seen in training."""
    context_counts: np.ndarray

    @classmethod
    def fit(cls, tokens: np.ndarray, *, order: int, vocab_size: int, smoothing: float) -> NgramModel:
        """Count the n-grams of ``tokens`` (ids in ``[0, vocab_size)``)."""
        _check_hyperparameters(order, vocab_size, smoothing)
        tokens = _check_tokens(tokens, vocab_size)
        if tokens.size == 0:
            raise ValueError("cannot fit an n-gram model on zero tokens: give a non-empty training split")
        contexts = _context_ids(tokens, order, vocab_size)
        ngram_keys, ngram_counts = np.unique(contexts * vocab_size + tokens, return_counts=True)
        context_keys, context_counts = np.unique(contexts, return_counts=True)
        return cls(order, vocab_size, float(smoothing), ngram_keys, ngram_counts, context_keys, context_counts)

    def log_probs(self, tokens: np.ndarray) -> np.ndarray:
        """Natural-log probability of each token given the ones before it in ``tokens``."""
        tokens = _check_tokens(tokens, self.vocab_size)
        contexts = _context_ids(tokens, self.order, self.vocab_size)
        joint = _lookup(self.ngram_keys, self.ngram_counts, contexts * self.vocab_size + tokens)
        marginal = _lookup(self.context_keys, self.context_counts, contexts)
        k = self.smoothing
        return np.log(joint + k) - np.log(marginal + k * self.vocab_size)

    def save(self, path: str) -> None:
        names = ("ngram_keys", "ngram_counts", "context_keys", "context_counts")
        arrays = {name: getattr(self, name) for name in names}
        arrays["order"] = np.asarray(self.order, dtype=np.int64)
        arrays["vocab_size"] = np.asarray(self.vocab_size, dtype=np.int64)
        arrays["smoothing"] = np.asarray(self.smoothing, dtype=np.float64)
        _files.write_npz(path, arrays)

    @classmethod
    def load(cls, path: str) -> NgramModel:
        data = _files.read_npz(path)
        return cls(
            order=int(data["order"]),
            vocab_size=int(data["vocab_size"]),
            smoothing=float(data["smoothing"]),
            ngram_keys=data["ngram_keys"],
            ngram_counts=data["ngram_counts"],
            context_keys=data["context_keys"],
            context_counts=data["context_counts"],
        )


def _check_hyperparameters(order: int, vocab_size: int, smoothing: float) -> None:
    if order < 1:
        raise ValueError(f"n-gram order {order}: use 1 (unigram), 2 (bigram) or more")
    if not smoothing > 0:
        raise ValueError(f"smoothing {smoothing}: add-k smoothing needs k > 0, else unseen n-grams get probability 0")
    if vocab_size < 1:
        raise ValueError(f"vocab_size {vocab_size}: the vocabulary must have at least one token")
    if (vocab_size + 1) ** (order - 1) * vocab_size >= _MAX_KEY:
        raise ValueError(f"order {order} with vocabulary {vocab_size} overflows 64-bit n-gram keys: lower the order")


def _check_tokens(tokens: np.ndarray, vocab_size: int) -> np.ndarray:
    tokens = np.asarray(tokens, dtype=np.int64)
    if tokens.ndim != 1:
        raise ValueError(f"tokens must be a 1-d array of ids, got shape {tokens.shape}")
    if tokens.size and (tokens.min() < 0 or tokens.max() >= vocab_size):
        raise ValueError(
            f"token ids span [{tokens.min()}, {tokens.max()}] but the vocabulary has {vocab_size} entries: "
            "score data tokenized with the model's own tokenizer"
        )
    return tokens


def _context_ids(tokens: np.ndarray, order: int, vocab_size: int) -> np.ndarray:
    """Id of the ``order - 1`` tokens before each position, in base ``vocab_size + 1`` (digit V = padding)."""
    base = vocab_size + 1
    padded = np.concatenate([np.full(order - 1, vocab_size, dtype=np.int64), tokens])
    contexts = np.zeros(tokens.size, dtype=np.int64)
    for offset in range(order - 1):
        contexts = contexts * base + padded[offset : offset + tokens.size]
    return contexts


def _lookup(keys: np.ndarray, counts: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """``counts`` of each query in the sorted ``keys``, 0 where a query is absent."""
    positions = np.minimum(np.searchsorted(keys, queries), keys.size - 1)
    return np.where(keys[positions] == queries, counts[positions], 0)
