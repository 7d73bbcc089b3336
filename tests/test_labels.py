"""Any label set, the splits of a data set with or without its own validation and test files,
text pairs, and the metrics a study can maximize."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from tiny import build_tokenizer, synthetic_pairs, synthetic_topics, write_table

from hpo.config import DataSection, HpoConfig, ModelSection, StudySection
from hpo.data import load_raw
from hpo.errors import ConfigError, DataError
from hpo.metrics import (
    Objective,
    confusion,
    metric_from_confusion,
    objective_for,
    score,
)
from hpo.prepare import tokenize
from hpo.splits import stage_splits


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_int_labels_in_numeric_order_with_names(tmp_path: Path) -> None:
    rows = [{"text": f"t{i}", "label": [10, 2, 1][i % 3]} for i in range(30)]
    _jsonl(tmp_path / "train.jsonl", rows)
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
    _jsonl(tmp_path / "train.jsonl", rows)
    raw, _ = load_raw(DataSection(path=str(tmp_path), label_names=["neg", "pos"]))
    assert raw["train"].features["label"].names == ["neg", "pos"]
    assert raw["train"]["label"] == [i % 2 for i in range(10)]


def test_validation_and_test_labels_must_be_in_train(tmp_path: Path) -> None:
    write_table(synthetic_topics(80, seed=0), tmp_path / "train.tsv")
    write_table([{"text": "x", "label": "Health"}] * 2, tmp_path / "validation.tsv")
    with pytest.raises(DataError, match=r"\(validation split\): label 'Health' \(2 examples"):
        load_raw(DataSection(path=str(tmp_path)))


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
    _jsonl(tmp_path / "train.jsonl", [*rows, {"text": "rare", "label": "zebra"}])
    cfg = DataSection(path=str(tmp_path))
    raw, _ = load_raw(cfg)
    with pytest.raises(DataError, match="class 'zebra' has 1 training example"):
        stage_splits(raw, cfg, "search")


def test_pairs_are_tokenized_as_pairs_and_both_sides_survive_truncation(tmp_path: Path) -> None:
    tokenizer = build_tokenizer(tmp_path / "tok")
    rows = synthetic_pairs(20, seed=0)
    rows[0]["sentence1"] = " ".join(["movie"] * 200)
    _jsonl(tmp_path / "data" / "train.jsonl", rows)
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


@pytest.mark.parametrize("metric", ["accuracy", "macro_f1", "weighted_f1", "mcc", "f1"])
def test_numpy_metrics_agree_with_the_evaluate_modules(metric: str) -> None:
    rng = np.random.default_rng(0)
    k = 2 if metric == "f1" else 4
    labels = rng.integers(0, k, 300)
    predictions = np.where(rng.random(300) < 0.7, labels, rng.integers(0, k, 300))
    predictions[predictions == k - 1] = 0  # a class never predicted scores F1 0
    objective = Objective(metric, k, positive=0 if metric == "f1" else None)
    via_numpy = metric_from_confusion(confusion(predictions, labels, k)[None], objective)[0]
    assert via_numpy == pytest.approx(objective.compute(predictions, labels), abs=1e-12)


def test_score_reports_the_metric_with_its_interval_and_per_class() -> None:
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 2] * 20)
    predictions = np.array([0, 0, 1, 1, 1, 2, 2, 2, 0, 2] * 20)
    result = score(predictions, labels, ["a", "b", "c"], Objective("macro_f1", 3))
    assert result["metric"] == "macro_f1"
    low, high = result["metric_ci95"]
    assert low < result["metric_value"] < high
    assert result["per_class"]["b"] == {
        "precision": pytest.approx(2 / 3, abs=1e-6),
        "recall": 1.0,
        "f1": 0.8,
        "support": 40,
    }
    assert result["confusion_matrix"]["rows_true_cols_pred"][0] == [40, 20, 0]


def _config(metric: str, positive: str | None = None) -> HpoConfig:
    return HpoConfig(
        study=StudySection(name="s", metric=metric),
        model=ModelSection(name="m"),
        data=DataSection(path="d", positive_label=positive),
    )


def test_objective_for_checks_the_metric_against_the_classes() -> None:
    assert objective_for(_config("f1"), ["neg", "pos"]).positive == 1
    assert objective_for(_config("f1", "neg"), ["neg", "pos"]).positive == 0
    with pytest.raises(ConfigError, match="positive_label: 'maybe' is not a class"):
        objective_for(_config("f1", "maybe"), ["neg", "pos"])
    with pytest.raises(ConfigError, match="this data has 3"):
        objective_for(_config("f1"), ["a", "b", "c"])
    assert objective_for(_config("mcc"), ["a", "b", "c"]).title == "Matthews correlation"
