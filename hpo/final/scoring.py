"""Test statistics of a model scored once on the test split: accuracy and the study's metric
with 95% bootstrap intervals, per-class precision, recall and F1, the confusion matrix, and
McNemar's paired test of two models on the same examples."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hpo.train.objective import Objective, accuracy


def mcnemar(correct_a: Any, correct_b: Any) -> dict[str, Any]:
    """McNemar's exact test of two models scored on the same examples.

    ``correct_a``/``correct_b``: per-example 0/1 (or bool) correctness, in the same order.
    Only the examples where exactly one model is right count: ``a_only`` and ``b_only``. Under
    "the models are equally accurate" each such example is a fair coin, so the two-sided p-value
    is a binomial test of ``a_only`` out of ``a_only + b_only``.
    """
    from scipy.stats import binomtest

    a = np.asarray(correct_a, dtype=bool)
    b = np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"paired test needs the same examples, got {a.shape} and {b.shape}")
    a_only, b_only = int((a & ~b).sum()), int((~a & b).sum())
    discordant = a_only + b_only
    p_value = binomtest(a_only, discordant, 0.5).pvalue if discordant else 1.0
    return {"n": int(a.size), "a_only": a_only, "b_only": b_only, "p_value": float(p_value)}


#: The level every paired test of hpo is read at: the model card, the report and its findings.
ALPHA = 0.05


@dataclass(frozen=True)
class Verdict:
    """McNemar's exact test of model *a* against model *b* on the same test examples, and how it
    reads: the one place for the test, its level and its sentence."""

    #: Paired examples.
    n: int
    #: Examples only *a* got right, and only *b*.
    a_only: int
    b_only: int
    #: Two-sided p-value.
    p_value: float
    alpha: float = ALPHA

    @classmethod
    def paired(cls, predictions_a: Any, predictions_b: Any, labels: Any) -> Verdict | None:
        """The test of two models' predictions against ``labels``; None where either has no
        prediction for every example (an old results file, another test split)."""
        truth = np.asarray(labels)
        if predictions_a is None or predictions_b is None or not len(truth):
            return None
        a, b = np.asarray(predictions_a), np.asarray(predictions_b)
        if a.shape != truth.shape or b.shape != truth.shape:
            return None
        return cls(**mcnemar(a == truth, b == truth))

    @property
    def significant(self) -> bool:
        """Whether the difference is significant at :attr:`alpha`."""
        return self.p_value < self.alpha

    @property
    def level(self) -> str:
        """The level in words: ``5%``."""
        return f"{self.alpha:.0%}"

    def a_is(self) -> str:
        """*a* against *b*: ``better than``, ``worse than`` or ``not significantly different
        from``."""
        if not self.significant:
            return "not significantly different from"
        return "better than" if self.a_only > self.b_only else "worse than"

    def reading(self) -> str:
        """What the test says, as the end of a sentence."""
        if self.significant:
            return f"the difference is significant at the {self.level} level."
        return f"not significant at the {self.level} level; the difference could be chance."


#: Resamples of the bootstrap confidence interval.
BOOTSTRAP_SAMPLES = 1000


def score(
    predictions: np.ndarray,
    labels: np.ndarray,
    label_names: Sequence[str],
    objective: Objective | None = None,
) -> dict[str, Any]:
    """Test scores of one model: accuracy and the objective's metric (through ``evaluate``),
    each with its 95% bootstrap CI, n, per-class precision/recall/F1 and the confusion matrix.
    """
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    n_classes = len(label_names)
    objective = objective or Objective("accuracy", n_classes)
    # One resampling serves both intervals: the same resampled test sets score both metrics.
    acc_ci, metric_ci = bootstrap_intervals(
        predictions, labels, [Objective("accuracy", n_classes), objective]
    )
    matrix = confusion(predictions, labels, n_classes)
    acc = accuracy(predictions, labels)
    return {
        "accuracy": acc,
        "n": len(labels),
        "ci95": [round(acc_ci[0], 6), round(acc_ci[1], 6)],
        "metric": objective.metric,
        "metric_value": acc
        if objective.metric == "accuracy"
        else objective.compute(predictions, labels),
        "metric_ci95": [round(metric_ci[0], 6), round(metric_ci[1], 6)],
        "confusion_matrix": {"labels": list(label_names), "rows_true_cols_pred": matrix.tolist()},
        "per_class": per_class(matrix, label_names),
    }


def metric_of(predictions: Any, labels: Any, objective: Objective) -> float:
    """``objective``'s metric of predicted against true class ids (in numpy, as the bootstrap
    computes it)."""
    matrix = confusion(np.asarray(predictions), np.asarray(labels), objective.n_classes)
    return float(metric_from_confusion(matrix[None], objective)[0])


def confusion(predictions: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts by (true class, predicted class)."""
    flat = np.asarray(labels) * n_classes + np.asarray(predictions)
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def per_class(matrix: np.ndarray, label_names: Sequence[str]) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support of each class, from a confusion matrix."""
    precision, recall, f1 = _prf(matrix[None])
    support = matrix.sum(axis=1)
    return {
        name: {
            "precision": round(float(precision[0, i]), 6),
            "recall": round(float(recall[0, i]), 6),
            "f1": round(float(f1[0, i]), 6),
            "support": int(support[i]),
        }
        for i, name in enumerate(label_names)
    }


def _prf(cms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # Per class of each (B, N, N) matrix; an empty denominator scores 0, as scikit-learn's
    # zero_division=0 does.
    tp = np.diagonal(cms, axis1=1, axis2=2).astype(np.float64)
    predicted, actual = cms.sum(axis=1), cms.sum(axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(actual > 0, tp / actual, 0.0)
        f1 = np.where(predicted + actual > 0, 2 * tp / (predicted + actual), 0.0)
    return precision, recall, f1


def metric_from_confusion(cms: np.ndarray, objective: Objective) -> np.ndarray:
    """The objective's metric of each of a stack of confusion matrices (B, N, N), in numpy:
    the bootstrap needs it a thousand times, and the ``evaluate`` modules one at a time."""
    cms = np.asarray(cms)
    total = cms.sum(axis=(1, 2)).astype(np.float64)
    if objective.metric == "accuracy":
        return np.trace(cms, axis1=1, axis2=2) / total
    if objective.metric == "mcc":
        t, p = cms.sum(axis=2).astype(np.float64), cms.sum(axis=1).astype(np.float64)
        c = np.trace(cms, axis1=1, axis2=2).astype(np.float64)
        cov = c * total - (t * p).sum(axis=1)
        denom = np.sqrt((total**2 - (p * p).sum(axis=1)) * (total**2 - (t * t).sum(axis=1)))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(denom > 0, cov / denom, 0.0)
    _, _, f1 = _prf(cms)
    if objective.metric == "f1":
        return f1[:, objective.positive]
    if objective.metric == "macro_f1":
        return f1.mean(axis=1)
    support = cms.sum(axis=2)
    return (f1 * support).sum(axis=1) / support.sum(axis=1)


def bootstrap_intervals(
    predictions: np.ndarray,
    labels: np.ndarray,
    objectives: Sequence[Objective],
    *,
    samples: int = BOOTSTRAP_SAMPLES,
    seed: int = 0,
) -> list[tuple[float, float]]:
    """95% percentile bootstrap interval of each objective's metric, all from the same
    ``samples`` resamples of the test examples (seeded)."""
    rng = np.random.default_rng(seed)
    n, k = len(labels), objectives[0].n_classes
    flat = np.asarray(labels) * k + np.asarray(predictions)
    values: list[list[np.ndarray]] = [[] for _ in objectives]
    for start in range(0, samples, 100):  # 100 resamples at a time bounds the memory
        rows = min(100, samples - start)
        idx = rng.integers(0, n, size=(rows, n))
        cells = flat[idx] + (np.arange(rows) * k * k)[:, None]
        cms = np.bincount(cells.ravel(), minlength=rows * k * k).reshape(rows, k, k)
        for objective, out in zip(objectives, values, strict=True):
            out.append(metric_from_confusion(cms, objective))
    intervals = []
    for out in values:
        low, high = np.percentile(np.concatenate(out), [2.5, 97.5])
        intervals.append((float(low), float(high)))
    return intervals
