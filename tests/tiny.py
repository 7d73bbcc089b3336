"""Tiny offline stand-ins: synthetic reviews, news topics and sentence pairs, and tiny random
BERT/DistilBERT models.

They let the shipped study configs and the test suite run a real search end to end in seconds,
with no network and no files outside the repo. ``python tests/tiny.py`` rebuilds the assets
under ``study_configs/`` byte-for-byte from seeds: ``smoke/`` (binary reviews) and
``synthetic/`` (four news topics with string labels, and same-topic sentence pairs).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

POSITIVE = [
    "great",
    "excellent",
    "wonderful",
    "loved",
    "brilliant",
    "superb",
    "moving",
    "delightful",
    "charming",
    "masterpiece",
    "fantastic",
    "enjoyable",
    "beautiful",
    "funny",
    "touching",
]
NEGATIVE = [
    "awful",
    "boring",
    "terrible",
    "waste",
    "hated",
    "dull",
    "poor",
    "worst",
    "mess",
    "stupid",
    "bland",
    "painful",
    "disappointing",
    "annoying",
    "ridiculous",
]
NEUTRAL = [
    "the",
    "a",
    "movie",
    "film",
    "plot",
    "story",
    "actors",
    "acting",
    "scene",
    "scenes",
    "director",
    "script",
    "music",
    "ending",
    "character",
    "characters",
    "was",
    "is",
    "and",
    "it",
    "this",
    "that",
    "with",
    "of",
    "to",
    "in",
    "but",
    "for",
    "watched",
    "saw",
    "really",
    "quite",
    "very",
    "some",
    "time",
    "cast",
    "screen",
    "camera",
]
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

#: Four news topics, as in AG News: the words that give a headline its topic.
TOPICS = {
    "World": [
        "minister",
        "election",
        "embassy",
        "treaty",
        "border",
        "parliament",
        "refugees",
        "president",
        "summit",
        "ceasefire",
        "diplomats",
        "protest",
        "sanctions",
        "rebels",
    ],
    "Sports": [
        "match",
        "goal",
        "coach",
        "league",
        "season",
        "striker",
        "tournament",
        "olympic",
        "champions",
        "referee",
        "playoff",
        "stadium",
        "medal",
        "innings",
    ],
    "Business": [
        "shares",
        "profit",
        "merger",
        "investors",
        "earnings",
        "stocks",
        "bank",
        "revenue",
        "inflation",
        "oil",
        "quarterly",
        "retailer",
        "bonds",
        "dividend",
    ],
    "Sci/Tech": [
        "software",
        "internet",
        "chip",
        "researchers",
        "space",
        "computer",
        "browser",
        "satellite",
        "genome",
        "wireless",
        "linux",
        "robot",
        "telescope",
        "patent",
    ],
}
NEWS_FILLER = [
    "the",
    "a",
    "in",
    "on",
    "after",
    "new",
    "report",
    "says",
    "today",
    "week",
    "officials",
    "people",
    "first",
    "year",
    "said",
    "over",
    "with",
    "and",
    "of",
    "to",
    "as",
    "for",
    "its",
    "two",
    "major",
    "plan",
    "talks",
    "record",
]
#: Share of each topic in the generated sets: unequal, so macro- and weighted-F1 differ.
TOPIC_SHARES = {"World": 0.3, "Sports": 0.3, "Business": 0.25, "Sci/Tech": 0.15}


def synthetic_reviews(
    n: int,
    *,
    seed: int,
    min_words: int = 6,
    max_words: int = 40,
) -> list[dict[str, object]]:
    """``n`` balanced reviews (label 0 = neg, 1 = pos) whose sentiment words decide the label,
    with a little noise: an opposite word now and then, and varied lengths (so padding matters).
    """
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = i % 2
        own, other = (POSITIVE, NEGATIVE) if label else (NEGATIVE, POSITIVE)
        length = rng.randint(min_words, max_words)
        words = [rng.choice(NEUTRAL) for _ in range(length)]
        for _ in range(rng.randint(1, 3)):
            words[rng.randrange(length)] = rng.choice(own)
        if rng.random() < 0.15:
            words[rng.randrange(length)] = rng.choice(other)
        rows.append({"text": " ".join(words).capitalize() + ".", "label": label})
    rng.shuffle(rows)
    return rows


def write_jsonl(rows: list[dict[str, object]], path: Path) -> None:
    """Write rows as JSON lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def headline(topic: str, rng: random.Random, *, noise: float = 0.4) -> str:
    """A synthetic headline: filler words with one or two words of ``topic`` and, as often as
    ``noise``, one word of another topic (so a single word can mislead)."""
    length = rng.randint(6, 24)
    words = [rng.choice(NEWS_FILLER) for _ in range(length)]
    for _ in range(rng.randint(1, 2)):
        words[rng.randrange(length)] = rng.choice(TOPICS[topic])
    if rng.random() < noise:
        other = rng.choice([t for t in TOPICS if t != topic])
        words[rng.randrange(length)] = rng.choice(TOPICS[other])
    return " ".join(words).capitalize() + "."


def synthetic_topics(n: int, *, seed: int) -> list[dict[str, object]]:
    """``n`` headlines labelled by topic name (strings), in the shares of ``TOPIC_SHARES``."""
    rng = random.Random(seed)
    rows = []
    for topic, share in TOPIC_SHARES.items():
        rows += [{"text": headline(topic, rng), "label": topic} for _ in range(round(n * share))]
    rng.shuffle(rows)
    return rows


def synthetic_pairs(n: int, *, seed: int) -> list[dict[str, object]]:
    """``n`` headline pairs, half ``same`` (the second retells the first: its topic words in
    other filler) and half ``different`` (a headline of another topic). Neither side alone
    tells the label; only the two together do."""
    rng = random.Random(seed)
    topics = list(TOPICS)
    rows = []
    for i in range(n):
        first = rng.choice(topics)
        keys = rng.sample(TOPICS[first], rng.randint(2, 3))
        if i % 2 == 0:
            label, second_keys = "same", rng.sample(keys, len(keys))
        else:
            other = rng.choice([t for t in topics if t != first])
            label, second_keys = "different", rng.sample(TOPICS[other], len(keys))
        rows.append(
            {
                "sentence1": _with_filler(keys, rng),
                "sentence2": _with_filler(second_keys, rng),
                "label": label,
            }
        )
    rng.shuffle(rows)
    return rows


def _with_filler(keys: list[str], rng: random.Random) -> str:
    words = [rng.choice(NEWS_FILLER) for _ in range(rng.randint(5, 14))]
    for key in keys:
        words.insert(rng.randrange(len(words) + 1), key)
    return " ".join(words).capitalize() + "."


def write_table(rows: list[dict[str, object]], path: Path) -> None:
    """Write rows as CSV or TSV (by the suffix), with a header."""
    import csv

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(
            fh, fieldnames=list(rows[0]), delimiter="\t" if path.suffix == ".tsv" else ","
        )
        writer.writeheader()
        writer.writerows(rows)


def build_tokenizer(folder: Path, extra_words: list[str] | None = None) -> object:
    """A BERT WordPiece tokenizer over the synthetic vocabulary (plus ``extra_words``), saved in
    ``folder``."""
    from transformers import BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    words = SPECIAL_TOKENS + sorted({*POSITIVE, *NEGATIVE, *NEUTRAL, ".", *(extra_words or [])})
    tokenizer = BertTokenizerFast(
        vocab={w: i for i, w in enumerate(words)}, do_lower_case=True, model_max_length=512
    )
    tokenizer.save_pretrained(str(folder))
    return tokenizer


def build_model(
    folder: Path, arch: str = "bert", *, seed: int = 0, extra_words: list[str] | None = None
) -> Path:
    """A tiny random ``arch`` (bert or distilbert) model and its tokenizer, in ``folder``."""
    import torch
    from transformers import (
        AutoModelForSequenceClassification,
        BertConfig,
        DistilBertConfig,
    )

    tokenizer = build_tokenizer(folder, extra_words)
    vocab_size = len(tokenizer)
    if arch == "bert":
        config = BertConfig(
            vocab_size=vocab_size,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=128,
            num_labels=2,
        )
    elif arch == "distilbert":
        config = DistilBertConfig(
            vocab_size=vocab_size,
            dim=32,
            n_layers=2,
            n_heads=2,
            hidden_dim=64,
            max_position_embeddings=128,
            num_labels=2,
        )
    else:
        raise ValueError(f"arch must be bert or distilbert, got {arch!r}")
    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_config(config)
    model.save_pretrained(str(folder))
    return folder


def build_smoke_assets(root: Path) -> None:
    """The smoke study's files: ``data/{train,test}.jsonl`` and ``model/`` (tiny BERT)."""
    write_jsonl(synthetic_reviews(1200, seed=1), root / "data" / "train.jsonl")
    write_jsonl(synthetic_reviews(400, seed=2), root / "data" / "test.jsonl")
    build_model(root / "model", "bert")


def news_words() -> list[str]:
    """Every word of the synthetic headlines."""
    return [w for words in TOPICS.values() for w in words] + NEWS_FILLER


def build_synthetic_assets(root: Path) -> None:
    """The multi-class and pair studies' files: ``topics/{train,validation,test}.csv`` (string
    labels, every split given), ``pairs/train.tsv`` (no validation or test split: both are
    carved), and ``model/`` (a tiny BERT that knows the headline words)."""
    write_table(synthetic_topics(1200, seed=21), root / "topics" / "train.csv")
    write_table(synthetic_topics(200, seed=22), root / "topics" / "validation.csv")
    write_table(synthetic_topics(400, seed=23), root / "topics" / "test.csv")
    write_table(synthetic_pairs(1600, seed=24), root / "pairs" / "train.tsv")
    build_model(root / "model", "bert", extra_words=news_words())


if __name__ == "__main__":
    base = Path(sys.argv[1] if len(sys.argv) > 1 else "study_configs")
    build_smoke_assets(base / "smoke")
    build_synthetic_assets(base / "synthetic")
