"""Label sets: int labels in numeric order with names, string labels sorted, mixed columns."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny import synthetic_topics, write_jsonl, write_table

from hpo.config.schema import DataSection
from hpo.data.labels import MANY_CLASSES, class_summary
from hpo.data.sources import load_raw
from hpo.errors import DataError


def test_int_labels_in_numeric_order_with_names(tmp_path: Path) -> None:
    rows = [{"text": f"t{i}", "label": [10, 2, 1][i % 3]} for i in range(30)]
    write_jsonl(rows, tmp_path / "train.jsonl")
    raw, _ = load_raw(DataSection(path=str(tmp_path)))
    names = raw["train"].features["label"].names
    assert names == ["1", "2", "10"], "numeric order, not string order"
    assert raw["train"]["label"][:3] == [2, 1, 0]
    named = load_raw(DataSection(path=str(tmp_path), label_names=[f"c{i}" for i in range(11)]))
    assert named[0]["train"].features["label"].names == ["c1", "c2", "c10"]


def test_string_labels_sorted_and_label_names_ignored(tmp_path: Path) -> None:
    write_table(synthetic_topics(80, seed=0), tmp_path / "train.csv")
    for names in (None, ["neg", "pos"]):  # the IMDb configs' label_names do not get in the way
        raw, _ = load_raw(DataSection(path=str(tmp_path), label_names=names))
        assert raw["train"].features["label"].names == ["Business", "Sci/Tech", "Sports", "World"]


def test_a_mixed_column_maps_through_label_names(tmp_path: Path) -> None:
    rows = [{"text": f"t{i}", "label": [0, "pos"][i % 2]} for i in range(10)]
    write_jsonl(rows, tmp_path / "train.jsonl")
    raw, _ = load_raw(DataSection(path=str(tmp_path), label_names=["neg", "pos"]))
    assert raw["train"].features["label"].names == ["neg", "pos"]
    assert raw["train"]["label"] == [i % 2 for i in range(10)]


def test_validation_and_test_labels_must_be_in_train(tmp_path: Path) -> None:
    write_table(synthetic_topics(80, seed=0), tmp_path / "train.tsv")
    write_table([{"text": "x", "label": "Health"}] * 2, tmp_path / "validation.tsv")
    with pytest.raises(DataError, match=r"\(validation split\): label 'Health' \(2 examples"):
        load_raw(DataSection(path=str(tmp_path)))


def test_many_classes_are_counted_not_listed() -> None:
    assert class_summary(["neg", "pos"]) == "neg, pos"
    names = [f"c{i}" for i in range(MANY_CLASSES + 1)]
    assert class_summary(names) == f"{MANY_CLASSES + 1} classes: c0, c1, c2, ..."
