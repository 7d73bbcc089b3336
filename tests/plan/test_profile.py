"""The data's profile: sizes, classes, untruncated token lengths; the test split only counted."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from tiny import synthetic_pairs, write_jsonl

from hpo.api import load_config
from hpo.plan import profile as profile_module
from hpo.plan.profile import profile_data
from hpo.train.model import load_tokenizer


def test_profile_counts_and_lengths(make_config, tmp_path: Path, monkeypatch) -> None:
    config = load_config(make_config(), check_training=False)
    tokenizer = load_tokenizer(config.model)
    made = profile_data(config.data, tokenizer)
    # 600 training reviews: 20% validation carved; 200 test reviews counted, never tokenized.
    assert (made.n_train, made.n_validation, made.n_final_train, made.n_test) == (
        480,
        120,
        600,
        200,
    )
    assert made.labels == ("neg", "pos") and sum(made.class_counts) == 480
    assert not made.pairs
    assert len(made.train_lengths) == 480
    assert made.train_lengths == tuple(sorted(made.train_lengths))
    train = made.length_percentiles["train"]
    assert train["p50"] <= train["p90"] <= train["p99"] <= train["max"]
    assert made.percentile(50) == train["p50"]
    assert 0.0 <= made.share_cut(8) <= 1.0 and made.share_cut(10**6) == 0.0
    assert made.tfidf_seconds_per_example > 0 and made.tfidf_unigram_seconds_per_example > 0
    json.dumps(made.to_dict())

    # The second profile of the same data is read from the cache: nothing is tokenized.
    def refuse(*args, **kwargs):
        raise AssertionError("profiled again")

    monkeypatch.setattr(profile_module, "_lengths", refuse)
    again = profile_data(config.data, tokenizer)
    assert made.profile_seconds > 0 and again.profile_seconds == 0.0  # this job spent nothing
    assert dataclasses.replace(again, profile_seconds=made.profile_seconds) == made


def test_pairs_are_profiled_as_pairs(make_config, tmp_path: Path) -> None:
    data = tmp_path / "pairs"
    write_jsonl(synthetic_pairs(300, seed=1), data / "train.jsonl")
    config = load_config(
        make_config(
            {
                "data": {
                    "path": str(data),
                    "text_column": "sentence1",
                    "text_pair_column": "sentence2",
                    "label_names": None,
                }
            }
        ),
        check_training=False,
    )
    made = profile_data(config.data, load_tokenizer(config.model))
    assert made.pairs
    assert made.n_test == round(300 * config.data.test_fraction)
