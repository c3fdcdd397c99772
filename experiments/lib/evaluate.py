"""Score a trained n-gram model on a held-out split: cross-entropy, perplexity, bits per token and per byte.

``evaluate(EvalConfig(...))`` loads ``model_path/model.npz``, scores ``data_path/{split}.npy`` and writes
``metrics.json`` under ``output_path``: the model's lineage (corpus, tokenize, train sections) plus an
``eval`` section with the returned ``EvalResult``. Bits per byte divides by the UTF-8 size of the split's text,
so it compares runs with different tokenizers; perplexity is per token and compares only runs that share one.

This module does not train and does not write a report. Configs are not validated at construction (the wiring
layer builds them with placeholders); ``evaluate`` checks that the model and the data share one vocabulary.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass

import numpy as np

from experiments.lib import _files
from experiments.lib.ngram import NgramModel
from experiments.lib.tokenize import SPLITS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalConfig:
    model_path: str
    """A ``train_model`` output directory."""
    data_path: str
    """A ``tokenize`` output directory made with the tokenizer the model was trained with."""
    output_path: str
    split: str = "valid"


@dataclass(frozen=True)
class EvalResult:
    split: str
    num_tokens: int
    num_bytes: int
    cross_entropy: float
    """Mean negative log-likelihood, nats per token."""
    perplexity: float
    bits_per_token: float
    bits_per_byte: float
    uniform_perplexity: float
    """Perplexity of guessing uniformly over the vocabulary: the baseline any trained model should beat."""


def evaluate(config: EvalConfig) -> EvalResult:
    """Score the model on ``data_path/{split}.npy`` and write ``metrics.json`` under ``output_path``."""
    if config.split not in SPLITS:
        raise ValueError(f"unknown split {config.split!r}: choose one of {list(SPLITS)}")
    model_file = _files.require(
        _files.join(config.model_path, "model.npz"), "model", "point model_path at a train_model output"
    )
    ids_file = _files.require(
        _files.join(config.data_path, f"{config.split}.npy"),
        f"{config.split} ids",
        "point data_path at a tokenize output",
    )
    data_metadata = _files.require(
        _files.join(config.data_path, "metadata.json"), "tokenize metadata", "point data_path at a tokenize output"
    )
    _check_same_vocabulary(config)
    model = NgramModel.load(model_file)
    model_lineage = _files.read_metadata(config.model_path)
    num_bytes = int(_files.read_json(data_metadata)["tokenize"][f"{config.split}_bytes"])

    tokens = _files.read_npy(ids_file)
    if tokens.size == 0:
        raise ValueError(f"{ids_file} holds no tokens: evaluate on a non-empty split")
    total_nats = float(-np.sum(model.log_probs(tokens)))
    cross_entropy = total_nats / tokens.size
    result = EvalResult(
        split=config.split,
        num_tokens=int(tokens.size),
        num_bytes=num_bytes,
        cross_entropy=cross_entropy,
        perplexity=math.exp(cross_entropy),
        bits_per_token=cross_entropy / math.log(2),
        bits_per_byte=total_nats / math.log(2) / num_bytes,
        uniform_perplexity=float(model.vocab_size),
    )
    metrics = {**model_lineage, "eval": {**dataclasses.asdict(result), "model_path": config.model_path}}
    _files.write_json(_files.join(config.output_path, "metrics.json"), metrics)
    logger.info(
        f"evaluate {config.split}: perplexity {result.perplexity:.3f} (uniform {result.uniform_perplexity:.0f}), "
        f"{result.bits_per_byte:.4f} bits/byte -> {config.output_path}"
    )
    return result


def _check_same_vocabulary(config: EvalConfig) -> None:
    model_vocab = _files.read_json(_files.join(config.model_path, "vocab.json"))
    data_vocab = _files.read_json(_files.join(config.data_path, "vocab.json"))
    if model_vocab == data_vocab:
        return
    model_tokenizer, data_tokenizer = model_vocab["tokenizer"], data_vocab["tokenizer"]
    found = (
        f"the model uses tokenizer {model_tokenizer!r}, the data {data_tokenizer!r}"
        if model_tokenizer != data_tokenizer
        else f"both use {data_tokenizer!r} but their vocabularies differ (model {len(model_vocab['tokens'])} tokens, "
        f"data {len(data_vocab['tokens'])}), so the data was tokenized from another corpus"
    )
    raise ValueError(
        f"model at {config.model_path} and data at {config.data_path} disagree: {found}. Evaluate on data from "
        "the same tokenize run as the model's training data"
    )
