"""The final report says what the figures show: whole axes, pruned trials, paired tests."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from hpo.metrics import mcnemar
from hpo.plots import history_figure, score_figure
from hpo.report import (
    _overlap_section,
    _seconds,
    paired_comparison,
)


def _result(predictions: list[int], labels: list[int]) -> dict:
    acc = float(np.mean(np.asarray(predictions) == np.asarray(labels)))
    return {"accuracy": acc, "ci95": [acc - 0.02, min(1.0, acc + 0.02)], "predictions": predictions}


def test_accuracy_bars_start_at_zero_and_labels_clear_the_error_bars() -> None:
    rows = [
        ("classical: TF-IDF", 0.903, [0.8995, 0.9066]),
        ("tuned", 0.8696, [0.8656, 0.8737]),
    ]
    fig = score_figure(rows)
    ax = fig.axes[0]
    assert ax.get_xlim()[0] == 0.0 and ax.get_xlim()[1] >= 1.0
    texts = sorted(ax.texts, key=lambda t: t.get_position()[1])
    assert [t.get_text() for t in texts] == ["90.3%", "87.0%"]
    for text, (_, _, ci) in zip(texts, rows, strict=True):
        assert text.get_position()[0] > ci[1], "the label sits past the error bar's end"


def test_history_shows_pruned_trials() -> None:
    study = optuna.create_study(direction="maximize")
    dist = optuna.distributions.FloatDistribution(0.0, 1.0)
    for value in (0.7, 0.8):
        study.add_trial(
            optuna.create_trial(value=value, params={"x": 0.5}, distributions={"x": dist})
        )
    study.add_trial(
        optuna.create_trial(
            state=TrialState.PRUNED,
            params={"x": 0.1},
            distributions={"x": dist},
            intermediate_values={100: 0.55, 200: 0.6},
        )
    )
    ax = history_figure(study).axes[0]
    points = {
        coll.get_label(): coll.get_offsets().tolist() for coll in ax.collections if coll.get_label()
    }
    assert points["complete"] == [[0.0, 0.7], [1.0, 0.8]]
    assert points["pruned (best accuracy before it was stopped)"] == [[2.0, 0.6]]


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


def test_paired_comparison_says_whether_a_difference_is_significant() -> None:
    labels = [1] * 1000
    strong = _result([1] * 900 + [0] * 100, labels)
    weak = _result([1] * 800 + [0] * 200, labels)
    # 1 point lower, but right where the strong one is wrong often enough to be chance.
    near = _result([1] * 845 + [0] * 55 + [1] * 45 + [0] * 55, labels)
    text = paired_comparison("the tuned model", strong, "the classical baseline", weak, labels)
    assert text.startswith("The tuned model scores 10.00 points higher than the classical")
    assert "significant at the 5% level" in text and "not significant" not in text
    text = paired_comparison("the tuned model", strong, "the reference setup", near, labels)
    assert "not significant at the 5% level; the difference could be chance" in text
    no_preds = {k: v for k, v in weak.items() if k != "predictions"}
    text = paired_comparison("the tuned model", strong, "the reference setup", no_preds, labels)
    assert "no paired test" in text


def test_overlap_section_reports_what_the_data_shows(make_config) -> None:
    from hpo.load import load_config

    config = load_config(make_config())
    none = "\n".join(_overlap_section([], config))
    assert "No text appears in both" in none and "<details>" not in none
    some = "\n".join(_overlap_section([("a", True), ("b", False), ("c", True)], config))
    assert "3 distinct texts appear in both" in some and "2 of them with the same label" in some
    assert "IMDb" not in some


def test_seconds_never_says_zero() -> None:
    assert _seconds(0.04) == "under 0.1 s" and _seconds(3.14) == "3.1 s"
