"""Behaviour of the tiny LM library layer (experiments/lib): the stages run end to end on any fsspec path."""

from __future__ import annotations

import ast
import json
import math
import uuid
from pathlib import Path

import fsspec
import pytest

from experiments.lib.corpus import CorpusConfig, build_corpus
from experiments.lib.evaluate import EvalConfig, EvalResult, evaluate
from experiments.lib.report import ReportConfig, write_report
from experiments.lib.tokenize import TokenizeConfig, tokenize
from experiments.lib.train import TrainConfig, train_model

LIB_DIR = Path(__file__).resolve().parents[1] / "experiments" / "lib"


def _run(
    root: str, *, tokenizer: str = "bytes", order: int = 2, smoothing: float = 0.1, run: str = "run"
) -> EvalResult:
    """corpus -> tokenize -> train -> evaluate under ``root``, reusing stages that already wrote their output."""
    fs, corpus_dir = fsspec.core.url_to_fs(f"{root}/corpus")
    if not fs.exists(f"{corpus_dir}/train.txt"):
        build_corpus(CorpusConfig(output_path=f"{root}/corpus", num_documents=60, seed=1))
    tokenize(TokenizeConfig(input_path=f"{root}/corpus", output_path=f"{root}/tok-{tokenizer}", tokenizer=tokenizer))
    train_model(
        TrainConfig(
            data_path=f"{root}/tok-{tokenizer}", output_path=f"{root}/model-{run}", order=order, smoothing=smoothing
        )
    )
    return evaluate(
        EvalConfig(
            model_path=f"{root}/model-{run}", data_path=f"{root}/tok-{tokenizer}", output_path=f"{root}/eval-{run}"
        )
    )


def test_pipeline_end_to_end_beats_the_uniform_baseline_and_reports_it(tmp_path):
    result = _run(str(tmp_path), run="bigram")
    report = write_report(ReportConfig(eval_paths=[str(tmp_path / "eval-bigram")], output_path=str(tmp_path / "rep")))

    assert math.isfinite(result.perplexity)
    assert 1.0 < result.perplexity < result.uniform_perplexity == 256
    text = (tmp_path / "rep" / "report.md").read_text()
    assert text == report.markdown
    assert "| eval-bigram | verse | 60 | 1 | bytes | 256 | 2 | 0.1 |" in text
    assert f"{result.perplexity:.2f}" in text


def test_report_ranks_runs_by_bits_per_byte_across_tokenizers(tmp_path):
    unigram = _run(str(tmp_path), tokenizer="chars", order=1, run="chars-unigram")
    trigram = _run(str(tmp_path), tokenizer="words", order=3, run="words-trigram")
    paths = [str(tmp_path / "eval-chars-unigram"), str(tmp_path / "eval-words-trigram")]

    report = write_report(ReportConfig(eval_paths=paths, output_path=str(tmp_path / "rep")))

    assert trigram.bits_per_byte < unigram.bits_per_byte
    assert report.best_run == "eval-words-trigram"
    assert report.markdown.index("| eval-words-trigram |") < report.markdown.index("| eval-chars-unigram |")


def test_more_smoothing_pulls_perplexity_toward_uniform(tmp_path):
    light = _run(str(tmp_path), smoothing=0.01, run="light")
    heavy = _run(str(tmp_path), smoothing=1e6, run="heavy")

    assert light.perplexity < heavy.perplexity
    assert heavy.perplexity == pytest.approx(heavy.uniform_perplexity, rel=1e-3)


def test_corpus_is_byte_identical_for_a_seed_and_differs_across_seeds(tmp_path):
    infos = [
        build_corpus(CorpusConfig(output_path=str(tmp_path / name), name="fables", num_documents=20, seed=seed))
        for name, seed in (("a", 7), ("b", 7), ("c", 8))
    ]

    for split in ("train.txt", "valid.txt"):
        assert (tmp_path / "a" / split).read_bytes() == (tmp_path / "b" / split).read_bytes()
    assert (tmp_path / "a" / "train.txt").read_bytes() != (tmp_path / "c" / "train.txt").read_bytes()
    assert infos[0] == infos[1] != infos[2]


def test_pipeline_runs_on_an_in_memory_filesystem():
    root = f"memory://tiny-lm-{uuid.uuid4().hex}"
    try:
        result = _run(root, run="mem")
        write_report(ReportConfig(eval_paths=[f"{root}/eval-mem"], output_path=f"{root}/rep"))

        with fsspec.open(f"{root}/eval-mem/metrics.json") as f:
            metrics = json.load(f)
        assert metrics["eval"]["perplexity"] == result.perplexity
        assert metrics["corpus"]["seed"] == 1 and metrics["train"]["order"] == 2
        with fsspec.open(f"{root}/rep/report.md", "rt") as f:
            assert "eval-mem" in f.read()
    finally:
        fsspec.filesystem("memory").rm(root.removeprefix("memory://"), recursive=True)


def test_tokenize_maps_valid_words_unseen_in_train_to_unk(tmp_path):
    (tmp_path / "train.txt").write_text("the fox ran. the fox hid.")
    (tmp_path / "valid.txt").write_text("the owl ran.")

    stats = tokenize(TokenizeConfig(input_path=str(tmp_path), output_path=str(tmp_path / "tok"), tokenizer="words"))

    assert stats.valid_tokens == 4
    assert stats.valid_unknown_tokens == 1
    assert stats.vocab_size == 6  # <unk>, the, fox, ., ran, hid


def test_evaluate_refuses_data_tokenized_another_way_than_the_model(tmp_path):
    _run(str(tmp_path), tokenizer="bytes", run="bytes")
    tokenize(
        TokenizeConfig(input_path=str(tmp_path / "corpus"), output_path=str(tmp_path / "words"), tokenizer="words")
    )

    config = EvalConfig(
        model_path=str(tmp_path / "model-bytes"), data_path=str(tmp_path / "words"), output_path=str(tmp_path / "ev")
    )
    with pytest.raises(ValueError, match="tokenizer 'bytes', the data 'words'"):
        evaluate(config)
    assert not (tmp_path / "ev").exists()


def _marin_exec_imports(source: str) -> list[str]:
    modules = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.append(node.module)
    return [module for module in modules if module == "marin_exec" or module.startswith("marin_exec.")]


def test_library_code_never_imports_marin_exec():
    assert _marin_exec_imports("import os\nfrom marin_exec.trace.step import step\n") == ["marin_exec.trace.step"]
    files = sorted(LIB_DIR.rglob("*.py"))
    assert {"corpus.py", "tokenize.py", "train.py", "evaluate.py", "report.py"} <= {f.name for f in files}

    offenders = {f.name: found for f in files if (found := _marin_exec_imports(f.read_text()))}

    assert offenders == {}, (
        f"library code must stay executor-free; move these imports to experiments/steps: {offenders}"
    )
