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
