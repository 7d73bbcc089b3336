"""A stage's splits: seeded and stratified, the data's own or carved, test first; the caps."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from tiny import (
    synthetic_topics,
    write_jsonl,
    write_table,
)

from hpo.config.schema import DataSection
from hpo.data.sources import load_raw
from hpo.data.splits import final_splits, split_train, stage_splits
from hpo.errors import DataError


def test_given_splits_are_used_as_they_are(tmp_path: Path) -> None:
    write_table(synthetic_topics(400, seed=1), tmp_path / "train.csv")
    write_table(synthetic_topics(40, seed=2), tmp_path / "validation.csv")
    write_table(synthetic_topics(60, seed=3), tmp_path / "test.csv")
    cfg = DataSection(path=str(tmp_path))
    raw, _ = load_raw(cfg)
    search = stage_splits(raw, cfg, "search")
    assert not search.test_carved and search.validation_given
    assert search.splits["validation"]["text"] == raw["validation"]["text"]
    assert len(search.splits["train"]) == 400
    final = stage_splits(raw, cfg, "final")
    assert len(final.splits["train"]) == 440, "the final model trains on train + validation"
    assert final.splits["test"]["text"] == raw["test"]["text"]


def test_without_a_test_split_one_is_carved_first(tmp_path: Path) -> None:
    write_table(synthetic_topics(500, seed=4), tmp_path / "train.csv")
    cfg = DataSection(path=str(tmp_path), test_fraction=0.2, validation_fraction=0.25)
    raw, _ = load_raw(cfg)
    search = stage_splits(raw, cfg, "search")
    final = stage_splits(raw, cfg, "final")
    assert search.test_carved and final.test_carved
    test = final.splits["test"]
    assert len(test) == 100
    shares = Counter(test["label"])
    assert shares == Counter({3: 30, 2: 30, 0: 25, 1: 15}), "stratified by class"
    rows = lambda ds: set(zip(ds["text"], ds["label"], strict=True))  # noqa: E731
    seen = rows(search.splits["train"]) | rows(search.splits["validation"])
    assert not rows(test) & seen, "the search never sees a test example"
    assert len(search.splits["validation"]) == 100 and len(search.splits["train"]) == 300
    assert stage_splits(raw, cfg, "final").splits["test"]["text"] == test["text"], "seeded"


def test_a_class_too_small_to_carve_is_named(tmp_path: Path) -> None:
    rows = [{"text": f"t{i}", "label": "a" if i % 2 else "b"} for i in range(20)]
    write_jsonl([*rows, {"text": "rare", "label": "zebra"}], tmp_path / "train.jsonl")
    cfg = DataSection(path=str(tmp_path))
    raw, _ = load_raw(cfg)
    with pytest.raises(DataError, match="class 'zebra' has 1 training example"):
        stage_splits(raw, cfg, "search")


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


def test_drop_test_overlap(tmp_path: Path) -> None:
    rows = [{"text": f"review {i}", "label": i % 2} for i in range(20)]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    test = [*rows[:3], rows[0], {"text": "only in test", "label": 1}]
    (tmp_path / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in test))
    kept = final_splits(DataSection(path=str(tmp_path))).splits
    assert len(kept["train"]) == 20
    dropped = final_splits(DataSection(path=str(tmp_path), drop_test_overlap=True)).splits
    assert len(dropped["train"]) == 17
    assert not {"review 0", "review 1", "review 2"} & set(dropped["train"]["text"])
