"""Logits of a split come back in the split's own order, however the batches were sorted."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from datasets import Dataset

from hpo.train.inference import predict_logits


class _Trainer:
    """Predicts the example's own id as its logit: any reordering shows."""

    def predict(self, dataset: Dataset) -> SimpleNamespace:
        ids = np.asarray(dataset["id"], dtype=float)
        return SimpleNamespace(predictions=ids[:, None], label_ids=np.asarray(dataset["label"]))


def test_original_order_is_restored() -> None:
    data = Dataset.from_dict({"id": [0, 1, 2, 3], "length": [9, 2, 5, 2], "label": [1, 0, 1, 0]})
    logits, labels, seconds = predict_logits(_Trainer(), data)
    assert logits[:, 0].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert labels.tolist() == [1, 0, 1, 0] and seconds >= 0
