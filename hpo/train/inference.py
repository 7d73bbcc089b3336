"""Logits of a tokenized split through a Trainer, in the split's own order."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from datasets import Dataset


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
