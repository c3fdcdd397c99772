"""Write ``report.md``: one table a person can read, comparing evaluated runs and naming the best one.

``write_report(ReportConfig(eval_paths=[...], output_path=...))`` reads each ``evaluate`` output's
``metrics.json`` (results plus the lineage of hyperparameters: corpus, tokenizer, order, smoothing), ranks the
runs by bits per byte (comparable across tokenizers, unlike perplexity), writes ``report.md`` under
``output_path`` and returns a ``Report`` that carries the same markdown.

This module computes no metric itself and does not plot; it only reads what ``evaluate`` wrote. Configs are
not validated at construction (the wiring layer builds them with placeholders); ``write_report`` does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from experiments.lib import _files

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportConfig:
    eval_paths: list[str]
    """``evaluate`` output directories; each run is labelled by the last component of its path."""
    output_path: str
    title: str = "Tiny LM runs"


@dataclass(frozen=True)
class Report:
    num_runs: int
    best_run: str
    best_bits_per_byte: float
    best_perplexity: float
    markdown: str


_COLUMNS = (
    ("run", "left"),
    ("corpus", "left"),
    ("documents", "right"),
    ("seed", "right"),
    ("tokenizer", "left"),
    ("vocab", "right"),
    ("order", "right"),
    ("smoothing", "right"),
    ("eval tokens", "right"),
    ("perplexity", "right"),
    ("uniform", "right"),
    ("bits/token", "right"),
    ("bits/byte", "right"),
)


def write_report(config: ReportConfig) -> Report:
    """Read every run's ``metrics.json`` and write the comparison to ``output_path/report.md``."""
    if not config.eval_paths:
        raise ValueError("write_report got no eval_paths: pass the output directories of one or more evaluate runs")
    runs = [(_label(path), _read_metrics(path)) for path in config.eval_paths]
    runs.sort(key=lambda run: run[1]["eval"]["bits_per_byte"])
    best_label, best = runs[0]
    markdown = _render(config, runs)
    _files.write_text(_files.join(config.output_path, "report.md"), markdown)
    logger.info(f"report: {len(runs)} runs, best {best_label} -> {config.output_path}")
    return Report(
        num_runs=len(runs),
        best_run=best_label,
        best_bits_per_byte=float(best["eval"]["bits_per_byte"]),
        best_perplexity=float(best["eval"]["perplexity"]),
        markdown=markdown,
    )


def _label(eval_path: str) -> str:
    return eval_path.rstrip("/").rsplit("/", 1)[-1]


def _read_metrics(eval_path: str) -> dict[str, Any]:
    path = _files.require(
        _files.join(eval_path, "metrics.json"), "metrics", "pass evaluate output directories that finished"
    )
    return dict(_files.read_json(path))


def _render(config: ReportConfig, runs: list[tuple[str, dict[str, Any]]]) -> str:
    best_label, best = runs[0]
    result = best["eval"]
    lines = [
        f"# {config.title}",
        "",
        f"{len(runs)} run(s) scored on held-out text, best first. Runs are ranked by **bits per byte**, which "
        "compares models with different tokenizers; perplexity is per token, so compare it only between runs "
        "that share a tokenizer, and against `uniform` (guessing evenly over the vocabulary).",
        "",
        "| " + " | ".join(name for name, _ in _COLUMNS) + " |",
        "| " + " | ".join("---:" if align == "right" else "---" for _, align in _COLUMNS) + " |",
    ]
    lines += ["| " + " | ".join(_cell(value) for value in _row(label, metrics)) + " |" for label, metrics in runs]
    lines += [
        "",
        f"Best: **{_cell(best_label)}**, {result['bits_per_byte']:.3f} bits per byte "
        f"(perplexity {result['perplexity']:.2f} per {best.get('tokenize', {}).get('tokenizer', '?')} token, "
        f"against {result['uniform_perplexity']:.0f} for a uniform guess).",
        "",
        "Smoothing is add-k: a larger k moves every prediction toward uniform.",
    ]
    if any(metrics.get("tokenize", {}).get("tokenizer") == "words" for _, metrics in runs):
        lines[-1] += (
            " The `words` tokenizer drops spaces and maps words unseen in training to `<unk>`, so its bits per "
            "byte slightly underestimate what a lossless model would need."
        )
    lines += ["", "## Sources", ""]
    lines += [f"- `{label}`: model `{metrics['eval'].get('model_path', '?')}`" for label, metrics in runs]
    return "\n".join(lines) + "\n"


def _row(label: str, metrics: dict[str, Any]) -> list[object]:
    corpus, tokenize, train, result = (metrics.get(key, {}) for key in ("corpus", "tokenize", "train", "eval"))
    return [
        label,
        corpus.get("name", "?"),
        corpus.get("num_documents", "?"),
        corpus.get("seed", "?"),
        tokenize.get("tokenizer", "?"),
        train.get("vocab_size", "?"),
        train.get("order", "?"),
        train.get("smoothing", "?"),
        f"{result['num_tokens']:,}",
        f"{result['perplexity']:.2f}",
        f"{result['uniform_perplexity']:.0f}",
        f"{result['bits_per_token']:.3f}",
        f"{result['bits_per_byte']:.3f}",
    ]


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")
