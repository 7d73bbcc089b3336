"""The TF-IDF model as plain data: the same probabilities as scikit-learn's fitted model, saved
and loaded without unpickling, and a damaged folder is a one-line error naming the file."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from datasets import ClassLabel, Dataset, Features, Value

from hpo.config.reference import tfidf_grid
from hpo.errors import ModelError
from hpo.final.classical import RECORD, VOCABULARY, WEIGHTS, TfidfModel, _Fitted, fit, tune
from hpo.train.objective import Objective

WORDS = {
    0: "dull boring awful slow mess bad",
    1: "great moving superb fine lovely good",
    2: "odd strange weird curious unusual rare",
}


def _split(n: int, classes: int, seed: int, *, pairs: bool = False) -> Dataset:
    rng = np.random.default_rng(seed)
    rows: dict[str, list] = {"text": [], "label": []}
    if pairs:
        rows["text_pair"] = []
    for i in range(n):
        label = i % classes
        words = [*WORDS[label].split(), "the", "a", "film", "plot", "story", "it"]
        rows["text"].append(" ".join(rng.choice(words, size=8)))
        if pairs:
            rows["text_pair"].append(" ".join(rng.choice(words, size=5)))
        rows["label"].append(label)
    columns = {
        "text": Value("string"),
        "label": ClassLabel(names=[f"c{k}" for k in range(classes)]),
    }
    if pairs:
        columns["text_pair"] = Value("string")
    return Dataset.from_dict(rows, features=Features(columns))


@pytest.mark.parametrize(("classes", "pairs"), [(2, False), (3, False), (2, True)])
def test_probabilities_are_scikit_learns(classes: int, pairs: bool) -> None:
    train = _split(120, classes, 0, pairs=pairs)
    texts = _split(30, classes, 1, pairs=pairs)
    fitted = _Fitted(train, (1, 2))
    regression = fitted.regression(4.0)
    model = fitted.model(regression, [f"c{k}" for k in range(classes)])
    from scipy.sparse import hstack

    sides = ["text", "text_pair"] if pairs else ["text"]
    expected_features = hstack(
        [v.transform(texts[s]) for v, s in zip(fitted.vectorizers, sides, strict=True)]
    ).tocsr()
    ours = model.probabilities([texts[s] for s in sides])
    np.testing.assert_allclose(ours, regression.predict_proba(expected_features), atol=1e-10)
    assert ours.shape == (30, classes)


def test_saved_folder_loads_without_pickle(tmp_path: Path, monkeypatch) -> None:
    train = _split(90, 3, 0)
    model = fit(train, ["c0", "c1", "c2"], ngram_range=(1, 2), c=4.0)
    model.save(tmp_path)
    texts = [_split(12, 3, 5)["text"]]

    def refuse(*_args, **_kwargs):
        raise AssertionError("a model folder was unpickled")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    loaded = TfidfModel.load(tmp_path)
    np.testing.assert_allclose(loaded.probabilities(texts), model.probabilities(texts))
    assert loaded.labels == ("c0", "c1", "c2")


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("truncate_weights", f"{WEIGHTS}: does not match {RECORD}"),
        ("truncate_vocabulary", f"{VOCABULARY}: does not match {RECORD}"),
        ("no_weights", f"{WEIGHTS}: missing"),
        ("no_record", f"{RECORD}: missing"),
        ("bad_record", f"{RECORD}: not a valid record"),
        ("other_format", f"{RECORD}: format 99, this hpo reads format 1"),
        ("other_classes", f"{WEIGHTS}: arrays of shape (3, "),
    ],
)
def test_damaged_folder_is_one_line_error(tmp_path: Path, damage: str, expected: str) -> None:
    fit(_split(90, 3, 0), ["c0", "c1", "c2"], ngram_range=(1, 1), c=1.0).save(tmp_path)
    record = json.loads((tmp_path / RECORD).read_text())
    if damage.startswith("truncate_"):
        path = tmp_path / (WEIGHTS if damage.endswith("weights") else VOCABULARY)
        path.write_bytes(path.read_bytes()[:50])
    elif damage == "no_weights":
        (tmp_path / WEIGHTS).unlink()
    elif damage == "no_record":
        (tmp_path / RECORD).unlink()
    elif damage == "bad_record":
        (tmp_path / RECORD).write_text("{oops")
    elif damage == "other_format":
        (tmp_path / RECORD).write_text(json.dumps({**record, "format": 99}))
    else:  # a record of four classes beside weights of three
        (tmp_path / RECORD).write_text(json.dumps({**record, "labels": ["a", "b", "c", "d"]}))
    with pytest.raises(ModelError, match=expected.replace("(", r"\(")) as info:
        TfidfModel.load(tmp_path)
    assert "\n" not in str(info.value) and str(tmp_path) in str(info.value)


def test_tune_picks_the_best_on_validation() -> None:
    train, validation = _split(150, 3, 0), _split(60, 3, 1)
    tuned = tune(train, validation, ["c0", "c1", "c2"], Objective("accuracy", 3))
    best = max(row["validation"] for row in tuned.grid)
    assert tuned.validation == best
    chosen = next(row for row in tuned.grid if row["validation"] == best)  # first of equals
    assert [tuned.model.c, list(tuned.model.ngram_range)] == [chosen["C"], chosen["ngram_range"]]
    truth = np.asarray(validation["label"])
    assert (tuned.validation_probabilities.argmax(1) == truth).mean() == pytest.approx(best)


def test_tune_tries_only_the_settings_a_budget_holds() -> None:
    train, validation = _split(150, 3, 0), _split(60, 3, 1)
    for settings in (1, 3, 6):
        tuned = tune(
            train, validation, ["c0", "c1", "c2"], Objective("accuracy", 3), settings=settings
        )
        tried = [(tuple(row["ngram_range"]), row["C"]) for row in tuned.grid]
        assert tried == tfidf_grid(settings)
        assert (tuple(tuned.model.ngram_range), tuned.model.c) in tried


def test_two_classes_fitted_of_three_score_the_third_at_nothing() -> None:
    # A class absent from train leaves scikit-learn two: one row of odds, not one a class.
    two = _split(90, 3, 1).filter(lambda row: row["label"] != 2)
    model = fit(two, ["c0", "c1", "c2"], ngram_range=(1, 1), c=4.0)
    assert model.coef.shape[0] == 3 and model.intercept[2] == -1e3
    texts = _split(30, 3, 2)
    probabilities = model.probabilities([texts["text"]])
    assert probabilities.shape == (30, 3) and probabilities[:, 2].max() < 1e-9
    truth = np.asarray(texts["label"])
    seen = truth != 2
    assert (probabilities.argmax(1)[seen] == truth[seen]).mean() > 0.8
