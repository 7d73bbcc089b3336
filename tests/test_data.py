"""Loading, label checks, the stratified split, and the tokenization cache."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from tiny import synthetic_reviews, write_jsonl

from hpo.config import DataSection, ModelSection
from hpo.data import load_raw
from hpo.errors import DataError
from hpo.model import load_tokenizer
from hpo.prepare import prepare
from hpo.splits import split_train


def _cfg(path: Path, **kw: object) -> DataSection:
    return DataSection(path=str(path), **kw)  # type: ignore[arg-type]


def test_split_is_seeded_and_stratified(tiny_data: Path) -> None:
    cfg = _cfg(tiny_data, validation_fraction=0.25, split_seed=3)
    train = load_raw(cfg)[0]["train"]
    a_train, a_val = split_train(train, cfg)
    _, b_val = split_train(train, cfg)
    assert a_val["text"] == b_val["text"], "same seed, same split"
    assert len(a_val) == 150 and len(a_train) == 450
    assert Counter(a_val["label"]) == {0: 75, 1: 75}, "stratified"
    assert not set(a_val["text"]) & set(a_train["text"]) - _duplicates(train["text"])
    other_val = split_train(train, _cfg(tiny_data, validation_fraction=0.25, split_seed=4))[1]
    assert other_val["text"] != a_val["text"], "another seed, another split"


def _duplicates(texts: list[str]) -> set[str]:
    return {t for t, n in Counter(texts).items() if n > 1}


def test_caps_are_stratified_subsets(tiny_data: Path) -> None:
    cfg = _cfg(tiny_data, max_train_samples=100, max_eval_samples=40)
    train, val = split_train(load_raw(cfg)[0]["train"], cfg)
    assert len(train) == 100 and Counter(train["label"]) == {0: 50, 1: 50}
    assert len(val) == 40 and Counter(val["label"]) == {0: 20, 1: 20}


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_string_labels_are_mapped(tmp_path: Path, fmt: str) -> None:
    rows = [
        {"review": r["text"], "sentiment": ["neg", "pos"][r["label"]]}
        for r in synthetic_reviews(40, seed=0)
    ]
    frame = pd.DataFrame(rows)
    if fmt == "parquet":
        frame.to_parquet(tmp_path / "train.parquet")
    elif fmt == "csv":
        frame.to_csv(tmp_path / "train.csv", index=False)
    else:
        (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    raw, fingerprint = load_raw(_cfg(tmp_path, text_column="review", label_column="sentiment"))
    assert raw["train"].column_names == ["text", "label"]
    assert raw["train"].features["label"].names == ["neg", "pos"]
    expected = [["neg", "pos"].index(r["sentiment"]) for r in rows]
    assert raw["train"]["label"] == expected
    assert len(fingerprint) == 16


def test_aclimdb_tree(tmp_path: Path) -> None:
    for split in ("train", "test"):
        for label, word in (("neg", "awful"), ("pos", "great")):
            folder = tmp_path / "aclImdb" / split / label
            folder.mkdir(parents=True)
            for i in range(3):
                (folder / f"{i}_{1 if label == 'neg' else 9}.txt").write_text(f"{word} film {i}")
    raw, _ = load_raw(_cfg(tmp_path))
    assert len(raw["train"]) == 6 and len(raw["test"]) == 6
    assert raw["train"]["label"] == [0, 0, 0, 1, 1, 1]
    assert raw["train"]["text"][3] == "great film 0"


@pytest.mark.parametrize(
    ("rows", "kwargs", "expected"),
    [
        (
            [{"text": "good", "label": 1}, {"text": "  ", "label": 0}],
            {},
            "1 empty or missing texts",
        ),
        ([{"body": "good", "label": 1}], {}, "no column 'text'"),
        ([{"text": "good", "y": 1}], {}, "no column 'label'"),
        (
            [{"text": "good", "label": 1}, {"text": "meh", "label": 1}],
            {},
            "every example has the label '1'; a classifier needs at least two classes",
        ),
        (
            [{"text": "good", "label": 1}, {"text": "meh", "label": "neg"}],
            {},
            r"mixes numbers \[1\] and names \['neg'\]",
        ),
        (
            [{"text": "good", "label": 1}, {"text": "meh", "label": 0.5}],
            {},
            "row 1: label 0.5 is not a class id",
        ),
        (
            [{"text": "good", "label": 1}, {"text": "meh", "label": None}],
            {},
            "row 1 has no label",
        ),
        (
            [{"text": "good", "label": 1}, {"text": "meh", "label": 2}],
            {"label_names": ["neg", "pos"]},
            r"label 2 has no name in data.label_names \['neg', 'pos'\]",
        ),
        (
            [{"text": "a", "label": "x"}, {"text": "b", "label": "y"}],
            {"text_pair_column": "hypothesis"},
            "no column 'hypothesis'.*Set data.text_pair_column",
        ),
    ],
)
def test_bad_data_is_rejected(
    tmp_path: Path, rows: list[dict], kwargs: dict, expected: str
) -> None:
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataError, match=expected):
        load_raw(_cfg(tmp_path, **kwargs))


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_raw(_cfg(tmp_path / "nope"))
    with pytest.raises(DataError, match="no training data"):
        load_raw(_cfg(tmp_path))


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
    import hpo.prepare

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("tokenized again")

    monkeypatch.setattr(hpo.prepare, "tokenize", fail)
    monkeypatch.setattr(hpo.prepare, "load_raw", fail)
    second = prepare(cfg, tokenizer)
    assert second.cache_hit and second.cache_key == first.cache_key
    assert second.splits["train"]["input_ids"] == first.splits["train"]["input_ids"]

    # Another max_length, or changed data, is another cache entry.
    monkeypatch.undo()
    assert not prepare(DataSection(**{**cfg.__dict__, "max_length": 20}), tokenizer).cache_hit
    write_jsonl(synthetic_reviews(120, seed=6), data / "train.jsonl")
    changed = prepare(cfg, tokenizer)
    assert not changed.cache_hit and changed.data_fingerprint != first.data_fingerprint
