"""What a trial maximizes: ``study.metric`` through ``evaluate`` (offline: the metric modules
ship inside the package), Trainer's ``compute_metrics``, and plain accuracy."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hpo.config.schema import METRICS
from hpo.errors import ConfigError

if TYPE_CHECKING:
    import evaluate
    from transformers import EvalPrediction

_MODULES = Path(__file__).resolve().parent.parent / "_metrics"


@cache
def evaluate_module(name: str) -> evaluate.EvaluationModule:
    """A shipped ``evaluate`` module (accuracy, f1, matthews_correlation), loaded from its local
    path (no Hub round trip)."""
    import evaluate

    return evaluate.load(str(_MODULES / name / f"{name}.py"))


def accuracy_metric() -> evaluate.EvaluationModule:
    """The ``evaluate`` accuracy module."""
    return evaluate_module("accuracy")


@dataclass(frozen=True)
class Objective:
    """What a trial maximizes: ``metric`` (a key of :data:`hpo.config.schema.METRICS`) over
    ``n_classes`` classes; ``positive`` is the class id that ``f1`` scores."""

    metric: str
    n_classes: int
    positive: int | None = None

    @property
    def title(self) -> str:
        """The metric as messages and plots name it, e.g. "macro-F1"."""
        return METRICS[self.metric]

    def compute(self, predictions: Any, references: Any) -> float:
        """The metric of two label sequences, through its ``evaluate`` module."""
        predictions, references = list(predictions), list(references)
        if self.metric == "accuracy":
            module, kwargs = "accuracy", {}
        elif self.metric == "mcc":
            module, kwargs = "matthews_correlation", {}
        elif self.metric == "f1":
            module, kwargs = "f1", {"average": "binary", "pos_label": self.positive}
        else:
            average = self.metric.split("_")[0]
            module, kwargs = "f1", {"average": average, "labels": list(range(self.n_classes))}
        result = evaluate_module(module).compute(
            predictions=predictions, references=references, **kwargs
        )
        return float(next(iter(result.values())))


def objective_for(
    metric: str, labels: Sequence[str], *, positive_label: str | int | None = None
) -> Objective:
    """The objective ``metric`` (``study.metric``) on data with classes ``labels`` (names by id).

    ``f1`` needs two classes; its positive class is ``positive_label`` (``data.positive_label``,
    a name), by default the second label.
    """
    if metric == "f1":
        if len(labels) != 2:
            raise ConfigError(
                "study.metric: f1 is the F1 of one positive class, for two classes; "
                f"this data has {len(labels)} ({', '.join(labels)}). Use macro_f1 or "
                "weighted_f1."
            )
        if positive_label is None:
            return Objective(metric, 2, positive=1)
        if str(positive_label) not in labels:
            raise ConfigError(
                f"data.positive_label: {positive_label!r} is not a class of this data; the "
                f"classes are {', '.join(labels)}."
            )
        return Objective(metric, 2, positive=list(labels).index(str(positive_label)))
    return Objective(metric, len(labels))


def make_compute_metrics(objective: Objective) -> Callable[[EvalPrediction], dict[str, float]]:
    """Trainer's ``compute_metrics``: accuracy and the objective's metric, from the argmax of
    the logits."""

    def compute_metrics(eval_pred: EvalPrediction) -> dict[str, float]:
        logits, labels = eval_pred.predictions, eval_pred.label_ids
        if isinstance(logits, tuple):
            logits = logits[0]
        predictions = np.asarray(logits).argmax(axis=-1)
        labels = np.asarray(labels)
        out = {"accuracy": accuracy(predictions, labels)}
        if objective.metric != "accuracy":
            out[objective.metric] = objective.compute(predictions, labels)
        return out

    return compute_metrics


def objective_value(metrics: dict[str, float], objective: Objective) -> float:
    """The objective from Trainer's evaluation metrics (``eval_<metric>``)."""
    return float(metrics[f"eval_{objective.metric}"])


def accuracy(predictions: Any, references: Any) -> float:
    """Plain accuracy of two label sequences, through the ``evaluate`` accuracy module."""
    return float(
        accuracy_metric().compute(predictions=list(predictions), references=list(references))[
            "accuracy"
        ]
    )
