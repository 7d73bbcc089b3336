"""Tiny offline stand-ins: synthetic reviews and tiny random BERT/DistilBERT models.

They let the smoke study and the test suite run a real search end to end in seconds, with no
network and no files outside the repo. ``python tests/tiny.py DIR`` rebuilds the smoke assets
(``study_configs/smoke/``) byte-for-byte from a seed.
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


def build_tokenizer(folder: Path) -> object:
    """A BERT WordPiece tokenizer over the synthetic vocabulary, saved in ``folder``."""
    from transformers import BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    words = SPECIAL_TOKENS + sorted({*POSITIVE, *NEGATIVE, *NEUTRAL, "."})
    tokenizer = BertTokenizerFast(
        vocab={w: i for i, w in enumerate(words)}, do_lower_case=True, model_max_length=512
    )
    tokenizer.save_pretrained(str(folder))
    return tokenizer


def build_model(folder: Path, arch: str = "bert", *, seed: int = 0) -> Path:
    """A tiny random ``arch`` (bert or distilbert) model and its tokenizer, in ``folder``."""
    import torch
    from transformers import (
        AutoModelForSequenceClassification,
        BertConfig,
        DistilBertConfig,
    )

    tokenizer = build_tokenizer(folder)
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


if __name__ == "__main__":
    build_smoke_assets(Path(sys.argv[1] if len(sys.argv) > 1 else "study_configs/smoke"))
