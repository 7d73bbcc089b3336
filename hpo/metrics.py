"""Scores: accuracy through ``evaluate`` (offline: the metric module ships inside the package),
its bootstrap interval, the confusion matrix, and McNemar's paired test of two models."""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import evaluate
    from datasets import Dataset
    from transformers import EvalPrediction

_ACCURACY_MODULE = Path(__file__).parent / "_metrics" / "accuracy" / "accuracy.py"


@lru_cache(maxsize=1)
def accuracy_metric() -> evaluate.EvaluationModule:
    """The ``evaluate`` accuracy module, loaded from its local path (no Hub round trip)."""
    import evaluate

    return evaluate.load(str(_ACCURACY_MODULE))


def compute_metrics(eval_pred: EvalPrediction) -> dict[str, float]:
    """Trainer's ``compute_metrics``: argmax of the logits against the labels."""
    logits, labels = eval_pred.predictions, eval_pred.label_ids
    if isinstance(logits, tuple):
        logits = logits[0]
    predictions = np.asarray(logits).argmax(axis=-1)
    return accuracy_metric().compute(predictions=predictions, references=np.asarray(labels))


def compute_objective(metrics: dict[str, float]) -> float:
    """The search objective: validation accuracy."""
    return float(metrics["eval_accuracy"])


def accuracy(predictions: Any, references: Any) -> float:
    """Plain accuracy of two label sequences, through the same ``evaluate`` module."""
    return float(
        accuracy_metric().compute(predictions=predictions, references=references)["accuracy"]
    )


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


#: Resamples of the bootstrap confidence interval.
BOOTSTRAP_SAMPLES = 1000


def bootstrap_ci(
    correct: np.ndarray, *, samples: int = BOOTSTRAP_SAMPLES, seed: int = 0
) -> tuple[float, float]:
    """95% percentile bootstrap interval of the mean of a 0/1 vector."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(correct), size=(samples, len(correct)))
    means = correct[idx].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def score(
    predictions: np.ndarray, labels: np.ndarray, label_names: Sequence[str]
) -> dict[str, Any]:
    """Test accuracy (through ``evaluate``), n, 95% bootstrap CI and confusion matrix."""
    correct = (predictions == labels).astype(np.float64)
    low, high = bootstrap_ci(correct)
    matrix = [
        [int(((labels == t) & (predictions == p)).sum()) for p in range(len(label_names))]
        for t in range(len(label_names))
    ]
    return {
        "accuracy": accuracy(predictions.tolist(), labels.tolist()),
        "n": len(labels),
        "ci95": [round(low, 6), round(high, 6)],
        "confusion_matrix": {"labels": list(label_names), "rows_true_cols_pred": matrix},
    }


def predict_logits(trainer: Any, dataset: Dataset) -> tuple[np.ndarray, np.ndarray, float]:
    """Logits and labels of ``dataset`` in its original order, and the seconds it took.

    Batches are built in length order (less padding); the order does not change a prediction.
    """
    order = np.argsort(np.asarray(dataset["length"]), kind="stable")
    start = time.perf_counter()
    output = trainer.predict(dataset.select(order))
    seconds = time.perf_counter() - start
    logits = np.empty_like(output.predictions)
    logits[order] = output.predictions
    labels = np.empty_like(output.label_ids)
    labels[order] = output.label_ids
    return logits, labels, seconds
