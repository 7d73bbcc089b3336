"""The classical model: TF-IDF features and logistic regression, its settings chosen on
validation, saved as plain data.

scikit-learn fits it; the fitted model is then kept as what it is made of: each side's
vocabulary (JSON), its idf weights and the regression's coefficients (an ``.npz`` read with
``allow_pickle=False``), and a record that names them with their SHA-256. Scoring reads those
files and computes the features itself, so opening a model folder from someone else never
unpickles anything, and the probabilities that chose the model on validation are computed the
same way as the ones it serves.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hpo.config.reference import TFIDF_MAX_DF, TFIDF_MIN_DF, tfidf_grid
from hpo.errors import ModelError
from hpo.final.scoring import metric_of
from hpo.runs import sha256_of, write_atomically

if TYPE_CHECKING:
    from datasets import Dataset
    from scipy.sparse import csr_matrix

    from hpo.train.objective import Objective

logger = logging.getLogger(__name__)

#: Vectorizer settings that are not searched (:data:`~hpo.config.reference.TFIDF_MIN_DF`,
#: ``TFIDF_MAX_DF``), with sublinear term frequency (long texts do not drown short ones).
MIN_DF, MAX_DF = TFIDF_MIN_DF, TFIDF_MAX_DF

#: The record's file inside a classical model's folder, and the files it names.
RECORD = "classical.json"
VOCABULARY = "vocabulary.json"
WEIGHTS = "weights.npz"
#: Bump when the files' layout changes; a reader refuses a format it does not know.
FORMAT = 1
#: Columns a text pair is read from, one vectorizer each (the model sees which side a word is on).
SIDES = ("text", "text_pair")


@dataclass(frozen=True)
class TfidfModel:
    """A fitted TF-IDF + logistic regression classifier, as plain arrays."""

    #: The columns it reads: ``("text",)``, or ``("text", "text_pair")`` for pairs.
    sides: tuple[str, ...]
    ngram_range: tuple[int, int]
    c: float
    #: Per side, its terms in feature order.
    vocabularies: tuple[tuple[str, ...], ...]
    #: Per side, the idf of each term.
    idfs: tuple[np.ndarray, ...]
    #: (1 or classes, features) and (1 or classes,): one row for two classes, as scikit-learn's.
    coef: np.ndarray
    intercept: np.ndarray
    #: Class names by id.
    labels: tuple[str, ...]

    def features(self, columns: Sequence[Sequence[str]]) -> csr_matrix:
        """The TF-IDF rows of texts (one sequence per side): counts of the vocabulary's terms,
        1 + log of each count, times idf, each row scaled to unit length."""
        from scipy.sparse import diags, hstack
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.preprocessing import normalize

        parts = []
        for texts, terms, idf in zip(columns, self.vocabularies, self.idfs, strict=True):
            counter = CountVectorizer(
                ngram_range=self.ngram_range,
                vocabulary={t: i for i, t in enumerate(terms)},
                dtype=np.float64,
            )
            counts = counter.transform(list(texts)).tocsr()
            np.log(counts.data, out=counts.data)
            counts.data += 1.0
            parts.append(normalize(counts @ diags(idf), norm="l2"))
        return hstack(parts).tocsr()

    def probabilities(self, columns: Sequence[Sequence[str]]) -> np.ndarray:
        """Class probabilities (texts x classes) of texts, one sequence per side."""
        return self.probabilities_of(self.features(columns))

    def probabilities_of(self, features: csr_matrix) -> np.ndarray:
        """Class probabilities of :meth:`features` rows: a sigmoid for two classes, a softmax
        for more, as scikit-learn's ``predict_proba``."""
        scores = np.asarray(features @ self.coef.T) + self.intercept
        if self.coef.shape[0] == 1:
            positive = 1.0 / (1.0 + np.exp(-scores[:, 0]))
            return np.stack([1.0 - positive, positive], axis=1)
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)

    def save(self, folder: Path) -> None:
        """The model as plain files in ``folder``: vocabularies, arrays, and the record that
        names them (written last, so a folder with a record is whole)."""
        folder.mkdir(parents=True, exist_ok=True)
        vocabulary = {
            side: list(terms) for side, terms in zip(self.sides, self.vocabularies, strict=True)
        }
        write_atomically(folder / VOCABULARY, json.dumps(vocabulary, ensure_ascii=False))
        arrays = {f"idf_{side}": idf for side, idf in zip(self.sides, self.idfs, strict=True)}
        part = folder / (WEIGHTS + ".part")
        with part.open("wb") as fh:
            np.savez(fh, coef=self.coef, intercept=self.intercept, **arrays)
        part.replace(folder / WEIGHTS)
        record = {
            "format": FORMAT,
            "model": "TF-IDF + logistic regression",
            "sides": list(self.sides),
            "ngram_range": list(self.ngram_range),
            "C": self.c,
            "labels": list(self.labels),
            "features": [len(terms) for terms in self.vocabularies],
            "sha256": {name: sha256_of(folder / name) for name in (VOCABULARY, WEIGHTS)},
        }
        write_atomically(folder / RECORD, json.dumps(record, indent=2) + "\n")

    @classmethod
    def load(cls, folder: Path) -> TfidfModel:
        """The model saved in ``folder``, checked against its record; a missing, damaged or
        mismatched file is a one-line :class:`ModelError` naming it."""
        record = _read_record(folder)
        for name, digest in record["sha256"].items():
            path = folder / name
            if not path.is_file():
                raise ModelError(f"{path}: missing. {_FIX}")
            if sha256_of(path) != digest:
                raise ModelError(f"{path}: does not match {RECORD} (its SHA-256 differs). {_FIX}")
        try:
            vocabulary = json.loads((folder / VOCABULARY).read_text(encoding="utf-8"))
            with np.load(folder / WEIGHTS, allow_pickle=False) as arrays:
                loaded = {key: arrays[key] for key in arrays.files}
            sides = tuple(record["sides"])
            model = cls(
                sides=sides,
                ngram_range=(int(record["ngram_range"][0]), int(record["ngram_range"][1])),
                c=float(record["C"]),
                vocabularies=tuple(tuple(vocabulary[side]) for side in sides),
                idfs=tuple(loaded[f"idf_{side}"] for side in sides),
                coef=loaded["coef"],
                intercept=loaded["intercept"],
                labels=tuple(record["labels"]),
            )
        except (KeyError, TypeError, IndexError, ValueError) as exc:
            raise ModelError(
                f"{folder / RECORD}: its files do not hold what it names ({exc!s:.80}). {_FIX}"
            ) from None
        features = sum(len(terms) for terms in model.vocabularies)
        rows = 1 if len(model.labels) == 2 else len(model.labels)
        if model.coef.shape != (rows, features) or any(
            len(idf) != len(terms)
            for idf, terms in zip(model.idfs, model.vocabularies, strict=True)
        ):
            raise ModelError(
                f"{folder / WEIGHTS}: arrays of shape {model.coef.shape} do not fit the "
                f"{features} terms and {len(model.labels)} classes of {RECORD}. {_FIX}"
            )
        return model


_FIX = "The model folder is damaged or incomplete; run `hpo run` (or `hpo retrain`) again."


def _read_record(folder: Path) -> dict[str, Any]:
    path = folder / RECORD
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{path}: missing. {_FIX}") from None
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: not a valid record ({exc!s:.80}). {_FIX}") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        found = record.get("format") if isinstance(record, dict) else None
        raise ModelError(
            f"{path}: format {found!r}, this hpo reads format {FORMAT}. Upgrade hpo, or run "
            "`hpo run` again to write the model."
        )
    if not isinstance(record.get("sha256"), dict):
        raise ModelError(f"{path}: names no files (no 'sha256'). {_FIX}")
    return record


def columns_of(split: Dataset) -> tuple[tuple[str, ...], list[list[str]]]:
    """The sides a split has and its texts, one list per side."""
    sides = SIDES if "text_pair" in split.column_names else SIDES[:1]
    return sides, [list(split[side]) for side in sides]


def fit(
    train: Dataset, labels: Sequence[str], *, ngram_range: tuple[int, int], c: float
) -> TfidfModel:
    """TF-IDF and logistic regression fitted on ``train`` (a split with ``text``, ``label``
    and, for pairs, ``text_pair``)."""
    fitted = _Fitted(train, ngram_range)
    return fitted.model(fitted.regression(c), labels)


class _Fitted:
    """The vectorizers of one n-gram range fitted on a split: logistic regressions of several
    strengths reuse its features."""

    def __init__(self, train: Dataset, ngram_range: tuple[int, int]) -> None:
        from scipy.sparse import hstack
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.sides, columns = columns_of(train)
        self.ngram_range = ngram_range
        self.vectorizers = [
            TfidfVectorizer(
                ngram_range=ngram_range, min_df=MIN_DF, max_df=MAX_DF, sublinear_tf=True
            )
            for _ in self.sides
        ]
        try:
            parts = [v.fit_transform(t) for v, t in zip(self.vectorizers, columns, strict=True)]
        except ValueError:  # too few texts for min_df: every term counts
            for v in self.vectorizers:
                v.set_params(min_df=1, max_df=1.0)
            parts = [v.fit_transform(t) for v, t in zip(self.vectorizers, columns, strict=True)]
        self.features = hstack(parts).tocsr()
        self.targets = np.asarray(train["label"])
        # Each side's terms in feature order: the same for every regression on these features.
        self.vocabularies = tuple(_terms(v.vocabulary_) for v in self.vectorizers)

    def regression(self, c: float) -> Any:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=c, max_iter=2000).fit(self.features, self.targets)

    def model(self, regression: Any, labels: Sequence[str]) -> TfidfModel:
        coef, intercept = regression.coef_, regression.intercept_
        if len(regression.classes_) != len(labels):  # a class absent from train: zero odds
            rows = 1 if len(labels) == 2 else len(labels)
            full_coef = np.zeros((rows, coef.shape[1]))
            full_intercept = np.full(rows, -1e3)
            if coef.shape[0] == 1 < rows:  # two classes of more fitted: the second's odds alone
                coef = np.vstack([np.zeros_like(coef), coef])
                intercept = np.concatenate([[0.0], intercept])
            for row, cls in enumerate(regression.classes_):
                full_coef[int(cls)], full_intercept[int(cls)] = coef[row], intercept[row]
            coef, intercept = full_coef, full_intercept
        return TfidfModel(
            sides=self.sides,
            ngram_range=self.ngram_range,
            c=float(regression.C),
            vocabularies=self.vocabularies,
            idfs=tuple(np.asarray(v.idf_, dtype=np.float64) for v in self.vectorizers),
            coef=np.asarray(coef, dtype=np.float64),
            intercept=np.asarray(intercept, dtype=np.float64),
            labels=tuple(labels),
        )


def _terms(vocabulary: dict[str, int]) -> tuple[str, ...]:
    """A vectorizer's terms in feature order."""
    terms = [""] * len(vocabulary)
    for term, index in vocabulary.items():
        terms[index] = term
    return tuple(terms)


@dataclass(frozen=True)
class Tuned:
    """The settings chosen on validation, the model fitted with them on train, and what every
    setting scored."""

    model: TfidfModel
    #: The model's class probabilities on validation.
    validation_probabilities: np.ndarray
    #: The chosen setting's validation figure (``objective``'s metric).
    validation: float
    #: ``{"ngram_range", "C", "validation"}`` per setting tried, in order.
    grid: list[dict[str, Any]]
    seconds: float


def tune(
    train: Dataset,
    validation: Dataset,
    labels: Sequence[str],
    objective: Objective,
    *,
    settings: int | None = None,
) -> Tuned:
    """Each n-gram range and C of the grid (:func:`~hpo.config.reference.tfidf_grid`: all of
    it, or the ``settings`` a budget holds) fitted on ``train`` and scored on ``validation`` by
    ``objective``; the best (the first of equals: fewer n-grams, stronger regularization)."""
    start = time.perf_counter()
    _, val_columns = columns_of(validation)
    truth = np.asarray(validation["label"])
    best: tuple[float, TfidfModel, np.ndarray] | None = None
    grid = []
    fitted: _Fitted | None = None
    features = None  # validation's features: one vectorizing serves every C of a range
    for ngram_range, c in tfidf_grid(settings):
        if fitted is None or fitted.ngram_range != ngram_range:
            fitted, features = _Fitted(train, ngram_range), None
        model = fitted.model(fitted.regression(c), labels)
        if features is None:
            features = model.features(val_columns)
        probs = model.probabilities_of(features)
        value = metric_of(probs.argmax(1), truth, objective)
        grid.append({"ngram_range": list(ngram_range), "C": c, "validation": value})
        logger.info(
            "TF-IDF %s-grams, C %g: validation %s %.4f", ngram_range, c, objective.metric, value
        )
        if best is None or value > best[0]:
            best = (value, model, probs)
    assert best is not None
    return Tuned(best[1], best[2], best[0], grid, time.perf_counter() - start)
