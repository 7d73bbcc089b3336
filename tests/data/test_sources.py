"""Locating and loading raw data: file formats, string labels, aclImdb trees, bad data."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from tiny import synthetic_reviews

from hpo.config.schema import DataSection
from hpo.data.sources import load_raw
from hpo.errors import DataError


def _cfg(path: Path, **kw: object) -> DataSection:
    return DataSection(path=str(path), **kw)  # type: ignore[arg-type]


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
