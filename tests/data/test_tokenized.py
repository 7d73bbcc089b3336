"""Tokenized splits: cached across runs, pairs as pairs, truncation in the cache key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tiny import (
    build_tokenizer,
    synthetic_pairs,
    synthetic_reviews,
    write_jsonl,
)

from hpo.config.schema import DataSection, ModelSection
from hpo.data.sources import load_raw
from hpo.data.tokenized import prepare, tokenize
from hpo.train.model import load_tokenizer


def test_pairs_are_tokenized_as_pairs_and_both_sides_survive_truncation(tmp_path: Path) -> None:
    tokenizer = build_tokenizer(tmp_path / "tok")
    rows = synthetic_pairs(20, seed=0)
    rows[0]["sentence1"] = " ".join(["movie"] * 200)
    write_jsonl(rows, tmp_path / "data" / "train.jsonl")
    cfg = DataSection(
        path=str(tmp_path / "data"), text_column="sentence1", text_pair_column="sentence2"
    )
    raw, _ = load_raw(cfg)
    assert sorted(raw["train"].column_names) == ["label", "text", "text_pair"]
    assert raw["train"].features["label"].names == ["different", "same"]
    ids = tokenize(raw["train"], tokenizer, max_length=32)
    first = ids[0]
    assert len(first["input_ids"]) == 32
    assert first["input_ids"].count(tokenizer.sep_token_id) == 2, "two segments"
    assert 1 in first["token_type_ids"], "the second text is segment 1"
    second_side = [t for t, s in zip(first["input_ids"], first["token_type_ids"], strict=True) if s]
    assert len(second_side) > 2, "the long first text did not squeeze out the second"


def _cfg(path: Path, **kw: object) -> DataSection:
    return DataSection(path=str(path), **kw)  # type: ignore[arg-type]


def test_tokenization_is_cached_across_runs(
    tiny_models: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    write_jsonl(synthetic_reviews(120, seed=5), data / "train.jsonl")
    cfg = _cfg(data, max_length=16, cache_dir=str(tmp_path / "cache"))
    tokenizer = load_tokenizer(ModelSection(name=str(tiny_models["bert"])))
    first = prepare(cfg, tokenizer)
    assert not first.cache_hit
    assert max(first.splits["train"]["length"]) <= 16
    assert "attention_mask" in first.splits["train"].column_names

    # A second run must not tokenize (nor even read the raw data) again.
    import hpo.data.tokenized

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("tokenized again")

    monkeypatch.setattr(hpo.data.tokenized, "tokenize", fail)
    monkeypatch.setattr(hpo.data.tokenized, "load_raw", fail)
    second = prepare(cfg, tokenizer)
    assert second.cache_hit and second.cache_key == first.cache_key
    assert second.splits["train"]["input_ids"] == first.splits["train"]["input_ids"]

    # Another max_length, or changed data, is another cache entry.
    monkeypatch.undo()
    assert not prepare(DataSection(**{**cfg.__dict__, "max_length": 20}), tokenizer).cache_hit
    write_jsonl(synthetic_reviews(120, seed=6), data / "train.jsonl")
    changed = prepare(cfg, tokenizer)
    assert not changed.cache_hit and changed.data_fingerprint != first.data_fingerprint


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return build_tokenizer(tmp_path_factory.mktemp("tok"))


def test_truncation_is_part_of_the_cache_key_and_the_identity(
    tokenizer: Any, tmp_path: Path
) -> None:
    write_jsonl(synthetic_reviews(60, seed=1), tmp_path / "data" / "train.jsonl")
    common = {"path": str(tmp_path / "data"), "max_length": 16, "cache_dir": str(tmp_path / "c")}
    head = prepare(DataSection(**common), tokenizer)
    both = prepare(DataSection(**common, truncation="head+tail", head_fraction=0.5), tokenizer)
    assert head.cache_key != both.cache_key
    assert head.identity["data.truncation"] == "head"
    assert both.identity["data.truncation"] == "head+tail (50% head)"
    assert head.splits["train"]["label"] == both.splits["train"]["label"]
