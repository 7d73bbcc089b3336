"""Accuracy through ``evaluate``, offline: the metric module ships inside the package."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import evaluate
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
