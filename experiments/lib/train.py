"""Train an n-gram language model on a tokenized directory and write it as ``model.npz``.

``train_model(TrainConfig(...))`` reads ``train.npy`` and ``vocab.json`` from ``data_path`` (a ``tokenize``
output), fits an add-k smoothed n-gram model, writes ``model.npz``, a copy of ``vocab.json`` (so the model directory
stands alone) and ``metadata.json`` (the upstream lineage plus this stage's result) under ``output_path``, and
returns ``TrainResult``.

Training is counting, so it is exact, deterministic and takes milliseconds; there are no steps, checkpoints
or learning rates. This module does not evaluate on held-out data (see ``evaluate``) and does not validate
configs at construction (the wiring layer builds them with placeholders); ``train_model`` does.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass

import numpy as np

from experiments.lib import _files
from experiments.lib.ngram import NgramModel

logger = logging.getLogger(__name__)

_NOT_TOKENIZED = "point data_path at a tokenize output (train.npy, valid.npy, vocab.json)"


@dataclass(frozen=True)
class TrainConfig:
    data_path: str
    """A ``tokenize`` output directory."""
    output_path: str
    order: int = 2
    """n-gram order: 1 = unigram, 2 = bigram, 3 = trigram, ..."""
    smoothing: float = 0.1
    """Add-k smoothing constant k > 0; larger k pulls every prediction toward uniform."""


@dataclass(frozen=True)
class TrainResult:
    order: int
    smoothing: float
    vocab_size: int
    train_tokens: int
    num_contexts: int
    num_ngrams: int
    train_loss: float
    """Mean negative log-likelihood of the training tokens, in nats per token."""
    train_perplexity: float


def train_model(config: TrainConfig) -> TrainResult:
    """Fit the model on ``data_path/train.npy`` and write ``model.npz`` under ``output_path``."""
    vocab = _files.read_json(_files.require(_files.join(config.data_path, "vocab.json"), "vocabulary", _NOT_TOKENIZED))
    tokens = _files.read_npy(_files.require(_files.join(config.data_path, "train.npy"), "train ids", _NOT_TOKENIZED))
    model = NgramModel.fit(tokens, order=config.order, vocab_size=len(vocab["tokens"]), smoothing=config.smoothing)
    train_loss = float(-np.mean(model.log_probs(tokens)))

    result = TrainResult(
        order=model.order,
        smoothing=model.smoothing,
        vocab_size=model.vocab_size,
        train_tokens=int(tokens.size),
        num_contexts=int(model.context_keys.size),
        num_ngrams=int(model.ngram_keys.size),
        train_loss=train_loss,
        train_perplexity=math.exp(train_loss),
    )
    model.save(_files.join(config.output_path, "model.npz"))
    _files.write_json(_files.join(config.output_path, "vocab.json"), vocab)
    lineage = {**_files.read_metadata(config.data_path), "train": dataclasses.asdict(result)}
    _files.write_json(_files.join(config.output_path, "metadata.json"), lineage)
    logger.info(
        f"train order={result.order} k={result.smoothing}: {result.num_ngrams} n-grams, "
        f"train loss {result.train_loss:.4f} nats/token -> {config.output_path}"
    )
    return result
