"""The report's pictures: whole axes, labels clear of the error bars, pruned trials shown."""

from __future__ import annotations

import optuna
from optuna.trial import TrialState

from hpo.report.plots import confusion_figure, history_figure, score_figure


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


def test_a_confusion_picture_of_many_classes_stays_readable() -> None:
    few = confusion_figure([[3, 1], [0, 4]], ["neg", "pos"])
    assert len(few.axes[0].texts) == 4  # every cell with its count and share
    names = [f"intent_{i}" for i in range(77)]
    matrix = [[5 if i == j else 0 for j in range(77)] for i in range(77)]
    many = confusion_figure(matrix, names)
    assert len(many.axes[0].texts) == 0  # shares as colour only: 5,929 numbers are no picture
    width, height = many.get_size_inches()
    assert max(width, height) <= 13.2 and width * many.dpi < 2000
