"""Test statistics: numpy metrics agree with evaluate, bootstrap intervals, McNemar's test."""

from __future__ import annotations

import numpy as np
import pytest

from hpo.final.scoring import bootstrap_intervals, confusion, mcnemar, metric_from_confusion, score
from hpo.train.objective import Objective


@pytest.mark.parametrize("metric", ["accuracy", "macro_f1", "weighted_f1", "mcc", "f1"])
def test_numpy_metrics_agree_with_the_evaluate_modules(metric: str) -> None:
    rng = np.random.default_rng(0)
    k = 2 if metric == "f1" else 4
    labels = rng.integers(0, k, 300)
    predictions = np.where(rng.random(300) < 0.7, labels, rng.integers(0, k, 300))
    predictions[predictions == k - 1] = 0  # a class never predicted scores F1 0
    objective = Objective(metric, k, positive=0 if metric == "f1" else None)
    via_numpy = metric_from_confusion(confusion(predictions, labels, k)[None], objective)[0]
    assert via_numpy == pytest.approx(objective.compute(predictions, labels), abs=1e-12)


def test_score_reports_the_metric_with_its_interval_and_per_class() -> None:
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 2] * 20)
    predictions = np.array([0, 0, 1, 1, 1, 2, 2, 2, 0, 2] * 20)
    result = score(predictions, labels, ["a", "b", "c"], Objective("macro_f1", 3))
    assert result["metric"] == "macro_f1"
    low, high = result["metric_ci95"]
    assert low < result["metric_value"] < high
    assert result["per_class"]["b"] == {
        "precision": pytest.approx(2 / 3, abs=1e-6),
        "recall": 1.0,
        "f1": 0.8,
        "support": 40,
    }
    assert result["confusion_matrix"]["rows_true_cols_pred"][0] == [40, 20, 0]


def bootstrap_ci(correct: np.ndarray) -> tuple[float, float]:
    """The accuracy interval of a model that got exactly ``correct`` right."""
    predictions = np.asarray(correct, dtype=int)
    accuracy = Objective("accuracy", 2)
    return bootstrap_intervals(predictions, np.ones_like(predictions), [accuracy])[0]


def test_bootstrap_interval() -> None:
    correct = np.array([1.0] * 90 + [0.0] * 10)
    low, high = bootstrap_ci(correct)
    assert low < 0.9 < high and low > 0.8 and high < 0.97
    assert bootstrap_ci(np.ones(50)) == (1.0, 1.0)


def test_mcnemar_counts_only_the_disagreements() -> None:
    a = [1] * 50 + [1] * 10 + [0] * 2 + [0] * 38
    b = [1] * 50 + [0] * 10 + [1] * 2 + [0] * 38
    result = mcnemar(a, b)
    assert (result["n"], result["a_only"], result["b_only"]) == (100, 10, 2)
    # Two-sided exact binomial: P(X <= 2) * 2 for X ~ Bin(12, 0.5) = 2 * 79 / 4096.
    assert result["p_value"] == pytest.approx(2 * 79 / 4096)
    assert mcnemar([1, 0], [1, 0])["p_value"] == 1.0
    with pytest.raises(ValueError, match="same examples"):
        mcnemar([1, 0], [1])


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        # 12 examples only a gets right, none only b: p = 2 * 0.5**12.
        ([1] * 12 + [0] * 8, [0] * 20, ("better than", True)),
        ([0] * 20, [1] * 12 + [0] * 8, ("worse than", True)),
        ([1, 0, 1, 0] * 5, [0, 1, 0, 1] * 5, ("not significantly different from", False)),
    ],
)
def test_the_verdict_reads_the_paired_test_at_one_level(
    a: list[int], b: list[int], expected: tuple[str, bool]
) -> None:
    from hpo.final.scoring import ALPHA, Verdict

    labels = [1] * 20
    verdict = Verdict.paired(a, b, labels)
    assert verdict is not None and verdict.alpha == ALPHA
    assert (verdict.a_is(), verdict.significant) == expected
    assert ("could be chance" in verdict.reading()) is not verdict.significant
    assert Verdict.paired(a[:-1], b, labels) is None  # predictions of another test split
    assert Verdict.paired(None, b, labels) is None  # an old results file without them
