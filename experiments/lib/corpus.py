"""Build a small, deterministic text corpus from a seeded probabilistic grammar and split it into train/valid.

``build_corpus(CorpusConfig(...))`` writes ``train.txt``, ``valid.txt`` and ``metadata.json`` under
``output_path`` and returns a ``CorpusInfo``. The same config gives byte-identical files on every machine:
the text comes from ``random.Random(seed)`` expanding a grammar shipped in this module (original text written
for this project, not copied from any book), so nothing is downloaded.

This module does not tokenize, shuffle across documents, or fetch anything from the network. Configs are not
validated when constructed (the wiring layer builds them with placeholders); ``build_corpus`` validates them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import random
import re
from dataclasses import dataclass

from experiments.lib import _files

logger = logging.getLogger(__name__)

Grammar = dict[str, list[str]]

# Each rule maps a symbol to alternatives chosen uniformly; ``<symbol>`` inside an alternative expands
# recursively. The first alternative of every recursive rule terminates: past _MAX_DEPTH it is always chosen.
_VERSE: Grammar = {
    "document": ["SCENE <roman>. <place>.\n\n<speeches>"],
    "roman": ["I", "II", "III", "IV", "V", "VI", "VII"],
    "place": [
        "A hall in the castle",
        "A heath at night",
        "The garden of the duke",
        "A street before the tavern",
        "The shore, in a storm",
        "A chamber in the tower",
    ],
    "speeches": ["<speech>\n<speech>", "<speech>\n<speeches>", "<speech>\n<speech>\n<speeches>"],
    "speech": ["<speaker>.\n<lines>\n"],
    "speaker": ["KING", "QUEEN", "FOOL", "MESSENGER", "FIRST WATCHMAN", "LADY", "DUKE", "HERMIT", "PRINCE"],
    "lines": ["<line>", "<line>\n<lines>", "<line>\n<line>"],
    "line": [
        "O <adj> <noun>, why dost thou <verb> <prep> the <noun>?",
        "The <noun> doth <verb> <prep> the <adj> <noun>.",
        "I swear by <oath>, my <noun> shall <verb> no more.",
        "Thy <noun> is <adj> as the <noun> at <time>.",
        "Come, <address>, let us <verb> <prep> the <noun>.",
        "What <noun> is this that <verbs> <prep> my <noun>?",
        "Hark! the <noun> <verbs> <prep> the <adj> <noun>.",
        "Alas, <address>, the <noun> is <adj> and the <noun> is <adj>.",
        "If <pronoun> <verb> at <time>, the <noun> will <verb> with <pronoun>.",
        "Go, tell the <noun> that <pronoun> <verb> no more.",
        "Nay, <address>; I will not <verb> till the <noun> <verbs>.",
    ],
    "adj": ["gentle", "bitter", "golden", "pale", "sweet", "cruel", "silent", "wretched", "noble", "wild", "weary"],
    "noun": [
        "moon",
        "crown",
        "heart",
        "raven",
        "sword",
        "rose",
        "river",
        "ghost",
        "honour",
        "night",
        "storm",
        "letter",
        "fool",
        "throne",
        "grave",
    ],
    "verb": ["weep", "sing", "wander", "sleep", "fight", "dream", "kneel", "burn", "wait", "speak"],
    "verbs": ["weeps", "sings", "wanders", "sleeps", "fights", "dreams", "kneels", "burns", "waits", "speaks"],
    "prep": ["upon", "beneath", "beyond", "within", "against", "before"],
    "oath": ["my father's grave", "the pale moon", "this honest hand", "all the saints", "the morning star"],
    "time": ["dawn", "midnight", "evening", "the turning of the year", "the hour of bells"],
    "address": ["good my lord", "sweet lady", "fair cousin", "old friend", "my liege", "gentle fool"],
    "pronoun": ["we", "they", "you", "I"],
}

_FABLES: Grammar = {
    "document": ["The <Animal> and the <Animal>\n\n<story>\n\nMoral: <moral>\n"],
    "story": ["<opening> <events> <speech> <ending>"],
    "opening": [
        "Once upon a time a <animal> lived <where>.",
        "In a <adj> year, a <animal> and a <animal> met <where>.",
        "Long ago, <where>, there was a <adj> <animal>.",
    ],
    "events": ["<event>", "<event> <events>", "<event> <event>"],
    "event": [
        "Every morning the <animal> <verbed> <where>.",
        "One day the <animal> found a <thing> and <verbed> it.",
        "The <animal> was <adj>, so it <verbed> the <thing>.",
        "Then a <adj> wind <verbed> the <thing> away.",
        "The <animal> asked the <animal> for a <thing>.",
        "But the <animal> only laughed and <verbed> <where>.",
    ],
    "speech": [
        '"Why do you <verb> the <thing>?" said the <animal>.',
        '"I will <verb> the <thing> tomorrow," said the <animal>.',
        '"Give me the <thing>," said the <animal>, "and I will <verb> for you."',
    ],
    "ending": [
        "In the end the <animal> was <adj> and the <thing> was lost.",
        "So the <animal> <verbed> the <thing> and went home <adj>.",
        "And from that day the <animal> never <verbed> again.",
    ],
    "moral": [
        "A <thing> shared is worth two kept.",
        "Those who <verb> in the morning eat in the evening.",
        "Do not trust a <adj> <animal>.",
        "Slow and <adj> wins the day.",
    ],
    "Animal": ["Fox", "Crow", "Tortoise", "Hare", "Mouse", "Lion", "Goat", "Badger", "Wolf", "Frog"],
    "animal": ["fox", "crow", "tortoise", "hare", "mouse", "lion", "goat", "badger", "wolf", "frog"],
    "adj": ["clever", "hungry", "proud", "patient", "foolish", "kind", "tired", "greedy", "humble"],
    "thing": ["cheese", "walnut", "grape", "feather", "stone", "seed", "bell", "coat", "loaf"],
    "verb": ["carry", "hide", "share", "eat", "plant", "guard", "sell", "mend", "find"],
    "verbed": ["carried", "hid", "shared", "ate", "planted", "guarded", "sold", "mended", "chased"],
    "where": ["by the river", "under the old oak", "in the barley field", "on the hill", "near the well"],
}

CORPORA: dict[str, Grammar] = {"verse": _VERSE, "fables": _FABLES}
"""The corpora ``build_corpus`` can generate, by name."""

_SYMBOL = re.compile(r"<([A-Za-z_]+)>")
_MAX_DEPTH = 24


@dataclass(frozen=True)
class CorpusConfig:
    output_path: str
    name: str = "verse"
    """One of ``CORPORA``: ``verse`` (scenes of a pseudo-Elizabethan play) or ``fables`` (animal fables)."""
    num_documents: int = 300
    seed: int = 0
    valid_fraction: float = 0.1
    """Share of documents held out for evaluation; the last documents generated go to ``valid.txt``."""


@dataclass(frozen=True)
class CorpusInfo:
    name: str
    seed: int
    num_documents: int
    train_documents: int
    valid_documents: int
    train_bytes: int
    valid_bytes: int
    train_sha256: str
    """Digest of ``train.txt``: equal digests mean equal corpora, whatever the machine."""


def generate_documents(name: str, num_documents: int, seed: int) -> list[str]:
    """The first ``num_documents`` documents of corpus ``name`` for ``seed`` (a prefix of any longer run)."""
    if name not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}: choose one of {sorted(CORPORA)}")
    grammar = CORPORA[name]
    rng = random.Random(seed)
    return [_expand(grammar, "document", rng, depth=0) for _ in range(num_documents)]


def build_corpus(config: CorpusConfig) -> CorpusInfo:
    """Generate the corpus, write ``train.txt``/``valid.txt``/``metadata.json`` under ``config.output_path``."""
    if config.num_documents < 2:
        raise ValueError(f"corpus {config.name!r}: num_documents={config.num_documents}; use at least 2 (train+valid)")
    if not 0.0 < config.valid_fraction < 1.0:
        raise ValueError(f"corpus {config.name!r}: valid_fraction={config.valid_fraction}; use a value in (0, 1)")
    documents = generate_documents(config.name, config.num_documents, config.seed)
    num_valid = min(config.num_documents - 1, max(1, round(config.num_documents * config.valid_fraction)))
    train_text = "\n".join(documents[:-num_valid])
    valid_text = "\n".join(documents[-num_valid:])
    train_data, valid_data = train_text.encode("utf-8"), valid_text.encode("utf-8")

    info = CorpusInfo(
        name=config.name,
        seed=config.seed,
        num_documents=config.num_documents,
        train_documents=config.num_documents - num_valid,
        valid_documents=num_valid,
        train_bytes=len(train_data),
        valid_bytes=len(valid_data),
        train_sha256=hashlib.sha256(train_data).hexdigest(),
    )
    _files.write_bytes(_files.join(config.output_path, "train.txt"), train_data)
    _files.write_bytes(_files.join(config.output_path, "valid.txt"), valid_data)
    _files.write_json(_files.join(config.output_path, "metadata.json"), {"corpus": dataclasses.asdict(info)})
    logger.info(
        f"corpus {config.name}: {info.train_documents}+{info.valid_documents} documents, "
        f"{info.train_bytes}+{info.valid_bytes} bytes -> {config.output_path}"
    )
    return info


def _expand(grammar: Grammar, symbol: str, rng: random.Random, depth: int) -> str:
    alternatives = grammar[symbol]
    template = alternatives[0] if depth >= _MAX_DEPTH else rng.choice(alternatives)
    return _SYMBOL.sub(lambda match: _expand(grammar, match.group(1), rng, depth + 1), template)
