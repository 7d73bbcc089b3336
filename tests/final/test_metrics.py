"""The final stage's metrics and every model's test scores, typed: old files still read."""

from __future__ import annotations

import json
from pathlib import Path

from hpo.config.reference import DEFAULT_KEPT
from hpo.final.metrics import FinalMetrics, Results, Scores

#: metrics.json as hpo wrote it before study.metric, seeds and the carved test split existed.
OLD = {
    "accuracy": 0.9,
    "n": 200,
    "ci95": [0.86, 0.94],
    "params": {"learning_rate": 3e-5},
    "stop_epoch": 1.0,
    "source": "study 'x' trial 2",
    "train_size": 600,
    "predictions": [1, 0],
    "inputs": {"params": {}, "seeds": 1, "stop_epoch": 1.0},
    "a_key_of_a_newer_hpo": True,
}


def test_an_old_metrics_file_reads_with_defaults(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(OLD))
    metrics = FinalMetrics.read(path)
    assert metrics.accuracy == 0.9 and metrics.ci95 == (0.86, 0.94)
    assert metrics.metric == "accuracy" and metrics.metric_value == 0.9  # accuracy's own
    assert metrics.figure("metric_value") == (0.9, (0.86, 0.94))
    assert metrics.seeds == 1 and metrics.test_accuracy_mean == 0.9
    assert metrics.inputs["stop_epoch"] == 1.0


def test_a_kept_default_is_read_from_its_field_and_from_older_files() -> None:
    assert not FinalMetrics.from_dict(OLD).kept_default()
    why = "trial 3 leads the default by 0.5 points, inside +-3.9"
    new = FinalMetrics.from_dict({**OLD, "source": f"{DEFAULT_KEPT}: {why}", "default_kept": why})
    assert new.kept_default() and new.default_kept == why
    # Written before the field existed: the source alone says it.
    old = FinalMetrics.from_dict({**OLD, "source": f"{DEFAULT_KEPT}: {why}"})
    assert old.kept_default() and old.default_kept == ""
    assert not FinalMetrics.from_dict({**OLD, "source": None}).kept_default()  # none written


def test_the_json_form_round_trips() -> None:
    metrics = FinalMetrics.from_dict(
        {**OLD, "metric": "mcc", "metric_value": 0.5, "metric_ci95": [0.4, 0.6], "seeds": 2}
    )
    again = FinalMetrics.from_dict(json.loads(json.dumps(metrics.to_dict())))
    assert again == metrics
    assert "a_key_of_a_newer_hpo" not in metrics.to_dict()


def test_results_hold_what_exists(tmp_path: Path) -> None:
    baselines = tmp_path / "baselines.json"
    baselines.write_text(
        json.dumps(
            {
                "classical": {
                    "accuracy": 0.8,
                    "n": 200,
                    "ci95": [0.75, 0.85],
                    "predictions": [1, 1],
                },
                "zero_shot": {"applicable": False, "reason": "other labels"},
            }
        )
    )
    results = Results.read(tmp_path / "final.json", tmp_path / "reference.json", baselines)
    assert results.tuned is None and results.reference is None
    assert isinstance(results.classical, Scores) and results.classical.accuracy == 0.8
    assert results.zero_shot is not None and results.zero_shot.scores is None
    assert results.zero_shot.note == "not applicable: other labels"
    assert results.test_size() == 200
