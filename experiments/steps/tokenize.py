"""Steps that turn a raw corpus into token ids."""

from __future__ import annotations

from experiments.lib.tokenize import TokenizeConfig
from experiments.lib.tokenize import tokenize as _tokenize
from marin_exec import StepRef, deferred, output, step, versioned

tokenize = deferred(_tokenize)


@step(name="tokenized/{name}", description="tokenize {name} with the {tokenizer} tokenizer")
def tokenized(name: str, raw: StepRef, tokenizer: str = "bytes"):
    return tokenize(TokenizeConfig(input_path=raw, output_path=output(), tokenizer=versioned(tokenizer)))
