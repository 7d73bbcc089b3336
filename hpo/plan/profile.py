"""Profile the data a budget is planned for: sizes, classes, token lengths.

Read from the search's splits only (train less validation, and validation): the test split is
counted, never looked into, so no choice the planner makes depends on it. Token lengths are
measured untruncated on a seeded sample of each split with the study's tokenizer; the profile
is cached (keyed by the data's fingerprint, the tokenizer's and the split settings), so a
second plan of the same data costs nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hpo.config.reference import TFIDF_MAX_DF, TFIDF_MIN_DF
from hpo.data.labels import class_counts, names_of
from hpo.data.sources import load_raw, locate
from hpo.data.splits import carve_test, stage_splits
from hpo.data.tokenized import default_cache_dir, tokenizer_fingerprint
from hpo.runs import write_atomically

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedTokenizerBase

    from hpo.config.schema import DataSection

logger = logging.getLogger(__name__)

#: Examples per split whose token lengths are measured (a seeded sample of larger splits).
LENGTH_SAMPLE = 2000
#: Percentiles of token length in a profile.
PERCENTILES = (50, 90, 95, 99)
_PROFILE_VERSION = 3


@dataclass(frozen=True)
class DataProfile:
    """What the planner knows of the data."""

    #: Examples the search can train on (train less the validation split) and score on.
    n_train: int
    n_validation: int
    #: Examples the final stage trains on (train plus validation) and scores once.
    n_final_train: int
    n_test: int
    #: Class names and their counts in the search's training split.
    labels: tuple[str, ...]
    class_counts: tuple[int, ...]
    #: Two texts per example (a sentence pair).
    pairs: bool
    #: Untruncated token lengths (special tokens included) of the sampled training examples,
    #: sorted: the planner costs a length cut on them.
    train_lengths: tuple[int, ...]
    #: Percentiles (``PERCENTILES``) of token length per split: ``{"train": {"p50": ...}}``.
    length_percentiles: dict[str, dict[str, int]]
    #: Characters of text per training example, on average (the TF-IDF baseline's cost).
    mean_chars: float
    #: Seconds the tokenizer took per example when profiling (the tokenization's cost).
    tokenize_seconds_per_example: float
    #: Seconds per example of the TF-IDF baseline's fit (word 1-2 grams, logistic regression),
    #: and of its vectorizer alone, timed on the sample; and the same of single words (0: not
    #: timed, costed as word pairs).
    tfidf_seconds_per_example: float = 0.0
    tfidf_vectorize_seconds_per_example: float = 0.0
    tfidf_unigram_seconds_per_example: float = 0.0
    tfidf_unigram_vectorize_seconds_per_example: float = 0.0
    #: Seconds this profile took to make (0 where it came from the cache): what the plan is
    #: charged, as a job that finds the data profiled does not spend them.
    profile_seconds: float = 0.0

    def final_examples(self, *, holdout: bool) -> tuple[int, int]:
        """(trained, scored) examples of the final stage: with ``holdout`` (``study.ship:
        best``) it trains without validation and scores validation and test."""
        if holdout:
            return self.n_train, self.n_validation + self.n_test
        return self.n_final_train, self.n_test

    @property
    def n_classes(self) -> int:
        """How many classes the data has."""
        return len(self.labels)

    def share_cut(self, max_length: int) -> float:
        """The share of sampled training examples longer than ``max_length`` tokens."""
        lengths = np.asarray(self.train_lengths)
        return float((lengths > max_length).mean()) if len(lengths) else 0.0

    def percentile(self, q: float) -> int:
        """The ``q``-th percentile of training-example token length."""
        return int(np.percentile(self.train_lengths, q)) if self.train_lengths else 0

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for ``plan.json`` (the sampled lengths as their percentiles only)."""
        out = dataclasses.asdict(self)
        out.pop("train_lengths")
        return out


def profile_data(cfg: DataSection, tokenizer: PreTrainedTokenizerBase) -> DataProfile:
    """The profile of the data ``cfg`` names, from the cache when it was profiled before."""
    source = locate(cfg)
    raw = None
    data_fp = source.fingerprint
    if source.kind == "hub":
        raw, data_fp = load_raw(cfg, source)
    key_fields = {
        "v": _PROFILE_VERSION,
        "data": data_fp,
        "tokenizer": tokenizer_fingerprint(tokenizer),
        "columns": [cfg.text_column, cfg.text_pair_column, cfg.label_column],
        "label_names": cfg.label_names,
        "splits": [cfg.validation_fraction, cfg.test_fraction, cfg.split_seed],
        "drop_test_overlap": cfg.drop_test_overlap,
    }
    key = hashlib.sha256(json.dumps(key_fields, sort_keys=True).encode()).hexdigest()[:20]
    root = Path(cfg.cache_dir) if cfg.cache_dir else default_cache_dir()
    path = root / "profiles" / f"{key}.json"
    if path.exists():
        try:
            cached = _from_dict(json.loads(path.read_text()))
            return dataclasses.replace(cached, profile_seconds=0.0)
        except (ValueError, KeyError, TypeError):
            logger.warning("Ignoring an unreadable data profile %s; profiling again.", path)
    began = time.perf_counter()
    if raw is None:
        raw, data_fp = load_raw(cfg, source)
    whole = dataclasses.replace(cfg, max_train_samples=None, max_eval_samples=None)
    search = stage_splits(raw, whole, "search").splits
    train, validation = search["train"], search["validation"]
    # The final stage trains on exactly these two (the search's split of train); its test
    # split is the one carved (or given) before them.
    _, test, _ = carve_test(raw, whole)
    start = time.perf_counter()
    lengths = {
        "train": _lengths(train, tokenizer, cfg.split_seed),
        "validation": _lengths(validation, tokenizer, cfg.split_seed),
    }
    n_tokenized = sum(len(v) for v in lengths.values())
    seconds = (time.perf_counter() - start) / max(1, n_tokenized)
    sample = _sample(train, cfg.split_seed)
    tfidf_total, tfidf_vectorize = _time_tfidf(sample, (1, 2))
    # Single words: on long texts a far smaller vocabulary, fitted in a fraction of the time.
    unigram_total, unigram_vectorize = _time_tfidf(sample, (1, 1))
    profile = DataProfile(
        n_train=len(train),
        n_validation=len(validation),
        n_final_train=len(train) + len(validation),
        # Counted only: the planner costs scoring it, and nothing else reads the test split.
        n_test=len(test),
        labels=tuple(names_of(train)),
        class_counts=tuple(class_counts(train)),
        pairs="text_pair" in train.column_names,
        train_lengths=tuple(sorted(lengths["train"])),
        length_percentiles={
            split: {f"p{q}": int(np.percentile(v, q)) for q in PERCENTILES} | {"max": max(v)}
            for split, v in lengths.items()
        },
        mean_chars=float(np.mean([len(t) for t in sample["text"]])) if len(sample) else 0.0,
        tokenize_seconds_per_example=seconds,
        tfidf_seconds_per_example=tfidf_total,
        tfidf_vectorize_seconds_per_example=tfidf_vectorize,
        tfidf_unigram_seconds_per_example=unigram_total,
        tfidf_unigram_vectorize_seconds_per_example=unigram_vectorize,
    )
    profile = dataclasses.replace(profile, profile_seconds=time.perf_counter() - began)
    write_atomically(path, json.dumps({**dataclasses.asdict(profile)}) + "\n")
    return profile


def _sample(ds: Dataset, seed: int) -> Dataset:
    if len(ds) <= LENGTH_SAMPLE:
        return ds
    return ds.shuffle(seed=seed).select(range(LENGTH_SAMPLE))


def _lengths(ds: Dataset, tokenizer: PreTrainedTokenizerBase, seed: int) -> list[int]:
    """Untruncated token lengths of a seeded sample of ``ds``."""
    sample = _sample(ds, seed)
    second = list(sample["text_pair"]) if "text_pair" in sample.column_names else None
    # Lengths past the model's limit are what a cut would drop: the warning about them is noise.
    tokenizer_log = logging.getLogger("transformers.tokenization_utils_base")
    level = tokenizer_log.level
    tokenizer_log.setLevel(logging.ERROR)
    try:
        encoded = tokenizer(list(sample["text"]), second, truncation=False)
    finally:
        tokenizer_log.setLevel(level)
    return [len(ids) for ids in encoded["input_ids"]]


def _time_tfidf(sample: Dataset, ngram_range: tuple[int, int]) -> tuple[float, float]:
    """Seconds per example of the classical baseline's fit on the sample (word n-grams of
    ``ngram_range``, logistic regression), and of its vectorizer alone: the tuning grid repeats
    them unequally."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    labels = np.asarray(sample["label"])
    if len(sample) < 2 or len(set(labels.tolist())) < 2:
        return 0.0, 0.0
    start = time.perf_counter()
    vectorizer = TfidfVectorizer(
        ngram_range=ngram_range, min_df=TFIDF_MIN_DF, max_df=TFIDF_MAX_DF, sublinear_tf=True
    )
    try:
        features = vectorizer.fit_transform(list(sample["text"]))
    except ValueError:  # no term in two documents: nothing to fit on a sample this small
        return 0.0, 0.0
    vectorized = time.perf_counter()
    LogisticRegression(C=4.0, max_iter=2000).fit(features, labels)
    end = time.perf_counter()
    return (end - start) / len(sample), (vectorized - start) / len(sample)


def _from_dict(data: dict[str, Any]) -> DataProfile:
    data = dict(data)
    for key in ("labels", "class_counts", "train_lengths"):
        data[key] = tuple(data[key])
    return DataProfile(**data)
