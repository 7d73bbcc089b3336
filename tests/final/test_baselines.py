"""The baselines on the same test split: TF-IDF, and zero-shot when the head's names match."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tiny import build_model

from hpo.api import load_config
from hpo.config.reference import tfidf_grid
from hpo.final.baselines import classical, head_mapping, run_baselines, zero_shot
from hpo.final.choice import PROBABILITIES, load_probabilities
from hpo.final.classical import TfidfModel

pytestmark = pytest.mark.slow


def test_baselines(make_config, tmp_path: Path) -> None:
    config = load_config(make_config())
    result = classical(config.data, config.study.metric, tmp_path / "classical")
    assert result["accuracy"] > 0.8 and result["n"] == 200
    # Its settings were chosen on validation, among the whole grid.
    assert len(result["grid"]) == len(tfidf_grid()) == 8
    assert result["validation"] == max(row["validation"] for row in result["grid"])
    # The model it scored is the one saved as plain data.
    saved = TfidfModel.load(tmp_path / "classical" / "model")
    assert [saved.c, list(saved.ngram_range)] == [result["C"], result["ngram_range"]]
    _val, test = load_probabilities(tmp_path / "classical" / PROBABILITIES)
    assert test.argmax(1).tolist() == result["predictions"]
    assert (
        zero_shot(config.trainer_setup, config.data)["applicable"] is False
    )  # a random head named LABEL_0/LABEL_1

    # A sentiment head is used zero-shot, its labels mapped by name, not by id.
    folder = build_model(tmp_path / "sst", "bert")
    cfg = json.loads((folder / "config.json").read_text())
    cfg["id2label"] = {"0": "POSITIVE", "1": "NEGATIVE"}
    cfg["label2id"] = {"POSITIVE": 0, "NEGATIVE": 1}
    (folder / "config.json").write_text(json.dumps(cfg))
    headed = load_config(make_config({"model": {"name": str(folder)}}, name="sst.yaml"))
    result = zero_shot(headed.trainer_setup, headed.data)
    assert result["applicable"] is True
    assert result["label_map"] == {"POSITIVE": 1, "NEGATIVE": 0}
    assert result["n"] == 200


def test_a_budgets_part_of_the_grid_is_a_result_of_its_own(make_config) -> None:
    config = load_config(make_config())
    part = run_baselines(config.trainer_setup, config.data, tfidf_settings=2)
    tried = [(tuple(row["ngram_range"]), row["C"]) for row in part["classical"]["grid"]]
    assert tried == tfidf_grid(2)
    # Asked for the whole grid, the part's result is not reused: the whole grid is fitted.
    whole = run_baselines(config.trainer_setup, config.data)
    assert len(whole["classical"]["grid"]) == len(tfidf_grid())
    assert run_baselines(config.trainer_setup, config.data, tfidf_settings=8) == whole


@pytest.mark.parametrize(
    ("id2label", "expected"),
    [
        ({0: "NEGATIVE", 1: "POSITIVE"}, {0: 0, 1: 1}),
        ({0: "positive", 1: "negative"}, {0: 1, 1: 0}),
        ({0: "LABEL_0", 1: "LABEL_1"}, None),
        ({0: "neg", 1: "neutral", 2: "pos"}, None),
    ],
)
def test_head_mapping_by_names(id2label: dict[int, str], expected: dict[int, int] | None) -> None:
    assert head_mapping(id2label, ["neg", "pos"]) == expected


def test_head_mapping_for_many_classes() -> None:
    topics = ["Business", "Sci/Tech", "Sports", "World"]
    head = {0: "World", 1: "Sports", 2: "Business", 3: "Sci/Tech"}
    assert head_mapping(head, topics) == {0: 3, 1: 2, 2: 0, 3: 1}
    assert head_mapping({0: "LABEL_0", 1: "LABEL_1"}, ["0", "1"]) is None
    assert head_mapping(dict(enumerate(topics[:3])), topics) is None
